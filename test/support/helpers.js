'use strict';
// Shared by the suites: unique names, temporary directories, holder processes.
const assert = require('node:assert/strict');
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, 'fixtures');
/** The command line interface, as built. */
const CLI = path.join(ROOT, 'dist', 'cli.js');
/** setpriv's arguments that drop a child to uid and gid 65534 (nobody): `setpriv ...NOBODY command`. */
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
let counter = 0;

/** An abstract name no other test (or run) uses. */
function uniqueName(prefix = 'solely-test') {
  return `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A fresh temporary directory, removed when the test ends. */
function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Spawns a process and resolves with it once it printed a line (its "ready" signal); the line is
 * child.firstLine. Killed with SIGKILL when the test ends.
 */
function spawnReady(t, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], ...options });
  child.detached = options.detached === true;
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) kill(child);
  });
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      child.firstLine = line;
      child.lines = lines;
      resolve(child);
    });
    child.once('error', reject);
    // 'close', not 'exit': a child that prints its line and exits at once may be reaped before its output is read.
    child.once('close', (code, signal) => reject(new Error(`${command} exited (${code ?? signal}) before it was ready`)));
  });
}

/** A process whose stdout lines are all kept: next() resolves with the next unread one. */
function spawnLines(t, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], ...options });
  const lines = [];
  let wake = () => {};
  let buffered = '';
  let ended = false;
  child.stdout
    .setEncoding('utf8')
    .on('data', (chunk) => {
      const parts = (buffered + chunk).split('\n');
      buffered = parts.pop();
      lines.push(...parts);
      wake();
    })
    .once('end', () => {
      ended = true;
      wake();
    });
  let read = 0;
  child.lines = lines;
  child.next = async () => {
    while (read >= lines.length) {
      if (ended) throw new Error(`${command} ended its output; output: ${lines.join('\n')}`);
      await new Promise((resolve) => (wake = resolve));
    }
    return lines[read++];
  };
  child.nextJSON = async () => JSON.parse(await child.next());
  /** The exit code, or the signal's name. */
  child.exitStatus = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** A node fixture from test/support/fixtures that holds a lock: `hold.js kind target [flags]`. */
function holder(t, ...args) {
  return spawnReady(t, process.execPath, [path.join(FIXTURES, 'hold.js'), ...args]);
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', resolve));
}

/** Kills the child, or its whole process group if it was spawned detached. */
async function kill(child, signal = 'SIGKILL') {
  if (child.spawnargs && child.detached) process.kill(-child.pid, signal);
  else child.kill(signal);
  await exited(child);
}

/** SIGKILLs pid when the test ends, if it still runs: a process our children left behind. */
function killAfter(t, pid) {
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  });
}

/**
 * Resolves once some process has bound the abstract name (seen in /proc/net/unix, never by locking).
 * No event says so: it polls, with no deadline of its own (the test's timeout bounds it).
 */
async function abstractBound(name) {
  while (!fs.readFileSync('/proc/net/unix', 'utf8').includes(` @${name}\n`)) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Resolves once child has the file at file open (it is trying for, or waiting on, its lock), or has
 * exited. No event says so: it polls, with no deadline of its own (the test's timeout bounds it).
 */
async function hasOpen(child, file) {
  const { pid } = child;
  while (child.exitCode === null && child.signalCode === null) {
    let links = [];
    try {
      links = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
        try {
          return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      });
    } catch {
      // not started yet
    }
    if (links.includes(file)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** How many fds this process has open. */
function fdCount() {
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * How many of this process's fds link to each target ("/path", "socket:[inode]", ...). Compared
 * with opened(), across awaits: an fd some earlier test's stream closes meanwhile is no leak.
 */
function fdLinks() {
  const counts = new Map();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let link;
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own fd, closed by now
    }
    counts.set(link, (counts.get(link) ?? 0) + 1);
  }
  return counts;
}

/** The targets that more fds link to in `after` than in `before`. */
function opened(before, after) {
  return [...after].filter(([link, count]) => count > (before.get(link) ?? 0)).map(([link]) => link);
}

function has(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A test's skip option for tools outside Node: false when they are all here, else the reason.
 * Under SOLELY_TEST_EVERYTHING=1 (.ci/run, after installing them all) nothing is skipped, so a
 * missing tool fails the test instead of hiding it.
 */
function needs(...tools) {
  const missing = tools.filter((tool) => (tool.startsWith('/') ? !fs.existsSync(tool) : !has(tool)));
  if (missing.length === 0 || process.env.SOLELY_TEST_EVERYTHING === '1') return false;
  return `needs ${missing.join(', ')} (.ci/run installs what the tests need)`;
}

/**
 * A world-readable copy of the built package at `source` (a checkout) in a fresh temporary
 * directory: what a child dropped to another uid (setpriv) needs to require it and run its
 * fixtures, since that uid may not read a checkout under /root or any 0700 parent. It holds
 * package.json, dist/, the addon where node-gyp-build looks (build/Release, prebuilds/),
 * test/support/fixtures, and node_modules/node-gyp-build plus each named peer that is installed, with the
 * packages it depends on. Returns the copy's root; the caller removes it.
 */
function readableCopy(source, { peers = [] } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-readable-'));
  const copy = (relative) => {
    if (fs.existsSync(path.join(source, relative))) fs.cpSync(path.join(source, relative), path.join(root, relative), { recursive: true, dereference: true });
  };
  for (const relative of ['package.json', 'dist', 'build/Release/solely.node', 'prebuilds', path.relative(ROOT, FIXTURES)]) copy(relative);
  const modules = ['node-gyp-build', ...peers];
  for (let i = 0; i < modules.length; i++) {
    const relative = path.join('node_modules', modules[i]);
    if (fs.existsSync(path.join(root, relative)) || !fs.existsSync(path.join(source, relative))) continue;
    copy(relative);
    const { dependencies = {} } = JSON.parse(fs.readFileSync(path.join(source, relative, 'package.json'), 'utf8'));
    // npm hoists dependencies to the top node_modules; nested ones came along with the copy.
    modules.push(...Object.keys(dependencies).filter((name) => !fs.existsSync(path.join(source, relative, 'node_modules', name))));
  }
  // mkdtemp made the root 0700 and a umask may have narrowed the rest: open it all to other users.
  execFileSync('chmod', ['-R', 'a+rX', root]);
  return root;
}

let packageCopy;

/**
 * This checkout's readable copy (see readableCopy), made once per test process with the peers
 * any test asks for and removed when the process exits. Point a setpriv'd child at it, never at
 * the checkout: `require(readablePackage())`, `readableFixture('hold.js')`.
 */
function readablePackage() {
  if (packageCopy === undefined) {
    packageCopy = readableCopy(ROOT, { peers: ['dbus-native'] });
    process.once('exit', () => fs.rmSync(packageCopy, { recursive: true, force: true }));
  }
  return packageCopy;
}

/** A fixture's path in readablePackage(), for a child dropped to another uid. */
function readableFixture(name) {
  return path.join(readablePackage(), path.relative(ROOT, FIXTURES), name);
}

/**
 * `solely run LOCK_ARGS --key K -- COMMAND`, its wrapper SIGKILLed while COMMAND runs: COMMAND must
 * get SIGTERM (it says so on the pipe it shares with the test), and a second run then takes the lock;
 * a COMMAND that cannot run keeps its documented status.
 */
async function commandStopsWithWrapper(t, lockArgs) {
  const key = uniqueName();
  const command = [process.execPath, '-e', "process.on('SIGTERM', () => { console.log('SIGTERM'); process.exit(0); }); console.log(process.pid); setInterval(() => {}, 1e9)"];
  const wrapper = await spawnReady(t, process.execPath, [CLI, 'run', ...lockArgs, '--key', key, '--', ...command]);
  // COMMAND (its PID is the first line) is not the test's child: without the guard it would outlive the test.
  t.after(() => {
    try {
      process.kill(Number(wrapper.firstLine), 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  });
  const next = new Promise((resolve) => wrapper.lines.once('line', resolve));
  wrapper.kill('SIGKILL');
  assert.equal(await next, 'SIGTERM');
  const second = spawnSync(process.execPath, [CLI, 'run', ...lockArgs, '--key', key, '--wait', '--', 'echo', 'second'], { encoding: 'utf8' });
  assert.deepEqual([second.status, second.stdout], [0, 'second\n'], second.stderr);
  // Through the guard, a COMMAND that cannot run still exits 127 (not found) or 126 (not executable).
  const missing = spawnSync(process.execPath, [CLI, 'run', ...lockArgs, '--key', key, '--', 'solely-no-such-command'], { encoding: 'utf8' });
  assert.deepEqual([missing.status, missing.stderr], [127, 'solely: solely-no-such-command: command not found\n']);
  assert.equal(spawnSync(process.execPath, [CLI, 'run', ...lockArgs, '--key', key, '--', __filename]).status, 126);
}

module.exports = { ROOT, FIXTURES, CLI, NOBODY, uniqueName, tempDir, spawnReady, spawnLines, commandStopsWithWrapper, holder, exited, kill, killAfter, abstractBound, hasOpen, fdCount, fdLinks, opened, has, needs, readableCopy, readablePackage, readableFixture };
