'use strict';
// The programs in examples/, one per use case, run as a user runs them: real processes, each step
// synchronised on a line printed or a process exited.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { test } = require('node:test');
const { tempDir, spawnReady, exited, kill, uniqueName } = require('../support/helpers');
const { startPostgres, postgresMissing } = require('../support/postgres-server');
const { ROOT } = require('../support/docs-reader');
const { readPidfile } = require('solely');

const example = (name) => path.join(ROOT, 'examples', name);

/** Runs to the end: { code, stdout, stderr }. */
async function run(args, options) {
  const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  await new Promise((resolve) => child.once('close', resolve));
  return { code: child.exitCode, stdout, stderr };
}

/** The next line a spawnReady child prints. */
const nextLine = (child) => new Promise((resolve) => child.lines.once('line', resolve));

/** Sends a stop signal, then checks the child says `last` and exits 0. */
async function stop(child, signal, last) {
  const line = nextLine(child);
  child.kill(signal);
  assert.equal(await line, last);
  await exited(child);
  assert.equal(child.exitCode, 0);
}

function environment(t) {
  const dir = tempDir(t);
  return { cwd: dir, env: { ...process.env, XDG_RUNTIME_DIR: dir } };
}

test('examples/cron-job.js: a run while the previous one still goes exits 75 naming it; once it ended, the next run runs', async (t) => {
  const options = environment(t);
  const first = await spawnReady(t, process.execPath, [example('cron-job.js'), '3600'], options);
  assert.equal(first.firstLine, `job running (pid ${first.pid})`);
  const second = await run([example('cron-job.js'), '0'], options);
  assert.equal(second.code, 75);
  assert.match(second.stderr, new RegExp(`still going \\(pid ${first.pid}\\)`));
  assert.equal(second.stdout, '');
  await kill(first); // however it ends, the kernel frees the lock
  const third = await run([example('cron-job.js'), '0'], options);
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stdout, /^job running \(pid \d+\)\njob done\n$/);
});

test('examples/daemon-pidfile.js: the pidfile names the daemon, locked; a second copy exits 75 naming it; SIGTERM removes the file', async (t) => {
  const options = environment(t);
  const pidfile = path.join(options.cwd, 'daemon.pid');
  const daemon = await spawnReady(t, process.execPath, [example('daemon-pidfile.js'), pidfile], options);
  assert.equal(daemon.firstLine, `daemon running, pid ${daemon.pid}, pidfile ${pidfile}`);
  assert.deepEqual(readPidfile(pidfile), { pid: daemon.pid, locked: true });
  const second = await run([example('daemon-pidfile.js'), pidfile], options);
  assert.equal(second.code, 75);
  assert.equal(second.stderr, `already running as pid ${daemon.pid}\n`);
  await stop(daemon, 'SIGTERM', 'stopped');
  assert.equal(fs.existsSync(pidfile), false);
});

test('examples/single-instance.js: a second launch forwards its files to the primary and prints its answer', async (t) => {
  const options = environment(t);
  options.env.VIEWER_ID = uniqueName('solely-example-viewer');
  const primary = await spawnReady(t, process.execPath, [example('single-instance.js')], options);
  assert.equal(primary.firstLine, `primary (pid ${primary.pid}), opening: nothing`);
  const asked = nextLine(primary);
  const second = await run([example('single-instance.js'), 'a.txt', 'b.txt'], options);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, `sent to pid ${primary.pid}: opened 2 file(s)\n`);
  assert.match(await asked, new RegExp(`^pid \\d+ asks to open: ${path.join(options.cwd, 'a.txt')}, ${path.join(options.cwd, 'b.txt')}$`));
  primary.kill('SIGINT');
  await exited(primary);
  assert.equal(primary.exitCode, 0);
});

test('examples/wait-editor.js: a launch hands the editor its terminal and exits with its status: 0 once its stdin is saved, 1 when it cannot be', async (t) => {
  const options = environment(t);
  options.env.EDITOR_ID = uniqueName('solely-example-editor');
  const editor = await spawnReady(t, process.execPath, [example('wait-editor.js')], options);
  assert.equal(editor.firstLine, `editor (pid ${editor.pid})`);
  const edit = async (file, input) => {
    const child = spawn(process.execPath, [example('wait-editor.js'), file], { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.stdin.end(input);
    await new Promise((resolve) => child.once('close', resolve));
    return { code: child.exitCode, stdout, stderr };
  };
  const saved = await edit('notes.txt', 'a line\n');
  const file = path.join(options.cwd, 'notes.txt');
  assert.deepEqual(saved, { code: 0, stdout: `saved ${file}\n`, stderr: '' });
  assert.equal(fs.readFileSync(file, 'utf8'), 'a line\n');
  const failed = await edit('missing/notes.txt', 'x');
  assert.deepEqual(failed, { code: 1, stdout: '', stderr: `cannot save ${path.join(options.cwd, 'missing/notes.txt')}: ENOENT\n` });
  editor.kill('SIGINT');
  await exited(editor);
  assert.equal(editor.exitCode, 0);
});

function get(socketPath) {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: '/' }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve(body));
    }).once('error', reject);
  });
}

test('examples/unix-socket-server.js: it serves its socket; a second copy exits 75; a crashed one is replaced; SIGTERM removes the socket', async (t) => {
  const options = environment(t);
  const socket = path.join(options.cwd, 'api.sock');
  const crashed = await spawnReady(t, process.execPath, [example('unix-socket-server.js'), socket], options);
  assert.equal(crashed.firstLine, `listening on ${socket}`);
  assert.equal(await get(socket), `hello from pid ${crashed.pid}\n`);
  const second = await run([example('unix-socket-server.js'), socket], options);
  assert.equal(second.code, 75);
  assert.equal(second.stderr, `already served by pid ${crashed.pid}\n`);
  await kill(crashed); // leaves its socket file behind
  assert.ok(fs.statSync(socket).isSocket());
  const server = await spawnReady(t, process.execPath, [example('unix-socket-server.js'), socket], options);
  assert.equal(await get(socket), `hello from pid ${server.pid}\n`);
  await stop(server, 'SIGTERM', 'closed');
  assert.equal(fs.existsSync(socket), false);
});

test('examples/postgres-job.mjs: one run at a time across processes; the next run gets a higher fencing token', { skip: postgresMissing() }, async (t) => {
  const server = await startPostgres();
  t.after(() => server.destroy());
  const options = { cwd: ROOT, env: { ...process.env, DATABASE_URL: server.url } };
  const first = await spawnReady(t, process.execPath, [example('postgres-job.mjs'), '3600'], options);
  const [, token] = /^job running, fencing token (\d+)$/.exec(first.firstLine);
  const second = await run([example('postgres-job.mjs'), '0'], options);
  assert.equal(second.code, 75);
  assert.equal(second.stderr, 'another node runs the job: skipping this turn\n');
  await kill(first); // its session ends, and the lock with it
  const third = await run([example('postgres-job.mjs'), '0'], options);
  assert.equal(third.code, 0, third.stderr);
  const [, next] = /^job running, fencing token (\d+)\njob done\n$/.exec(third.stdout);
  assert.ok(BigInt(next) > BigInt(token), `${next} > ${token}`);
});
