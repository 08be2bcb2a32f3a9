'use strict';
// What 64 pending waits cost the rest of the process: thread-pool work and event-loop gaps.
const { QUICK, scaled, fsneWaits: fsne, fsExt, uniqueName, lockPath, median, line, ratioOf, judge, peer } = require('../measure');

async function pendingWaits() {
  const row = '64 pending waits: fs.promises.stat time vs none pending';
  const gapRow = 'longest event-loop gap while waiting';
  const windowMs = QUICK ? 50 : 300; // longer than the fallback poll, so its timers fire inside
  const holderName = uniqueName();
  const file = lockPath();
  const ofdFile = lockPath(); // fs-native-extensions takes OFD locks, which ignore flock's
  const holders = [peer(['wake', 'abstract', holderName]), peer(['wake', 'file', file]), peer(['wake', 'fcntl', ofdFile])];
  for (const h of holders) if ((await h.ask('take')) !== 'held') throw new Error('pending: holder failed');
  const kinds = [
    ['abstract', holderName, 'lockAbstract'],
    ['file', file, 'lockFile'],
  ];
  if (fsne.missing) line(row, 'fs-native-extensions', { value: fsne.missing });
  else kinds.push(['fsne', ofdFile, 'fs-native-extensions waitForLock']);
  if (!fsExt.missing) kinds.push(['fs-ext', file, 'fs-ext flock (thread pool)']);
  for (const [kind, target, measure] of kinds) {
    const child = peer(['pending', kind, target, String(QUICK ? 50 : 400), String(scaled(8, 2)), String(windowMs)]);
    const result = JSON.parse(await child.next());
    const ours = kind === 'abstract' || kind === 'file';
    const blocked = result.pending.includes(null);
    const ratio = blocked ? null : ratioOf(result.pending, result.base);
    line(row, measure, {
      value: blocked ? 'stat never finished (pool threads blocked)' : median(result.pending),
      against: median(result.base),
      anchor: 'none pending',
      ratio,
      goal: ours ? { max: 1.2 } : undefined,
      pass: ours ? judge(ratio, { max: 1.2 }) : undefined,
    });
    if (ours) {
      // The longest gap of each window, its median over the rounds: the machine's own hiccups
      // (a shared two-core VM) make the longest of all a measure of the neighbours.
      const gap = median(result.gapsMs);
      const baseGap = median(result.baseGapsMs);
      line(gapRow, `${measure}, 64 pending (median of ${result.gapsMs.length} windows)`, {
        value: gap,
        unit: 'ms',
        against: baseGap,
        anchor: 'none pending, same process',
        goal: { plusMax: 0.5 },
        pass: gap <= baseGap + 0.5,
      });
    }
  }
  for (const h of holders) h.kill();
}

module.exports = pendingWaits;
