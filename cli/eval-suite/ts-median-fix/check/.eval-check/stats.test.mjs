import { test } from "node:test";
import assert from "node:assert/strict";
import { median } from "../dist/stats.js";

test("numbers are sorted as numbers", () => {
  assert.equal(median([10, 9, 2]), 9);
  assert.equal(median([100, 25, 3, 7, 50]), 25);
});

test("an even count gives the mean of the middle values", () => {
  assert.equal(median([1, 2, 3, 4]), 2.5);
  assert.equal(median([4, 1]), 2.5);
});

test("the input is left as it was", () => {
  const values = [3, 1, 2];
  median(values);
  assert.deepEqual(values, [3, 1, 2]);
});
