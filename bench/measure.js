'use strict';
// What every row family of the benchmark shares: the run's size, lock files and names, the C
// floor, contenders measured in rounds, peer processes and launches, and the table's lines.
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.join(__dirname, '..');
const FLOOR = path.join(__dirname, 'floor');
const PEER = path.join(__dirname, 'peer.js');
const QUICK = process.argv.includes('--quick');
// --rounds=N: N rounds instead of 15 in every row family (each family's other counts scale with
// it), for a machine so busy that 15 rounds leave the medians noisy.
const ROUNDS_ASKED = Number(/^--rounds=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--rounds=')) ?? '')?.[1] ?? 15);
/** count, scaled by --rounds (at least 1); QUICK keeps quick, its own count. */
const scaled = (count, quick) => (QUICK ? quick : Math.max(1, Math.round((count * ROUNDS_ASKED) / 15)));
const ROUNDS = scaled(15, 3);
const BATCH_MS = QUICK ? 2 : 20; // each contender's batch in a round lasts about this long
const HANDOVERS = QUICK ? 10 : 100; // per contender and round of the wake-up row
const SPAWNS = scaled(20, 3); // process launches per contender

// The runtime this run measures: Node, or Bun or Deno (bench/runtimes.js runs the bench on each).
const RUNTIME = process.versions.bun ? 'bun' : process.versions.deno ? 'deno' : 'node';

function optional(name, { addon = false } = {}) {
  // Deno ends the process on an addon built against libuv symbols it lacks (uv_get_osfhandle):
  // no catch can keep the run going, so the anchors' addons are not loaded there.
  if (addon && RUNTIME === 'deno') return { missing: `${name} not loaded on Deno (its addon needs libuv symbols Deno lacks)` };
  try {
    return require(name);
  } catch (error) {
    return { missing: `${name} not loadable (${error.code ?? error.message.split(/\. |\n/)[0]})` };
  }
}
const properLockfile = optional('proper-lockfile');
const fsne = optional('fs-native-extensions', { addon: true });
const fsExt = optional('fs-ext', { addon: true });
// Its waits run on a thread of its own: Bun panics at their uv_thread_create.
const fsneWaits = RUNTIME === 'bun' && !fsne.missing ? { missing: 'fs-native-extensions waitForLock: Bun panics at its uv_thread_create' } : fsne;

const dir = fs.mkdtempSync(path.join(process.env.XDG_RUNTIME_DIR || os.tmpdir(), 'solely-bench-'));
const tag = `solely-bench-${process.pid}`;
let counter = 0;
const uniqueName = () => `${tag}-${++counter}`;
const lockPath = (name = uniqueName()) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, '');
  return file;
};
const children = new Set();
// The open flags of a lock file (lib/internal/file-attempt.ts), for the rows that call the addon alone.
const { O_RDWR, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const OPEN_LOCK_FILE = O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK;

// ---- statistics ----

function median(values) {
  const sorted = values.filter((v) => v !== null).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// ---- the floor ----

function buildFloor() {
  const source = path.join(__dirname, 'floor.c');
  if (fs.existsSync(FLOOR) && fs.statSync(FLOOR).mtimeMs >= fs.statSync(source).mtimeMs) return;
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', FLOOR, source], { stdio: 'inherit' });
}

// The floor's loops run with as many idle threads as this Node process has: the kernel's fd
// lookups take a slower path in a multi-threaded process, for C as for Node.
const THREADS = fs.readdirSync('/proc/self/task').length - 1;

function floor(which, n, target) {
  const args = [which, String(n), target];
  if (!which.startsWith('wake-')) args.push(String(THREADS));
  return JSON.parse(execFileSync(FLOOR, args, { encoding: 'utf8' }));
}

// ---- contenders: each measures a batch and returns ns per operation ----

/** A synchronous contender: calls op() n times. */
function loop(op) {
  return (n) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) op();
    return Number(process.hrtime.bigint() - start) / n;
  };
}

/** An asynchronous contender: awaits op() n times, one after the other. */
function loopAsync(op) {
  return async (n) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await op();
    return Number(process.hrtime.bigint() - start) / n;
  };
}

/**
 * Runs the contenders in ROUNDS rounds, in rotating order; each batch sized to about BATCH_MS
 * from a calibration run. Returns { label: [ns per op, one per round] }.
 */
