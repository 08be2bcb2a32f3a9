'use strict';
// solely against the syscall floor (bench/floor.c) and the packages people use today.
//   npm run bench                 the full run: prints the table, writes bench/results.json
//   npm run bench -- --quick      every row, briefly (CI keeps the benchmark working; numbers meaningless)
//   npm run bench -- --markdown   the table as markdown, for the README
// Every figure is a median over rounds; every ratio is taken within a round, the contenders
// interleaved in rotating order, then the median of those ratios is reported.
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const solely = require('..');

const ROOT = path.join(__dirname, '..');
const FLOOR = path.join(__dirname, 'floor');
const PEER = path.join(__dirname, 'peer.js');
const QUICK = process.argv.includes('--quick');
const MARKDOWN = process.argv.includes('--markdown');
const ROUNDS = QUICK ? 3 : 15;
const BATCH_MS = QUICK ? 2 : 20; // each contender's batch in a round lasts about this long
const HANDOVERS = QUICK ? 10 : 100; // per contender and round of the wake-up row
const SPAWNS = QUICK ? 3 : 20; // process launches per contender
const RING_MS = QUICK ? 150 : 1000;
const RING_ROUNDS = QUICK ? 1 : 3;

function optional(name) {
  try {
    return require(name);
  } catch (error) {
    return { missing: `${name} not loadable (${error.code ?? error.message})` };
  }
}
const properLockfile = optional('proper-lockfile');
const fsne = optional('fs-native-extensions');
const fsExt = optional('fs-ext');

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

/** The floor as a contender: the C program runs the loop, our side only reads its result. */
const floorCase = (which, target) => (n) => floor(which, n, target).ns;

// ---- the table ----

const rows = [];

/**
 * One line of the table. value/against: ns (or a string); ratio is the median of the per-round
 * ratios value/against; goal: { max } or { min } on the ratio, or a string.
 */
function line(row, measure, { value, against, anchor, ratio, goal, pass, unit = 'ns' }) {
  rows.push({ row, measure, value, unit, against, anchor, ratio, goal, pass });
}

function ratioOf(a, b) {
  return median(a.map((v, i) => (v === null || b[i] === null ? null : v / b[i])));
}

function judge(ratio, goal) {
  if (goal === undefined || ratio === null) return undefined;
  if (goal.max !== undefined) return ratio <= goal.max;
  return ratio >= goal.min;
}

function compare(row, measure, samples, label, againstLabel, anchor, goal) {
  const ratio = ratioOf(samples[label], samples[againstLabel]);
  line(row, measure, {
    value: median(samples[label]),
    against: median(samples[againstLabel]),
    anchor,
    ratio,
    goal,
    pass: judge(ratio, goal),
  });
}

// ---- rows ----

async function acquireRelease() {
  const name = uniqueName();
  const file = lockPath();
  const row = 'abstract lock: acquire + release';
  const a = await rounds({
    floorListen: floorCase('abstract-listen', name),
    floorBind: floorCase('abstract', name),
    solely: loop(() => solely.lockAbstractSync(name).release()),
    solelyNoListen: loop(() => solely.lockAbstractSync(name, { listen: false }).release()),
    net: loopAsync(() => netListenClose(`\0${name}`)),
  });
  compare(row, 'lockAbstractSync + release', a, 'solely', 'floorListen', 'C floor: socket+bind+listen+close', { max: 1.1 });
  compare(row, "{ listen: false }", a, 'solelyNoListen', 'floorBind', 'C floor: socket+bind+close', { max: 1.1 });
  compare(row, "net.createServer().listen('\\0name') + close", a, 'net', 'solely', 'solely (lockAbstractSync)');

  const fileRow = 'file lock: acquire + release';
  const contenders = {
    floorVerified: floorCase('file-verified', file),
    floorPlain: floorCase('file', file),
    solely: loop(() => solely.lockFileSync(file).release()),
    solelyFcntl: loop(() => solely.lockFileSync(file, { method: 'fcntl' }).release()),
  };
  if (!properLockfile.missing) contenders.properLockfile = loop(() => properLockfile.lockSync(file)());
  if (!fsExt.missing) {
    contenders.fsExt = loop(() => {
      const fd = fs.openSync(file, 'r+');
      fsExt.flockSync(fd, 'exnb');
      fsExt.flockSync(fd, 'un');
      fs.closeSync(fd);
    });
  }
  if (!fsne.missing) {
    contenders.fsne = loop(() => {
      const fd = fs.openSync(file, 'r+');
      if (!fsne.tryLock(fd)) throw new Error('fs-native-extensions: lock not taken');
      fsne.unlock(fd);
      fs.closeSync(fd);
    });
  }
  const f = await rounds(contenders);
  compare(fileRow, 'lockFileSync + release', f, 'solely', 'floorVerified', 'C floor: open+flock+fstat+fstatat+unlock+close', { max: 1.15 });
  compare(fileRow, 'lockFileSync + release', f, 'solely', 'floorPlain', 'C floor: open+flock+close (no flopen check)');
  if (f.properLockfile) {
    compare(fileRow, 'proper-lockfile lockSync + release', f, 'properLockfile', 'solely', 'solely (lockFileSync)', { min: 50 });
    compare(fileRow, 'proper-lockfile lockSync + release', f, 'properLockfile', 'floorVerified', 'the C floor: the most any lock can gain');
  }
  else line(fileRow, 'proper-lockfile', { value: properLockfile.missing });
  if (f.fsExt) compare(fileRow, 'fs-ext open+flockSync+close', f, 'fsExt', 'solely', 'solely (lockFileSync)');
  else line(fileRow, 'fs-ext', { value: fsExt.missing });
  if (f.fsne) compare(fileRow, 'fs-native-extensions open+tryLock+close', f, 'fsne', 'solelyFcntl', "solely ({ method: 'fcntl' }, both OFD)");
  else line(fileRow, 'fs-native-extensions', { value: fsne.missing });
}

