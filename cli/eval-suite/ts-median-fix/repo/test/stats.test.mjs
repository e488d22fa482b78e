import { test } from "node:test";
import assert from "node:assert/strict";
import { mean, median } from "../dist/stats.js";

test("mean", () => {
  assert.equal(mean([1, 2, 3]), 2);
  assert.equal(mean([]), undefined);
});

test("median of one value", () => {
  assert.equal(median([5]), 5);
  assert.equal(median([]), undefined);
});
