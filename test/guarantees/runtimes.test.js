'use strict';
// The package as a consumer runs it (from node_modules), on every runtime that loads Node-API
// addons: Node, and Bun and Deno when installed (.ci/run installs both from npm; elsewhere their
// tests skip, saying so). Real processes of different runtimes against each other, through
// test/support/fixtures/runtime-app.cjs.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { before, after, describe, test } = require('node:test');
const { ROOT, FIXTURES, uniqueName, tempDir, exited, kill, needs, spawnLines, fdLinks, opened } = require('../support/helpers');

const RUNTIMES = {
  node: [process.execPath],
  bun: ['bun'],
  deno: ['deno', 'run', '-A'],
};
const NAMES = Object.keys(RUNTIMES);
const skipUnless = (...names) => needs(...names.filter((name) => name !== 'node'));

// A consumer project: node_modules/solely is a link to this checkout (built: dist/ and the addon),
// and the fixture sits beside it. Deno resolves bare names through node_modules when a
// package.json is there, and reads .js in solely as CommonJS through its "type".
let consumer;
before(() => {
  consumer = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-consumer-'));
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ private: true, dependencies: { solely: '*' } }));
  fs.mkdirSync(path.join(consumer, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(consumer, 'node_modules', 'solely'));
  fs.copyFileSync(path.join(FIXTURES, 'runtime-app.cjs'), path.join(consumer, 'app.cjs'));
  fs.writeFileSync(
    path.join(consumer, 'import.mjs'),
    "import solely, { tryLockAbstractSync } from 'solely';\nconsole.log(solely.tryLockAbstractSync === tryLockAbstractSync && typeof solely.lockFile);\n",
  );
});
after(() => fs.rmSync(consumer, { recursive: true, force: true }));

/** runtime's command line for a script of the consumer project (or any path). */
function commandFor(runtime, script, args) {
  const [command, ...options] = RUNTIMES[runtime];
  return [command, [...options, path.isAbsolute(script) ? script : path.join(consumer, script), ...args]];
}

/** The fixture on runtime; next() resolves with each line it prints. Killed when the test ends. */
function app(t, runtime, ...args) {
  const [command, argv] = commandFor(runtime, 'app.cjs', args);
  const child = spawn(command, argv, { cwd: consumer, stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.exitCode === null && child.signalCode === null && kill(child));
  const queue = [];
  const waiting = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => (waiting.length > 0 ? waiting.shift()(line) : queue.push(line)));
  child.stdout.once('end', () => {
    for (const resolve of waiting.splice(0)) resolve(null);
  });
  child.next = () => (queue.length > 0 ? Promise.resolve(queue.shift()) : child.stdout.readableEnded ? Promise.resolve(null) : new Promise((resolve) => waiting.push(resolve)));
  child.send = (line) => child.stdin.write(`${line}\n`);
  return child;
}