function netListenClose(address) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(address, () => server.close(resolve));
  });
}

async function alreadyHeld() {
  const row = '"already held" via try*';
  const name = uniqueName();
  const file = lockPath();
  const held = solely.lockAbstractSync(name);
  const a = await rounds({
    floor: floorCase('bind-fail', uniqueName()), // the floor holds its own name
    solely: loop(() => {
      if (solely.tryLockAbstractSync(name) !== null) throw new Error('not held');
    }),
  });
  held.release();
  compare(row, 'tryLockAbstractSync → null', a, 'solely', 'floor', 'C floor: socket+bind (EADDRINUSE)+close', { max: 1.2 });
  const heldFile = solely.lockFileSync(file);
  const f = await rounds({
    floor: floorCase('flock-fail', lockPath()),
    solely: loop(() => {
      if (solely.tryLockFileSync(file) !== null) throw new Error('not held');
    }),
  });
  heldFile.release();
  compare(row, 'tryLockFileSync → null', f, 'solely', 'floor', 'C floor: open+flock (EWOULDBLOCK)+close', { max: 1.2 });
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
  for (let r = 0; r < (QUICK ? 1 : 4); r++) {
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
  if (!fsne.missing) kinds.push(['fsne', ofdFile, 'fs-native-extensions waitForLock']);
  if (!fsExt.missing) kinds.push(['fs-ext', file, 'fs-ext flock (thread pool)']);
  for (const [kind, target, measure] of kinds) {
    const child = peer(['pending', kind, target, String(QUICK ? 50 : 400), String(QUICK ? 2 : 8), String(windowMs)]);
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
      line(gapRow, `${measure}, 64 pending`, {
        value: result.gapMs,
        unit: 'ms',
        against: result.baseGapMs,
        anchor: 'none pending, same process',
        goal: { absMax: 2 },
        pass: result.gapMs <= 2,
      });
    }
  }
  for (const h of holders) h.kill();
}

