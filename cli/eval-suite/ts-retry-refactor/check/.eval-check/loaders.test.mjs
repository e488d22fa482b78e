import { test } from "node:test";
import assert from "node:assert/strict";
import { ATTEMPTS, loadOrder, loadUser, withRetry } from "../dist/loaders.js";

function flaky(failures, value) {
  let calls = 0;
  const load = async () => {
    calls += 1;
    if (calls <= failures) {
      throw new Error(`failure ${calls}`);
    }
    return value;
  };
  return { load, calls: () => calls };
}

test("withRetry returns the first success", async () => {
  const { load, calls } = flaky(2, "ok");
  assert.equal(await withRetry(3, load), "ok");
  assert.equal(calls(), 3);
});

test("withRetry throws the last error", async () => {
  const { load, calls } = flaky(5, "never");
  await assert.rejects(withRetry(2, load), /failure 2/);
  assert.equal(calls(), 2);
});

test("the loaders keep their attempts", async () => {
  const user = flaky(ATTEMPTS - 1, { id: "u1", name: "Ada" });
  assert.deepEqual(await loadUser(async () => user.load(), "u1"), { id: "u1", name: "Ada" });
  const order = flaky(ATTEMPTS, { id: 1, total: 5 });
  await assert.rejects(loadOrder(async () => order.load(), 1), new RegExp(`failure ${ATTEMPTS}`));
  assert.equal(order.calls(), ATTEMPTS);
});
