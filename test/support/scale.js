'use strict';
// Short runs in `npm test`, long ones under SOLELY_STRESS=1 (`npm run test:stress`). Figures go
// to the file named by SOLELY_STRESS_RESULTS (one JSON object per line), which the stress runner
// collects; without it they are dropped.
const fs = require('node:fs');

const STRESS = process.env.SOLELY_STRESS === '1';

/** The short count in `npm test`, the long one under stress. */
function scale(short, stress) {
  return STRESS ? stress : short;
}

/** Records a figure for the stress report: suite, kind, and measured values. */
function record(suite, kind, figures) {
  const file = process.env.SOLELY_STRESS_RESULTS;
  if (!file) return;
  // One short append per record: O_APPEND keeps concurrent suites' lines whole.
  fs.appendFileSync(file, `${JSON.stringify({ suite, kind, ...figures })}\n`);
}

/** The q-quantile (0..1) of numbers, nearest rank. */
function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

module.exports = { STRESS, scale, record, quantile };
