'use strict';
// npm run test:stress: the reliability suites at full size (SOLELY_STRESS=1), one file at a time so
// that the figures are not skewed by each other, then the figures: printed, and written to
// test/stress/results.json.
//   node test/stress/run.js              run, print the figures as text
//   node test/stress/run.js --markdown   print the last run's figures as markdown (the README's table)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const RESULTS = path.join(__dirname, 'results.json');
const GUARANTEES = path.join(ROOT, 'test', 'guarantees');
// The reliability suites: every guarantee suite that runs over the lock kinds (support/kinds.js) or
// sizes itself by SOLELY_STRESS (support/scale.js), found here rather than listed.
const SUITES = fs
  .readdirSync(GUARANTEES)
  .filter((file) => file.endsWith('.test.js') && /require\('\.\.\/support\/(?:kinds|scale)'\)/.test(fs.readFileSync(path.join(GUARANTEES, file), 'utf8')))
  .map((file) => path.join('test', 'guarantees', file));

const number = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function run() {
  // With no file named, node --test would run every test it finds instead.
  if (SUITES.length === 0) throw new Error(`no reliability suite found in ${GUARANTEES}`);
  const lines = path.join(os.tmpdir(), `solely-stress-${process.pid}.jsonl`);
  fs.rmSync(lines, { force: true });
  const start = Date.now();
  const env = { ...process.env, SOLELY_STRESS: '1', SOLELY_STRESS_RESULTS: lines };
  const test = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...SUITES], { cwd: ROOT, env, stdio: 'inherit' });
  const records = fs.existsSync(lines) ? fs.readFileSync(lines, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  fs.rmSync(lines, { force: true });
  const results = {
    passed: test.status === 0,
    date: new Date().toISOString(),
    minutes: (Date.now() - start) / 60_000,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Linux ${os.release()}, Node ${process.version}`,
    records,
  };
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

/** Rows of [label, value per kind] from the records. */
function table(results) {
  const by = (suite) => results.records.filter((r) => r.suite === suite);
  const kinds = [...new Set(by('exclusion').concat(by('crash')).map((r) => r.kind))];
  const cell = (suite, kind, format) => {
    const r = by(suite).find((x) => x.kind === kind);
    return r === undefined ? '–' : format(r);
  };
  const rows = [
    ['Critical sections, 8 processes contending (waiting)', (k) => cell('exclusion', k, (r) => number(r.sections))],
    ['… of which hand-offs between processes', (k) => cell('exclusion', k, (r) => number(r.handoffs))],
    ['Counter exact / overlaps seen', (k) => cell('exclusion', k, (r) => `yes / ${r.overlaps}`)],
    ['Critical sections per second', (k) => cell('exclusion', k, (r) => number(r.perSecond))],
    ['Holders SIGKILLed at random points / re-acquired', (k) => cell('crash', k, (r) => `${number(r.kills)} / ${number(r.kills)}`)],
    ['… free when the exit was reported', (k) => cell('crash', k, (r) => number(r.freeAtExit))],
    ['… struck acquiring / waiting / holding / releasing', (k) => cell('crash', k, ({ phases: p }) => `${p.acquiring + p.starting} / ${p.waiting} / ${p.holding} / ${p.releasing}`)],
    ['… struck writing the PID / the dead PID left, unlocked', (k) => cell('crash', k, (r) => (r.claimsLeft === undefined ? '–' : `${number(r.phases.writing)} / ${number(r.claimsLeft)}`))],
    ['SIGKILL to re-acquired, p50 / p99', (k) => cell('crash', k, (r) => `${number(r.p50Ms, 1)} / ${number(r.p99Ms, 1)} ms`)],
    ['fd count change over acquire/contend/release cycles', (k) => cell('fd', k, (r) => `${r.leaked} over ${number(r.cycles)}`)],
  ];
  const header = ['Measured', ...kinds];
  const body = rows.map(([label, value]) => [label, ...kinds.map(value)]);
  const notes = [];
  const errors = by('fd').find((r) => r.kind === 'error paths');
  if (errors) notes.push(`fd count change over ${errors.paths} error paths × ${number(errors.rounds)} rounds each: ${errors.leaked}.`);
  const primaries = by('single-instance crash')[0];
  if (primaries) {
    const errors = Object.entries(primaries.errors).map(([c, n]) => `${c} ${number(n)}`).join(', ') || 'none';
    notes.push(
      `singleInstance primaries SIGKILLed while replying: ${number(primaries.kills)}; the pending secondary got the reply ${number(primaries.reply)} times, ` +
        `became the primary ${number(primaries.primary)} times, typed errors: ${errors}; never past its timeout (SIGKILL to settled p50 ${number(primaries.p50Ms, 1)} ms, ` +
        `p99 ${number(primaries.p99Ms, 1)} ms), and every next launch was the primary.`,
    );
  }
  const flood = by('attack').find((r) => r.kind === 'flood');
  if (flood) {
    const mib = (n) => `${n >= 0 ? '+' : ''}${number(n, 1)} MiB`;
    notes.push(
      `${number(flood.clients)} garbage or slow clients against a single-instance primary (junk, silent, a huge length, an almost whole 1 MiB frame, a trickle): ` +
        `its heap ${mib(flood.heapMiB)}, buffers ${mib(flood.buffersMiB)}, fds ${flood.fds >= 0 ? '+' : ''}${flood.fds}, rss ${mib(flood.rssMiB)}; a secondary was served after.`,
    );
  }
  const fuzz = by('fuzz')[0];
  if (fuzz) {
    const codes = Object.entries(fuzz.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${number(n)}`).join(', ');
    notes.push(`Property-based bad input: ${number(fuzz.cases)} cases, only typed errors (${codes}), no file touched outside the lock file.`);
  }
  notes.push(`${results.passed ? 'All suites passed' : 'SOME SUITES FAILED'} in ${number(results.minutes, 1)} min on ${results.machine}, ${results.date.slice(0, 10)}.`);
  return { header, body, notes };
}

function markdown({ header, body, notes }) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...body.map(line), '', ...notes].join('\n');
}

function text({ header, body, notes }) {
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(header), ...body.map(line), '', ...notes].join('\n');
}

if (process.argv.includes('--markdown')) {
  if (!fs.existsSync(RESULTS)) {
    console.error('no results yet: run `npm run test:stress` first');
    process.exit(2);
  }
  console.log(markdown(table(JSON.parse(fs.readFileSync(RESULTS, 'utf8')))));
} else {
  const results = run();
  console.log(`\n${text(table(results))}\n\nWritten to ${path.relative(process.cwd(), RESULTS)}; \`node test/stress/run.js --markdown\` prints it for the README.`);
  process.exit(results.passed ? 0 : 1);
}
