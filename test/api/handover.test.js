'use strict';
// listenUnix's wait and handover: waiting for a path's server to let go (event-driven), and
// restarts that drop nothing because the listening socket itself moves to the successor.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const { channel } = require('node:diagnostics_channel');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const readline = require('node:readline');
const solely = require('solely');
const { ROOT, FIXTURES, tempDir, uniqueName, kill, exited, killAfter, readablePackage, needs } = require('../support/helpers');

const SERVER = path.join(FIXTURES, 'handover-server.js');
const EXAMPLE = path.join(ROOT, 'examples', 'zero-downtime-http.js');

/** One GET on a fresh connection (no keep-alive): the body, trimmed. */
function get(socketPath) {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: '/', agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve(body.trim()));
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

/** A process whose stdout lines arrive on child.line(), in order; SIGKILLed when the test ends. */
function lineProcess(t, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], ...options });
  t.after(() => kill(child));
  const lines = [];
  const waiting = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    if (waiting.length > 0) waiting.shift()(line);
    else lines.push(line);
  });
  child.line = () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((resolve) => waiting.push(resolve)));
  return child;
}

/** The fixture server: node handover-server.js ARGS. */
function serverProcess(t, args) {
  return lineProcess(t, process.execPath, [SERVER, ...args]);
}

async function expectLine(child, pattern) {
  const line = await child.line();
  assert.match(line, pattern);
  return line;
}

/** What a waiting listenUnix's attempts report: the cause of each ('first', 'event', 'poll', ...). */
function attemptCauses(t) {
  const causes = [];
  const onAttempt = (message) => causes.push(message);
  channel('solely:wait').subscribe(onAttempt);
  t.after(() => channel('solely:wait').unsubscribe(onAttempt));
  return causes;
}

describe('wait', () => {
  test('wait: true takes the path once its server closes, woken by the event, not the poll', async (t) => {
    const socket = path.join(tempDir(t), 's');
    const first = await solely.listenUnix(socket);
    const causes = attemptCauses(t);
    const second = solely.listenUnix(socket, { wait: true });
    // The first attempt found the path held; the waiter is armed before it publishes.
    while (causes.length === 0) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(causes.map((c) => c.acquired), [false]);
    first.close();
    const server = await second;
    t.after(() => server.close());
    assert.equal(causes.at(-1).acquired, true);
    assert.equal(causes.at(-1).cause, 'event');
    assert.equal(server.address(), socket);
  });

  test('wait: true takes the path of a SIGKILLed server, and an abstract name too', async (t) => {
    const socket = path.join(tempDir(t), 's');
    const holder = serverProcess(t, [socket]);
    await expectLine(holder, /^listening/);
    const waiting = solely.listenUnix(socket, { wait: true });
    await kill(holder);
    const server = await waiting;
    assert.equal(server.address(), socket);
    server.close();

    const name = `\0${uniqueName()}`;
    const first = await solely.listenUnix(name);
    const second = solely.listenUnix(name, { wait: 60_000 });
    first.close();
    (await second).close();
  });

  test('a wait that times out is a LockTimeoutError; an aborted one an AbortError; no wait is LockHeldError', async (t) => {
    const socket = path.join(tempDir(t), 's');
    const server = await solely.listenUnix(socket);
    t.after(() => server.close());
    await assert.rejects(solely.listenUnix(socket), { code: 'ELOCKED' });
    await assert.rejects(solely.listenUnix(socket, { wait: 50 }), { name: 'LockTimeoutError', code: 'ETIMEDOUT', message: `timed out after 50 ms waiting for ${socket} to be let go` });
    const controller = new AbortController();
    const aborted = solely.listenUnix(socket, { wait: true, signal: controller.signal });
    controller.abort(new Error('stop'));
    await assert.rejects(aborted, (error) => error.name === 'AbortError' && error.cause.message === 'stop');
    const name = `\0${uniqueName()}`;
    const abstract = await solely.listenUnix(name);
    t.after(() => abstract.close());
    await assert.rejects(solely.listenUnix(name, { wait: 50 }), { code: 'ETIMEDOUT' });
  });
});

