'use strict';
// Small statistics shared by the runner (ESM, in this repository) and the benchmark program that runs
// inside the generated service (CommonJS, copied there). No dependencies.

/** Nearest-rank percentile (p in 0..100) of an ascending array. */
function percentile(sorted, p) {
  if (sorted.length === 0) throw new Error('percentile of no samples');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function median(values) {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** One figure: the median of its repetitions, with their min and max, and every repetition's value. */
function figure(unit, repetitions, extra = {}) {
  return {
    unit,
    median: median(repetitions),
    min: Math.min(...repetitions),
    max: Math.max(...repetitions),
    repetitions,
    ...extra,
  };
}

module.exports = { percentile, median, figure };