/** Wall time of a process launch, in ns. */
function launch(args, options = {}) {
  const start = process.hrtime.bigint();
  const r = spawnSync(args[0], args.slice(1), { stdio: 'ignore', cwd: ROOT, ...options });
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

async function startup() {
  const row = 'process start';
  const node = process.execPath;
  const s = await launches({
    bare: () => [node, '-e', '0'],
    solely: () => [node, '-e', `require('solely').lockAbstractSync(${JSON.stringify(uniqueName())})`],
  });
  compare(row, "node -e \"require('solely').lockAbstractSync('x')\"", s, 'solely', 'bare', 'node -e 0', { max: 1.03 });

  const cli = path.join(ROOT, 'dist', 'cli.js');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  if (fs.existsSync(cli) && pkg.bin) {
    const c = await launches({
      bare: () => [node, '-e', "require('child_process').spawnSync('true', { stdio: 'inherit' })"],
      solely: () => [node, cli, 'run', '--abstract', uniqueName(), '--', 'true'],
    });
    compare(row, 'solely run --abstract NAME -- true', c, 'solely', 'bare', "node -e \"spawnSync('true')\"");
  } else {
    line(row, 'solely run --abstract NAME -- true', { value: 'n/a (no CLI yet)' });
  }

  if (typeof solely.singleInstance === 'function') {
    const id = uniqueName();
    const primary = spawn(node, ['-e', singleInstancePrimary(id)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(primary);
    await new Promise((resolve) => primary.stdout.once('data', resolve));
    const secondary = `require('solely').singleInstance(${JSON.stringify(id)}).then((r) => { if (r.primary || r.reply !== 'ok') process.exit(1); })`;
    const si = await launches({ bare: () => [node, '-e', '0'], solely: () => [node, '-e', secondary] });
    primary.kill();
    compare(row, 'single instance: secondary launch, delivered and replied', si, 'solely', 'bare', 'node -e 0', { max: 1.1 });
  } else {
    line(row, 'single instance: secondary launch, delivered and replied', { value: 'n/a (not built yet)' });
  }
}

function singleInstancePrimary(id) {
  return `require('solely').singleInstance(${JSON.stringify(id)}).then((p) => {
    p.on('second-instance', (message, reply) => reply('ok'));
    process.stdout.write('ready\\n');
  })`;
}

async function ring() {
  const row = '4 processes handing one lock around';
  const kinds = [
    ['abstract', () => uniqueName(), 'lockAbstract'],
    ['file', () => lockPath(), 'lockFile'],
  ];
  if (!fsne.missing) kinds.push(['fsne', () => lockPath(), 'fs-native-extensions waitForLock']);
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

// ---- PostgreSQL ----

/** solely/postgres against a real server started for the run (test/postgres-server.js). */
async function postgres() {
  const row = 'PostgreSQL advisory lock (local server, 127.0.0.1)';
  let pg;
  let server;
  try {
    pg = require('pg');
    const { startPostgres, postgresMissing } = require('../test/postgres-server');
    const missing = postgresMissing();
    if (missing !== undefined) throw new Error(missing);
    server = await startPostgres();
  } catch (error) {
    line(row, 'lockPostgres + release', { value: `n/a (${error.message.split('\n')[0]})` });
    return;
  }
  try {
    const { lockPostgres } = require('solely/postgres');
    const options = { connection: server.url };
    const key = uniqueName();
    const r = await rounds({
      connect: loopAsync(async () => {
        const client = new pg.Client(server.url);
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
      }),
      solely: loopAsync(async () => (await lockPostgres(key, options)).release()),
      solelyNoFence: loopAsync(async () => (await lockPostgres(key, { ...options, fencingTable: false })).release()),
    });
    compare(row, 'lockPostgres + release (a session each)', r, 'solely', 'connect', 'pg: connect + SELECT 1 + end');
    compare(row, '{ fencingTable: false }', r, 'solelyNoFence', 'connect', 'pg: connect + SELECT 1 + end');
    // Hand-off: the holder's release() call until the waiter, blocked in pg_advisory_lock on its own
    // session, has its lock (and its fencing token).
    const samples = [];
    const admin = new pg.Client(server.url);
    await admin.connect();
    const blocked = async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'")).rows.length > 0;
    let held = await lockPostgres(key, options);
    for (let i = 0; i < HANDOVERS; i++) {
      const waiting = lockPostgres(key, { ...options, wait: true });
      while (!(await blocked())) await new Promise((resolve) => setTimeout(resolve, 2));
      const start = process.hrtime.bigint();
      const releasing = held.release();
      held = await waiting;
      samples.push(Number(process.hrtime.bigint() - start));
      await releasing;
    }
    await held.release();
    await admin.end();
    line(row, 'hand-off: release() → the waiter holds it, p50', { value: percentile(samples, 50) });
    line(row, 'hand-off: release() → the waiter holds it, p99', { value: percentile(samples, 99) });
  } finally {
    await server.destroy();
  }
}

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

function machine() {
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
    node: process.version,
    lockDir: `${path.dirname(dir)} (${solely.filesystemOf(dir).name})`,
    quick: QUICK,
    date: new Date().toISOString().slice(0, 10),
  };
}

function print(m) {
  const table = tableRows();
  const about = `${m.cpu}, ${m.kernel}, ${m.distro}, Node ${m.node}, lock files in ${m.lockDir}${QUICK ? ' — QUICK MODE, numbers meaningless' : ''}`;
  if (MARKDOWN) {
    const esc = (c) => c.replaceAll('|', '\\|');
    console.log(`Measured ${m.date} on ${about}.\n`);
    console.log(`| ${HEADER.join(' | ')} |`);
    console.log(`|${HEADER.map(() => '---').join('|')}|`);
    for (const cells of table) console.log(`| ${cells.map(esc).join(' | ')} |`);
    return;
  }
  const widths = HEADER.map((h, i) => Math.max(h.length, ...table.map((c) => c[i].length)));
  const fmt = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  console.log(about);
  console.log(fmt(HEADER));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const cells of table) console.log(fmt(cells));
}

async function main() {
  buildFloor();
  const started = Date.now();
  await acquireRelease();
  await alreadyHeld();
  await wakeUp();
  await pendingWaits();
  await startup();
  await ring();
  await postgres();
  const m = machine();
  m.seconds = Math.round((Date.now() - started) / 1000);
  fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify({ machine: m, rows }, null, 2)}\n`);
  print(m);
  if (!MARKDOWN) await require('./runtimes').main(QUICK);
}

function cleanUp() {
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}

main()
  .catch((error) => {
    process.exitCode = 1;
    console.error(error);
  })
  .finally(cleanUp);
