'use strict';
// solely against the syscall floor (bench/floor.c) and the packages people use today.
//   npm run bench                 the full run: prints the table, writes bench/results.json
//   npm run bench -- --quick      every row, briefly (CI keeps the benchmark working; numbers meaningless)
//   npm run bench -- --markdown   the table as markdown, for the README
//   --rounds=N (more rounds on a busy machine), --only=acquire,contention (some row families),
//   --no-runtimes (Node's table alone; by default the same rows follow on Bun and Deno, bench/runtimes.js)
// Every figure is a median over rounds; every ratio is taken within a round, the contenders
// interleaved in rotating order, then the median of those ratios is reported.
// This file drives the run and prints the table; bench/rows/ holds one file per row family, over
// what they share in bench/measure.js.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const solely = require('..');
const { RUNTIME, QUICK, ROUNDS, dir, children, rows, buildFloor } = require('./measure');

const MARKDOWN = process.argv.includes('--markdown');
// The row families (bench/rows/), in the table's order; --only=acquire,contention runs some.
const ALL = ['acquire', 'slots', 'contention', 'wake-up', 'event-loop', 'startup', 'single-instance', 'hand-off', 'postgres'];
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
for (const family of ONLY ?? []) if (!ALL.includes(family)) throw new Error(`--only: no row family '${family}' (${ALL.join(', ')})`);
const FAMILIES = ALL.filter((family) => ONLY === undefined || ONLY.includes(family)).map((family) => require(`./rows/${family}`));

// ---- output ----

function formatValue(v, unit) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (unit === 'ms') return `${v.toFixed(2)} ms`;
  if (unit === '/s') return `${Math.round(v)}/s`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} ms`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(2)} µs`;
  return `${Math.round(v)} ns`;
}

function formatGoal(goal) {
  if (goal === undefined) return 'report';
  if (goal.max !== undefined) return `≤ ${goal.max.toFixed(2)}×`;
  if (goal.min !== undefined) return `≥ ${goal.min}×`;
  if (goal.plusMax !== undefined) return `≤ against + ${goal.plusMax} ms`;
  return `≤ ${formatValue(goal.absMax, goal.absMax < 1e3 ? 'ms' : 'ns')}`; // absolute, not a ratio
}

function tableRows() {
  let previous;
  return rows.map((r) => {
    const cells = [
      r.row === previous ? '' : r.row,
      r.measure,
      formatValue(r.value, r.unit),
      r.anchor ? `${formatValue(r.against, r.unit)} (${r.anchor})` : formatValue(r.against, r.unit),
      r.ratio === undefined || r.ratio === null ? '' : `${r.ratio.toFixed(r.ratio >= 10 ? 0 : 2)}×`,
      formatGoal(r.goal),
      r.pass === undefined ? '' : r.pass ? 'pass' : 'MISS',
    ];
    previous = r.row;
    return cells;
  });
}

const HEADER = ['row', 'measure', 'solely', 'against', 'ratio', 'goal', ''];

/** One line for each missed goal: the figure, the goal, and the floor lines that account for it. */
function missedGoals() {
  const cell = (r) => {
    const value = formatValue(r.value, r.unit);
    if (r.ratio === undefined || r.ratio === null) return value;
    return `${value}, ${r.ratio.toFixed(r.ratio >= 10 ? 0 : 2)}× ${r.anchor}`;
  };
  return rows
    .filter((r) => r.pass === false)
    .map((r) => {
      const floors = rows.filter((f) => r.key !== undefined && f.explains.includes(r.key));
      const left = floors.length === 0 ? 'no floor row measures this one' : floors.map((f) => `${f.measure}: ${cell(f)}`).join('; ');
      return `${r.measure} (${r.row}): ${cell(r)}, goal ${formatGoal(r.goal)}. Measured below it: ${left}.`;
    });
}

function machine(loadBefore) {
  const cpus = os.cpus();
  let distro = '';
  try {
    distro = /PRETTY_NAME="([^"]*)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    // no os-release: the distro stays unnamed
  }
  return {
    cpu: `${cpus[0]?.model ?? 'unknown'} × ${cpus.length}`,
    kernel: `${os.type()} ${os.release()}`,
    distro,
    runtime: RUNTIME === 'node' ? `Node ${process.version}` : `${RUNTIME === 'bun' ? 'Bun' : 'Deno'} ${process.versions[RUNTIME]}`,
    lockDir: `${path.dirname(dir)} (${solely.filesystemOf(dir).name})`,
    quick: QUICK,
    rounds: ROUNDS,
    // The 1-minute load average as the run began and ended: what shared the machine with it.
    load: [loadBefore, os.loadavg()[0]].map((l) => l.toFixed(1)),
    date: new Date().toISOString().slice(0, 10),
  };
}

function print(m) {
  const table = tableRows();
  const about = `${m.cpu}, ${m.kernel}, ${m.distro}, ${m.runtime}, lock files in ${m.lockDir}, ${m.rounds} rounds, load ${m.load.join(' → ')}${QUICK ? ' — QUICK MODE, numbers meaningless' : ''}`;
  if (MARKDOWN) {
    const esc = (c) => c.replaceAll('|', '\\|');
    console.log(`Measured ${m.date} on ${about}.\n`);
    console.log(`| ${HEADER.join(' | ')} |`);
    console.log(`|${HEADER.map(() => '---').join('|')}|`);
    for (const cells of table) console.log(`| ${cells.map(esc).join(' | ')} |`);
    const missed = missedGoals();
    if (missed.length > 0) console.log(`\nMissed goals, each with the floor rows that measure what is left:\n\n${missed.map((m) => `- ${m}`).join('\n')}`);
    return;
  }
  const widths = HEADER.map((h, i) => Math.max(h.length, ...table.map((c) => c[i].length)));
  const fmt = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  console.log(about);
  console.log(fmt(HEADER));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of table) console.log(fmt(cells));
  for (const missed of missedGoals()) console.log(`MISS ${missed}`);
}

async function main() {
  buildFloor();
  const started = Date.now();
  const load = os.loadavg()[0];
  for (const family of FAMILIES) await family();
  const m = machine(load);
  m.seconds = Math.round((Date.now() - started) / 1000);
  fs.writeFileSync(path.join(__dirname, RUNTIME === 'node' ? 'results.json' : `results-${RUNTIME}.json`), `${JSON.stringify({ machine: m, rows }, null, 2)}\n`);
  print(m);
  cleanUp();
  // The same rows on Bun and Deno, where they are installed (run by Node only: not recursively).
  if (RUNTIME === 'node' && ONLY === undefined && !process.argv.includes('--no-runtimes')) process.exitCode = require('./runtimes').main();
}

function cleanUp() {
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  process.exitCode = 1;
  console.error(error);
  cleanUp();
});