/** The whole output of runtime running script to its end: { status, stdout }. */
function run(runtime, script, args, options = {}) {
  const [command, argv] = commandFor(runtime, script, args);
  const result = spawnSync(command, argv, { cwd: consumer, encoding: 'utf8', timeout: 120_000, ...options });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

function targetOf(t, kind) {
  if (kind === 'abstract') return uniqueName('solely-runtimes');
  const file = path.join(tempDir(t), 'lock');
  fs.writeFileSync(file, '');
  return file;
}

/** For each runtime: its test, skipped (saying why) where the runtime is not installed. */
function onEach(name, body) {
  for (const runtime of NAMES) test(`${runtime}: ${name}`, { skip: skipUnless(runtime) }, (t) => body(t, runtime));
}

describe('the package loads from node_modules on every runtime, by require and by import', () => {
  onEach('import of solely, default and named, gives the CommonJS module', (t, runtime) => {
    const loaded = run(runtime, 'import.mjs', []);
    assert.equal(loaded.stdout.trim(), 'function', loaded.stderr);
  });
});

describe("waits on every runtime are woken by another process's release and by its SIGKILL", () => {
  for (const kind of ['abstract', 'file']) {
    onEach(`a ${kind} wait, woken by a node holder's release, then by a holder of its own runtime killed`, async (t, runtime) => {
      const target = targetOf(t, kind);
      for (const [holderRuntime, release] of [
        ['node', (holder) => holder.send('release')],
        [runtime, (holder) => kill(holder)],
      ]) {
        const holder = app(t, holderRuntime, 'hold', kind, target);
        assert.equal(await holder.next(), 'locked');
        const waiter = app(t, runtime, 'wait', kind, target);
        assert.equal(await waiter.next(), 'busy');
        assert.equal(await waiter.next(), 'waiting');
        await release(holder);
        assert.equal(await waiter.next(), 'locked');
        await exited(waiter);
        assert.equal(waiter.exitCode, 0);
      }
    });
  }
});

describe('a pidfile written on one runtime is read on every runtime', () => {
  onEach('written here, read by each runtime as locked with this PID; after release, stale', async (t, runtime) => {
    const file = path.join(tempDir(t), 'app.pid');
    const writer = app(t, runtime, 'pidfile', file);
    assert.equal(await writer.next(), 'written');
    for (const reader of NAMES.filter((name) => !skipUnless(name))) {
      assert.deepEqual(JSON.parse(run(reader, 'app.cjs', ['read-pidfile', file]).stdout), { pid: writer.pid, locked: true }, reader);
    }
    writer.send('release');
    assert.equal(await writer.next(), 'released');
    // Released, not removed: the PID is still there, and nobody holds the lock.
    assert.deepEqual(JSON.parse(run(runtime, 'app.cjs', ['read-pidfile', file]).stdout), { pid: writer.pid, locked: false });
  });
});

describe('listenUnix serves HTTP on every runtime; on Bun an http.Server is refused with a typed UnsupportedPlatformError', () => {
  onEach('an HTTP request over the socket gets the answer of this runtime', async (t, runtime) => {
    const socket = path.join(tempDir(t), 'http.sock');
    const server = app(t, runtime, 'listen', socket);
    let line = await server.next();
    if (runtime === 'bun') {
      const { error } = JSON.parse(line);
      assert.equal(error.name, 'UnsupportedPlatformError');
      assert.equal(error.code, 'ENOTSUP');
      assert.match(error.message, /^listen ENOTSUP: Bun \d+\.\d+\.\d+ cannot serve options\.server/);
      line = await server.next();
    }
    assert.equal(line, 'listening');
    const body = await new Promise((resolve, reject) => {
      http.get({ socketPath: socket, path: '/', agent: false }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.equal(body, `hello from ${runtime}`);
    server.send('close');
    await exited(server);
  });
});

describe('the solely CLI runs on every runtime', () => {
  onEach('runs a command under a lock, and exits 75 while a node process holds it', async (t, runtime) => {
    const name = uniqueName('solely-runtimes');
    const cli = path.join(consumer, 'node_modules', 'solely', 'dist', 'cli.js');
    const free = run(runtime, cli, ['run', '--abstract', name, '--', 'sh', '-c', 'echo ran']);
    assert.equal(free.stdout, 'ran\n', free.stderr);
    assert.equal(free.status, 0);
    const holder = app(t, 'node', 'hold', 'abstract', name);
    assert.equal(await holder.next(), 'locked');
    const held = run(runtime, cli, ['run', '--abstract', name, '--', 'sh', '-c', 'echo ran']);
    assert.equal(held.stdout, '');
    assert.equal(held.status, 75, held.stderr);
  });
});

describe('relative paths name the file the kernel opens, in a working directory whose name is not UTF-8', () => {
  // process.cwd() decodes the name lossily (U+FFFD) or, on Deno, throws: the name is given as bytes.
  const INTO = 'cd "$0/$(printf \'d\\376\')" && exec "$@"';
  onEach('a lock held by flock(1) is held for every call, and new locks, pidfiles and sockets open', async (t, runtime) => {
    const parent = tempDir(t);
    spawnSync('sh', ['-c', 'mkdir "$0/$(printf \'d\\376\')"', parent]);
    const holder = spawn('sh', ['-c', INTO, parent, 'flock', 'held.lock', '-c', 'echo locked; read line'], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => holder.exitCode === null && kill(holder));
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    const [command, argv] = commandFor(runtime, 'app.cjs', ['relative']);
    const relative = spawnSync('sh', ['-c', INTO, parent, command, ...argv], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(relative.stdout), {
      whoHolds: true,
      readPidfile: true,
      tryLockFileSync: null,
      lockFileSync: true,
      openPidfileSync: true,
      listenUnix: true,
    }, relative.stderr);
    const [cli, cliArgv] = commandFor(runtime, path.join(consumer, 'node_modules', 'solely', 'dist', 'cli.js'), ['status', '--file', './held.lock']);
    const status = spawnSync('sh', ['-c', INTO, parent, cli, ...cliArgv], { encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    holder.stdin.end('\n');
    await exited(holder);
  });
});

test('deno: singleInstance from a working directory whose name is not UTF-8 is a typed UnsupportedPlatformError naming Deno', { skip: needs('deno') }, (t) => {
  const parent = tempDir(t);
  const into = 'mkdir "$0/$(printf \'d\\376\')" && cd "$0/$(printf \'d\\376\')" && exec "$@"';
  const [command, argv] = commandFor('deno', 'app.cjs', ['single-instance', uniqueName('solely-runtimes')]);
  const launched = spawnSync('sh', ['-c', into, parent, command, ...argv], { encoding: 'utf8' });
  const { error } = JSON.parse(launched.stdout);
  assert.equal(error.name, 'UnsupportedPlatformError');
  assert.equal(error.code, 'ENOTSUP');
  assert.match(error.message, /^ENOTSUP: Deno \d+\.\d+\.\d+ cannot read a working directory whose name is not UTF-8/);
  assert.equal(launched.status, 3);
});

describe('solely run forwards a signal to COMMAND and exits with its status on every runtime', () => {
  onEach('SIGTERM to the wrapper: COMMAND traps it and exits 5, and so does solely', async (t, runtime) => {
    const [cli, cliArgv] = commandFor(runtime, path.join(consumer, 'node_modules', 'solely', 'dist', 'cli.js'), [
      'run', '--abstract', uniqueName('solely-runtimes'), '--', 'sh', '-c', 'trap "exit 5" TERM; echo ready; while :; do sleep 0.1; done',
    ]);
    const wrapper = spawn(cli, cliArgv, { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => wrapper.exitCode === null && kill(wrapper));
    await new Promise((resolve) => wrapper.stdout.once('data', resolve));
    wrapper.kill('SIGTERM');
    await exited(wrapper);
    assert.equal(wrapper.exitCode, 5);
  });
});

describe('solely lock --fd locks an inherited fd on every runtime', () => {
  onEach('lock --fd 9 -n in sh: flock -n on the same file is then refused', (t, runtime) => {
    const file = path.join(tempDir(t), 'lock');
    const [cli, cliArgv] = commandFor(runtime, path.join(consumer, 'node_modules', 'solely', 'dist', 'cli.js'), ['lock', '--fd', '9', '-n']);
    const script = 'exec 9>"$0"; "$@" || exit 9; flock -n "$0" true; echo $?';
    const locked = spawnSync('sh', ['-c', script, file, cli, ...cliArgv], { encoding: 'utf8' });
    assert.equal(locked.stdout, '1\n', locked.stderr);
  });
});

describe('singleInstance between runtimes, attached launches included', () => {
  for (const primary of NAMES) {
    for (const secondary of NAMES) {
      test(`a ${secondary} secondary delivers to a ${primary} primary and gets its reply`, { skip: skipUnless(primary, secondary) }, async (t) => {
        const id = uniqueName('runtimes');
        const first = app(t, primary, 'single-instance', id);
        assert.equal(await first.next(), 'primary');
        const second = run(secondary, 'app.cjs', ['single-instance', id]);
        assert.deepEqual(JSON.parse(second.stdout), { reply: { runtime: primary, args: [id] }, holderPid: first.pid }, second.stderr);
      });
      test(`an attached ${secondary} launch, stdin a pipe and stdout a file: a ${primary} primary reads and writes them, and its exit(5) is the launch's status`, { skip: skipUnless(primary, secondary) }, async (t) => {
        const id = uniqueName('runtimes-attach');
        const first = app(t, primary, 'single-instance', id);
        assert.equal(await first.next(), 'primary');
        const out = path.join(tempDir(t), 'out');
        const [command, argv] = commandFor(secondary, 'app.cjs', ['attach', id]);
        const launch = spawnSync('sh', ['-c', 'printf typed | "$@" > "$OUT"', 'sh', command, ...argv], { cwd: consumer, encoding: 'utf8', env: { ...process.env, OUT: out } });
        assert.equal(launch.status, 5, launch.stderr);
        assert.equal(fs.readFileSync(out, 'utf8'), `hi from ${primary}\nin typed\n${JSON.stringify({ reply: { runtime: primary, args: [id] }, exitCode: 5 })}\n`);
      });
    }
  }
});

describe("a launch's argvBytes are its arguments' exact bytes on every runtime", () => {
  onEach('an argument holding the byte 0xff reaches a node primary as that byte, not U+FFFD', async (t, runtime) => {
    const id = uniqueName('runtimes-argv');
    const listening = `require(${JSON.stringify(ROOT)}).singleInstance(${JSON.stringify(id)}).then((p) => { console.log('primary'); p.on('second-instance', (m) => console.log(JSON.stringify(m.argvBytes.slice(-2).map((b) => b.toString('hex'))))); })`;
    const first = spawnLines(t, process.execPath, ['-e', listening]);
    assert.equal(await first.next(), 'primary');
    const [command, argv] = commandFor(runtime, 'app.cjs', ['single-instance', id]);
    const launch = spawnSync('sh', ['-c', '"$@" "$(printf \'\\377\')"', 'sh', command, ...argv], { cwd: consumer, encoding: 'utf8' });
    assert.equal(launch.status, 0, launch.stderr);
    assert.deepEqual(await first.nextJSON(), [Buffer.from(id).toString('hex'), 'ff']);
  });
});

test('bun: a launch that handed its focus token on leaves it to no child given process.env; Bun.spawn without env passes the start environment', { skip: needs('bun') }, async (t) => {
  const id = uniqueName('runtimes-token');
  const first = app(t, 'node', 'single-instance', id);
  assert.equal(await first.next(), 'primary');
  const script = path.join(tempDir(t), 'token.cjs');
  const see = "(env) => Bun.spawnSync(['sh', '-c', 'echo \"[$XDG_ACTIVATION_TOKEN]\"'], env && { env }).stdout.toString().trim()";
  fs.writeFileSync(script, `const see = ${see}; require(${JSON.stringify(ROOT)}).singleInstance(${JSON.stringify(id)}).then(() => console.log(JSON.stringify({ own: process.env.XDG_ACTIVATION_TOKEN ?? null, given: see(process.env), unset: see() })));`);
  const launch = spawnSync('bun', [script], { encoding: 'utf8', env: { ...process.env, XDG_ACTIVATION_TOKEN: 'tok' } });
  assert.deepEqual(JSON.parse(launch.stdout), { own: null, given: '[]', unset: '[tok]' }, launch.stderr);
});

describe('a launch forwards an environment value and a focus token that are not UTF-8 with U+FFFD for each invalid byte, on every runtime', () => {
  onEach('to a node primary, env: [NAME] and XDG_ACTIVATION_TOKEN holding the byte 0xff', async (t, runtime) => {
    const id = uniqueName('runtimes-env');
    const first = app(t, 'node', 'single-instance', id);
    assert.equal(await first.next(), 'primary');
    const [command, argv] = commandFor(runtime, 'app.cjs', ['forward-env', id, 'RAW']);
    const bytes = 'RAW="$(printf \'a\\377b\')" XDG_ACTIVATION_TOKEN="$(printf \'t\\377\')" exec "$@"';
    const launch = spawnSync('sh', ['-c', bytes, 'sh', command, ...argv], { cwd: consumer, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(launch.stdout).reply, { runtime: 'node', args: ['RAW'], env: { RAW: 'a\ufffdb' }, activation: { xdgActivationToken: 't\ufffd' } }, launch.stderr);
  });
});

test('node --permission without --allow-addons: an UnsupportedPlatformError that names --allow-addons', () => {
  const flag = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
  const script = `try { require('solely'); console.log('loaded'); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, cause: e.cause?.code })); }`;
  const refused = spawnSync(process.execPath, [flag, '--allow-fs-read=*', '-e', script], { cwd: consumer, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(refused.stdout), {
    name: 'UnsupportedPlatformError',
    code: 'ERR_DLOPEN_DISABLED',
    message: "solely's native addon cannot load: Node's permission model refuses addons; add --allow-addons to node's options",
    cause: 'ERR_DLOPEN_DISABLED',
  });
  const allowed = spawnSync(process.execPath, [flag, '--allow-addons', '--allow-fs-read=*', '-e', script], { cwd: consumer, encoding: 'utf8' });
  assert.equal(allowed.stdout, 'loaded\n', allowed.stderr);
});

test("the Runtimes table of docs/platforms.md names the versions this run tested", (t) => {
  const readme = fs.readFileSync(path.join(ROOT, 'docs', 'platforms.md'), 'utf8');
  const start = readme.indexOf('\n## Runtimes\n');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const tested = new Map([...section.matchAll(/^\| (Node|Bun|Deno) \| (?:≥ )?([\d.]+)/gm)].map(([, name, version]) => [name.toLowerCase(), version]));
  assert.deepEqual([...tested.keys()], NAMES);
  assert.ok(Number(process.versions.node.split('.')[0]) >= Number(tested.get('node')), `Node ${process.versions.node}`);
  for (const runtime of ['bun', 'deno'].filter((name) => !skipUnless(name))) {
    const version = spawnSync(runtime, ['--version'], { encoding: 'utf8' }).stdout.match(/\d+\.\d+\.\d+/)[0];
    assert.equal(tested.get(runtime), version, `${runtime} --version`);
  }
  if (skipUnless('bun', 'deno')) t.diagnostic(skipUnless('bun', 'deno'));
});

test("on Node, Bun's and Deno's epoll-thread watch wakes, and a Worker terminated mid-watch ends its thread and closes its fds", async () => {
  const { Worker } = require('node:worker_threads');
  const before = fdLinks();
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
    const binding = require('node-gyp-build')(${JSON.stringify(ROOT)});
    const name = 'solely-thread-watch-${process.pid}';
    const listener = binding.abstractBind(name, 8);
    binding.trackWaitFd(listener); // closed by the registry when this Worker ends
    let connection = -1;
    const watch = new binding.FdWatchOnThread(() => {
      watch.stop();
      binding.close(connection);
      watch.start(listener); // armed again, with nothing to accept: pending when terminated
      parentPort.postMessage('woken');
    });
    watch.start(listener);
    parentPort.once('message', () => (connection = binding.abstractConnect(name)));
    parentPort.postMessage('armed');`,
    { eval: true },
  );
  const next = () => new Promise((resolve) => worker.once('message', resolve));
  assert.equal(await next(), 'armed');
  const woken = next();
  worker.postMessage('connect');
  assert.equal(await woken, 'woken');
  await worker.terminate();
  assert.deepEqual(opened(before, fdLinks()), []);
});
