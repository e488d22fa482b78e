/** Summaries of a list of measurements. */

/** The arithmetic mean; `undefined` for no values. */
export function mean(values: readonly number[]): number | undefined {
  if (values.length === 0) {
    return undefined;
  }
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** The middle value once sorted (the mean of the two middle ones for an even count); `undefined` for no values. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) {
    return undefined;
  }
  const sorted = [...values].sort();
  return sorted[Math.floor(sorted.length / 2)];
}
