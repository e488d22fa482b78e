// Every exported function in src/units.ts has a TSDoc comment right above it, with an
// @param for each of its parameters and an @returns.
import { readFileSync } from "node:fs";

const source = readFileSync("src/units.ts", "utf8");
const problems = [];
const exported = /export\s+(?:async\s+)?function\s+(\w+)\s*(?:<[^>]*>)?\s*\(([^)]*)\)/g;
let found = 0;
for (const match of source.matchAll(exported)) {
  found += 1;
  const [, name, params] = match;
  const before = source.slice(0, match.index).trimEnd();
  if (!before.endsWith("*/")) {
    problems.push(`${name} has no doc comment right above it`);
    continue;
  }
  const comment = before.slice(before.lastIndexOf("/**"));
  for (const param of params.split(",").map((p) => p.trim()).filter(Boolean)) {
    const paramName = param.split(/[?:=\s]/)[0];
    if (!new RegExp(`@param\\s+(?:\\{[^}]*\\}\\s*)?${paramName}\\b`).test(comment)) {
      problems.push(`${name}'s comment has no @param ${paramName}`);
    }
  }
  if (!/@returns?\b/.test(comment)) {
    problems.push(`${name}'s comment has no @returns`);
  }
}
if (found < 4) {
  problems.push(`found ${found} exported functions in src/units.ts; 4 expected`);
}
for (const problem of problems) {
  console.log(problem);
}
process.exit(problems.length === 0 ? 0 : 1);