describe('handover', () => {
  test('handover moves the listening socket: the old server emits handover and stops accepting, its close() leaves the path to the successor', async (t) => {
    const socket = path.join(tempDir(t), 's');
    const old = await solely.listenUnix(socket, { server: http.createServer((q, r) => r.end('old')) });
    const before = fs.statSync(socket).ino;
    const handedOver = new Promise((resolve) => old.once('handover', resolve));
    const successor = await solely.listenUnix(socket, { server: http.createServer((q, r) => r.end('new')), handover: true });
    await handedOver;
    assert.equal(old.listening, false);
    assert.equal(successor.listening, true);
    assert.equal(fs.statSync(socket).ino, before, 'the same socket file: the same kernel socket');
    assert.equal(await get(socket), 'new');
    old.close();
    assert.equal(await get(socket), 'new', 'the old close() neither unlinked the socket...');
    await assert.rejects(solely.listenUnix(socket), { code: 'ELOCKED', syscall: 'flock' }, '...nor released the lock');
    successor.close();
    assert.equal(fs.existsSync(socket), false, 'the successor removes it at its close');
    (await solely.listenUnix(socket)).close();
  });

  test('handover of an abstract name', async (t) => {
    const name = `\0${uniqueName()}`;
    const old = await solely.listenUnix(name);
    const handedOver = new Promise((resolve) => old.once('handover', resolve));
    const successor = await solely.listenUnix(name, { handover: true });
    t.after(() => successor.close());
    await handedOver;
    assert.equal(old.listening, false);
    assert.equal(solely.tryLockAbstractSync(name.slice(1)), null, 'the name stays held');
    assert.equal(solely.whoHolds({ abstract: name.slice(1) })?.pid, process.pid, 'and answers a connect');
  });

  test('handover with nobody serving binds as usual', async (t) => {
    const socket = path.join(tempDir(t), 's');
    const server = await solely.listenUnix(socket, { handover: true });
    server.close();
  });

  test('a running server that offers no handover (an older version): the successor falls back to wait, and says so when it times out', async (t) => {
    const socket = path.join(tempDir(t), 's');
    // The sidecar held and a server listening, but no handover channel.
    const lock = solely.lockFileSync(`${socket}.lock`);
    const older = net.createServer().listen(socket);
    await new Promise((resolve) => older.once('listening', resolve));
    await assert.rejects(solely.listenUnix(socket, { handover: true }), (error) => error.code === 'ELOCKED' && /no handover: no server offers a handover/.test(error.message));
    await assert.rejects(solely.listenUnix(socket, { handover: true, wait: 50 }), {
      code: 'ETIMEDOUT',
      message: `timed out after 50 ms waiting for ${socket} to be handed over or let go; no handover: no server offers a handover`,
    });
    const waiting = solely.listenUnix(socket, { handover: true, wait: true });
    await new Promise((resolve) => older.close(resolve)); // net unlinks its socket file
    lock.release();
    (await waiting).close();
  });

  test('a wedged running server: the successor times out saying it did not answer; once it dies, the successor takes the path', async (t) => {
    const socket = path.join(tempDir(t), 's');
    const old = serverProcess(t, [socket, '--freeze=running:request']);
    await expectLine(old, /^listening/);
    const first = serverProcess(t, [socket, '--handover', '--wait=200']);
    await expectLine(old, /^frozen/);
    await expectLine(first, /^error ETIMEDOUT timed out after 200 ms waiting for .* to be handed over or let go; no handover: the running server did not answer the handover request$/);
    // Without wait, the answer is waited for 5 s, then it is LockHeldError as without handover.
    const impatient = serverProcess(t, [socket, '--handover']);
    await expectLine(impatient, /^error ELOCKED .*; no handover: the running server did not answer the handover request within 5000 ms$/);
    const second = serverProcess(t, [socket, '--handover', '--wait=60000']);
    // Woken by the reset of its control connection, then by the lock's release: no poll needed.
    await kill(old);
    const [, pid] = (await expectLine(second, /^listening (\d+)$/)).match(/(\d+)$/);
    assert.equal(await get(socket), pid);
  });

  test('a second successor while a handover is under way is refused busy, and fails or waits as without handover', async (t) => {
    const socket = path.join(tempDir(t), 's');
    const old = serverProcess(t, [socket]);
    await expectLine(old, /^listening/);
    const first = serverProcess(t, [socket, '--handover', '--freeze=successor:received']);
    await expectLine(first, /^frozen/);
    const second = serverProcess(t, [socket, '--handover']);
    await expectLine(second, /^error ELOCKED .*; no handover: the running server answered "refused busy handing over"$/);
    first.stdin.write('\n');
    const [, pid] = (await expectLine(first, /^listening (\d+)$/)).match(/(\d+)$/);
    await expectLine(old, /^handover$/);
    assert.equal(await get(socket), pid);
  });

  test('only the same uid or allowUids may take a server over, both ways (SO_PEERCRED)', { skip: (process.getuid() !== 0 && 'setpriv needs root') || needs('setpriv') }, async (t) => {
    const dir = tempDir(t);
    fs.chmodSync(dir, 0o777);
    const socket = path.join(dir, 's');
    const nobody = 65534;
    const copy = path.join(readablePackage(), 'test', 'support', 'fixtures', 'handover-server.js');
    const run = (args) => lineProcess(t, 'setpriv', [`--reuid=${nobody}`, `--regid=${nobody}`, '--clear-groups', process.execPath, copy, ...args]);
    const old = await solely.listenUnix(socket, { server: http.createServer((q, r) => r.end('root')) });
    fs.chmodSync(socket, 0o666);
    t.after(() => old.close());
    // The successor asks only a server of its own uid (or one it allows)...
    assert.match(await run([socket, '--handover']).line(), /^error ELOCKED .*; no handover: a process of uid 0 holds its handover channel$/);
    // ...and the running server answers only its own uid (or those it allows).
    assert.match(await run([socket, '--handover', '--allow=0']).line(), /^error ELOCKED .*; no handover: the running server answered "refused uid not allowed"$/);
    old.close();

    const allowing = await solely.listenUnix(socket, { server: http.createServer((q, r) => r.end('root')), allowUids: [nobody] });
    fs.chmodSync(socket, 0o666);
    const handedOver = new Promise((resolve) => allowing.once('handover', resolve));
    const taker = run([socket, '--handover', `--allow=0`]);
    const [, pid] = (await taker.line()).match(/^listening (\d+)$/);
    await handedOver;
    assert.equal(await get(socket), pid);
  });

  // Each step of the protocol, from either side: the process stops there, then it or the other
  // one is SIGKILLed. A server must then listen, or the path be free for the next start.
  describe('SIGKILL at each step of a handover leaves a server listening or the path free', () => {
    const steps = ['running:request', 'running:sent', 'running:acknowledged', 'successor:requested', 'successor:received', 'successor:listening', 'successor:acknowledged'];
    for (const step of steps) {
      for (const victim of ['frozen', 'other']) {
        test(`${step}, ${victim} killed`, async (t) => {
          const socket = path.join(tempDir(t), 's');
          const oldFrozen = step.startsWith('running');
          const old = serverProcess(t, oldFrozen ? [socket, `--freeze=${step}`] : [socket]);
          const oldPid = (await expectLine(old, /^listening/)).split(' ')[1];
          const successor = serverProcess(t, [socket, '--handover', '--wait=60000', ...(oldFrozen ? [] : [`--freeze=${step}`])]);
          const frozen = oldFrozen ? old : successor;
          const other = oldFrozen ? successor : old;
          await expectLine(frozen, /^frozen/);
          const [killed, survivor] = victim === 'frozen' ? [frozen, other] : [other, frozen];
          await kill(killed);
          if (survivor === frozen) survivor.stdin.write('\n');
          // The old server hands over for good once the acknowledgement is out; until then it
          // serves on. A successor running free may or may not have acknowledged before its death.
          const acknowledged = step === 'running:acknowledged' || step === 'successor:acknowledged';
          if (survivor === successor) {
            const pid = (await expectLine(successor, /^listening/)).split(' ')[1];
            assert.equal(await get(socket), pid);
          } else if (acknowledged) {
            await expectLine(old, /^handover$/);
            await exited(old);
          } else {
            const answer = await get(socket).catch((error) => error.code);
            if (answer !== oldPid) {
              assert.equal(step, 'running:sent', `${answer}: only a successor running free can have acknowledged`);
              await expectLine(old, /^handover$/);
            }
          }
          // Whatever happened, the next start (no wait) gets the path once the survivor is gone.
          await kill(survivor);
          (await solely.listenUnix(socket)).close();
        });
      }
    }
  });

  test('20 consecutive restarts under a steady stream of requests from 4 clients fail 0 requests', async (t) => {
    const socket = path.join(tempDir(t), 's');
    let current = serverProcess(t, [socket]);
    await expectLine(current, /^listening/);
    let running = true;
    const served = new Map();
    const failures = [];
    const client = async () => {
      while (running) {
        try {
          const pid = await get(socket);
          served.set(pid, (served.get(pid) ?? 0) + 1);
        } catch (error) {
          failures.push(error.code ?? error.message);
        }
      }
    };
    const clients = [client(), client(), client(), client()];
    for (let restart = 0; restart < 20; restart++) {
      const successor = serverProcess(t, [socket, '--handover', '--wait=60000']);
      await expectLine(successor, /^listening/);
      await expectLine(current, /^handover$/);
      await exited(current); // it exits once its connections have drained
      current = successor;
    }
    running = false;
    await Promise.all(clients);
    const total = [...served.values()].reduce((a, b) => a + b, 0);
    assert.deepEqual(failures, [], `${failures.length} of ${total + failures.length} requests failed`);
    assert.ok(served.size >= 10, `requests reached ${served.size} of the 21 servers`);
    assert.ok(total >= 1000, `${total} requests`);
  });

  test('examples/zero-downtime-http.js restarts on kill -HUP and on a second start without failing a request', async (t) => {
    const socket = path.join(tempDir(t), 'app.sock');
    const first = lineProcess(t, process.execPath, [EXAMPLE, socket]);
    const [, pid1] = (await expectLine(first, /^listening (\d+)$/)).match(/(\d+)$/);
    assert.equal(await get(socket), `hello from ${pid1}`);
    process.kill(Number(pid1), 'SIGHUP');
    // The successor shares the first one's stdout: its line comes on the same pipe.
    const [, pid2] = (await expectLine(first, /^listening (\d+)$/)).match(/(\d+)$/);
    killAfter(t, Number(pid2));
    await exited(first);
    assert.equal(await get(socket), `hello from ${pid2}`);
    const third = lineProcess(t, process.execPath, [EXAMPLE, socket]);
    const [, pid3] = (await expectLine(third, /^listening (\d+)$/)).match(/(\d+)$/);
    assert.equal(await get(socket), `hello from ${pid3}`);
    execFileSync('kill', ['-0', pid3]);
  });

  test('bad handover options are refused before any syscall', async () => {
    await assert.rejects(solely.listenUnix('/nonexistent/s', { handover: 'yes' }), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(solely.listenUnix('/nonexistent/s', { allowUids: [-1] }), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(solely.listenUnix('/nonexistent/s', { allowUids: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(solely.listenUnix('/nonexistent/s', { wait: -1 }), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(solely.listenUnix('/nonexistent/s', { signal: 'no' }), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});
