// The job page's live log: appends the lines the server streams (Server-Sent Events,
// GET /jobs/{id}/log/stream) to the page's log list. Without JavaScript the list is the
// log as it was when the page was made; reloading shows more.
(function () {
  "use strict";
  var list = document.getElementById("log");
  if (!list || !window.EventSource || !list.dataset.stream) {
    return;
  }
  var note = document.getElementById("log-status");
  var source = new EventSource(list.dataset.stream);
  source.addEventListener("lines", function (event) {
    event.data.split("\n").forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
    list.hidden = false;
  });
  source.addEventListener("end", function (event) {
    source.close();
    if (note) {
      note.textContent = "The job is " + event.data + ". Reload the page for its final state.";
    }
  });
})();
