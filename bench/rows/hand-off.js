'use strict';
// Four processes handing one lock around as fast as they can.
const { QUICK, scaled, fsneWaits: fsne, uniqueName, lockPath, median, line, ratioOf, peer } = require('../measure');

const RING_MS = QUICK ? 150 : 1000;
const RING_ROUNDS = scaled(3, 1);

async function ring() {
  const row = '4 processes handing one lock around';
  const kinds = [
    ['abstract', () => uniqueName(), 'lockAbstract'],
    ['file', () => lockPath(), 'lockFile'],
  ];
  if (fsne.missing) line(row, 'fs-native-extensions', { value: fsne.missing });
  else kinds.push(['fsne', () => lockPath(), 'fs-native-extensions waitForLock']);
  const totals = kinds.map(() => ({ handoffs: [], acquisitions: [] }));
  for (let r = 0; r < RING_ROUNDS; r++) {
    for (let k = 0; k < kinds.length; k++) {
      const [kind, targetOf] = kinds[(k + r) % kinds.length];
      const target = targetOf();
      const last = lockPath();
      const procs = [1, 2, 3, 4].map((id) => peer(['ring', kind, target, String(id), last, String(RING_MS)]));
      await new Promise((resolve) => setTimeout(resolve, QUICK ? 200 : 500)); // all four loaded
      for (const p of procs) p.send('go');
      const results = await Promise.all(procs.map(async (p) => JSON.parse(await p.next())));
      const sum = (key) => results.reduce((s, x) => s + x[key], 0) / (RING_MS / 1000);
      totals[(k + r) % kinds.length].handoffs.push(sum('handoffs'));
      totals[(k + r) % kinds.length].acquisitions.push(sum('acquisitions'));
    }
  }
  const fsneIndex = kinds.findIndex(([kind]) => kind === 'fsne');
  for (let k = 0; k < kinds.length; k++) {
    const t = totals[k];
    const vs = fsneIndex >= 0 && k !== fsneIndex ? totals[fsneIndex] : undefined;
    line(row, `${kinds[k][2]}: hand-offs/s (acquisitions/s ${Math.round(median(t.acquisitions))})`, {
      value: median(t.handoffs),
      unit: '/s',
      against: vs && median(vs.handoffs),
      anchor: vs && 'fs-native-extensions',
      ratio: vs ? ratioOf(t.handoffs, vs.handoffs) : undefined,
    });
  }
}

module.exports = ring;
