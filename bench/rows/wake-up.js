'use strict';
// How soon a waiter in another process holds the lock once its holder released it.
const { scaled, HANDOVERS, fsne, uniqueName, lockPath, percentile, floor, line, peer, expectLine } = require('../measure');

/** Two peers hand the lock back and forth; each sample is release → acquired, in ns. */
async function handOvers(pair, n) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const [holder, waiter] = i % 2 ? [pair[1], pair[0]] : pair;
    waiter.send('wait');
    await expectLine(waiter, 'armed');
    await new Promise((r) => setTimeout(r, 2)); // let the waiter go idle in epoll
    holder.send('release');
    const released = BigInt(await expectLine(holder, 'released'));
    const acquired = BigInt(await expectLine(waiter, 'acquired'));
    samples.push(Number(acquired - released));
  }
  return samples;
}

async function wakeUp() {
  const row = 'wake-up after the holder releases (another process)';
  const kinds = [
    ['abstract', uniqueName(), 'lockAbstract({ wait: true })', 'wake-abstract'],
    ['file', lockPath(), 'lockFile({ wait: true })', 'wake-file'],
  ];
  if (!fsne.missing) kinds.push(['fsne', lockPath(), 'fs-native-extensions waitForLock (a thread per wait)', null]);
  const pairs = [];
  for (const [kind, target] of kinds) {
    const pair = [peer(['wake', kind, target]), peer(['wake', kind, target])];
    if ((await pair[0].ask('take')) !== 'held') throw new Error(`wake ${kind}: first take failed`);
    pairs.push(pair);
  }
  const samples = kinds.map(() => []);
  const floors = { 'wake-abstract': [], 'wake-file': [] };
  for (let r = 0; r < scaled(4, 1); r++) {
    for (let k = 0; k < kinds.length; k++) {
      samples[k].push(...(await handOvers(pairs[k], HANDOVERS)));
      const floorCaseName = kinds[k][3];
      if (floorCaseName) {
        const target = kinds[k][0] === 'abstract' ? uniqueName() : lockPath();
        floors[floorCaseName].push(...floor(floorCaseName, HANDOVERS, target).samples);
      }
    }
  }
  for (const pair of pairs) for (const child of pair) child.kill();
  for (let k = 0; k < kinds.length; k++) {
    const [kind, , measure, floorCaseName] = kinds[k];
    const f = floorCaseName ? floors[floorCaseName] : undefined;
    // The goals: p50 within 0.1 ms, p99 within 0.5 ms (fs-native-extensions is only reported).
    for (const [p, limit] of [[50, 100e3], [99, 500e3]]) {
      const value = percentile(samples[k], p);
      line(row, `${measure} p${p}`, {
        value,
        against: f && percentile(f, p),
        anchor: f && 'C floor: blocked in the kernel',
        goal: kind === 'fsne' ? undefined : { absMax: limit },
        pass: kind === 'fsne' ? undefined : value <= limit,
      });
    }
  }
}

module.exports = wakeUp;