async function rounds(contenders) {
  const sizes = {};
  for (const [label, run] of Object.entries(contenders)) {
    const size = (ns, share) => Math.max(10, Math.round((BATCH_MS * 1e6 * share) / ns));
    const first = await run(10); // warm-up, and a first estimate
    sizes[label] = size(await run(size(first, 1 / 4)), 1);
  }
  const labels = Object.keys(contenders);
  const out = Object.fromEntries(labels.map((l) => [l, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < labels.length; i++) {
      const label = labels[(i + r) % labels.length];
      out[label].push(await contenders[label](sizes[label]));
    }
  }
  return out;
}

/**
 * The N-API crossing alone, as a contender: count calls into the addon that make no syscall
 * (untrackWaitFd of an fd it does not track: a look-up in a small table), as many as a lock makes.
 */
function addonCalls(count) {
  const { binding } = require('../dist/internal/binding');
  return loop(() => {
    for (let i = 0; i < count; i++) binding.untrackWaitFd(-1);
  });
}

/** Two contenders' samples added round by round: what a JavaScript caller cannot go below. */
const sumOf = (x, y) => x.map((v, i) => (v === null || y[i] === null ? null : v + y[i]));

/** The floor as a contender: the C program runs the loop, our side only reads its result. */
const floorCase = (which, target) => (n) => floor(which, n, target).ns;

// ---- the table ----

const rows = [];

/**
 * One line of the table. value/against: ns (or a string); ratio is the median of the per-round
 * ratios value/against; goal: { max } or { min } on the ratio, or a string. key names a line with
 * a goal; explains lists the keys of the goal lines this line measures a floor of (printed under
 * the table beside each missed goal).
 */
function line(row, measure, { value, against, anchor, ratio, goal, pass, unit = 'ns', key, explains = [] }) {
  rows.push({ row, measure, value, unit, against, anchor, ratio, goal, pass, key, explains });
}

function ratioOf(a, b) {
  return median(a.map((v, i) => (v === null || b[i] === null ? null : v / b[i])));
}

function judge(ratio, goal) {
  if (goal === undefined || ratio === null) return undefined;
  if (goal.max !== undefined) return ratio <= goal.max;
  return ratio >= goal.min;
}

/** A line comparing two contenders; tags: { key } or { explains } (see line). */
function compare(row, measure, samples, label, againstLabel, anchor, goal, tags = {}) {
  const ratio = ratioOf(samples[label], samples[againstLabel]);
  line(row, measure, {
    ...tags,
    value: median(samples[label]),
    against: median(samples[againstLabel]),
    anchor,
    ratio,
    goal,
    pass: judge(ratio, goal),
  });
}

// ---- processes ----

/** A peer process speaking lines. */
function peer(args) {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const lines = readline.createInterface({ input: child.stdout });
  const queue = [];
  const waiting = [];
  lines.on('line', (l) => (waiting.length ? waiting.shift()(l) : queue.push(l)));
  child.next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r)));
  child.send = (l) => child.stdin.write(`${l}\n`);
  child.ask = (l) => {
    child.send(l);
    return child.next();
  };
  return child;
}

async function expectLine(child, prefix) {
  const l = await child.next();
  if (!l.startsWith(prefix)) throw new Error(`peer said "${l}", expected "${prefix}"`);
  return l.slice(prefix.length).trim();
}

/** Wall time of a process launch, in ns; args.cwd (else the repository) its working directory. */
function launch(args) {
  const start = process.hrtime.bigint();
  const r = spawnSync(args[0], args.slice(1), { stdio: 'ignore', cwd: args.cwd ?? ROOT });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited with ${r.status ?? r.signal}`);
  return Number(process.hrtime.bigint() - start);
}

async function launches(contenders) {
  const labels = Object.keys(contenders);
  const out = Object.fromEntries(labels.map((l) => [l, []]));
  for (const label of labels) launch(contenders[label]()); // warm the page cache
  for (let r = 0; r < SPAWNS; r++) {
    for (let i = 0; i < labels.length; i++) {
      const label = labels[(i + r) % labels.length];
      out[label].push(launch(contenders[label]()));
    }
  }
  return out;
}

/**
 * The floor of a launch that runs code: a package named solely, with solely's `exports`, holding
 * the same files code loads at the same paths, each the same bytes but wrapped in a function never
 * called, in a chain of requires ending with the addon's dlopen. Launched with `require('solely')`
 * from its directory (cwd), it resolves, reads and compiles what solely's launch does, and runs
 * none of it. Returns { cwd, files, kb }.
 */
function sameModules(code) {
  const probe = `${code}; process.stdout.write(JSON.stringify(Object.keys(require.cache)))`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', probe], { cwd: ROOT, encoding: 'utf8' }));
  const dist = path.join(ROOT, 'dist');
  const files = loaded.filter((f) => f.startsWith(dist + path.sep) && f.endsWith('.js'));
  const addon = loaded.find((f) => f.endsWith('.node'));
  const cwd = fs.mkdtempSync(path.join(dir, 'same-modules-'));
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ name: pkg.name, type: pkg.type, main: pkg.main, exports: pkg.exports }));
  let bytes = 0;
  files.forEach((file, i) => {
    const copy = path.join(cwd, path.relative(ROOT, file));
    const next = files[i + 1] === undefined ? addon : `./${path.relative(path.dirname(file), files[i + 1]).replace(/\.js$/, '')}`;
    const source = fs.readFileSync(file, 'utf8');
    bytes += source.length;
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    fs.writeFileSync(copy, `'use strict';\n${next === undefined ? '' : `require(${JSON.stringify(next)});\n`}function unused() {\n${source}\n}\n`);
  });
  return { cwd, files: files.length, kb: Math.round(bytes / 1024) };
}

module.exports = {
  ROOT,
  RUNTIME,
  QUICK,
  ROUNDS,
  scaled,
  HANDOVERS,
  properLockfile,
  fsne,
  fsneWaits,
  fsExt,
  dir,
  uniqueName,
  lockPath,
  OPEN_LOCK_FILE,
  children,
  median,
  percentile,
  buildFloor,
  floor,
  loop,
  loopAsync,
  rounds,
  floorCase,
  addonCalls,
  sumOf,
  rows,
  line,
  ratioOf,
  judge,
  compare,
  peer,
  expectLine,
  launches,
  sameModules,
};
