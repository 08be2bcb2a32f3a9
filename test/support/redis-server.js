'use strict';
// A real Redis for the tests: Debian's `redis-server`, started in a temporary directory on a free
// port of 127.0.0.1 and a Unix socket there, never the system's service. Persistence as docs/redis.md
// asks for fencing tokens that survive a crash: the AOF, fsynced before each reply.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { has } = require('./helpers');
const { freePort } = require('./postgres-server');

// redis-server runs without the sanitizer runtime that `npm run test:asan` preloads for node.
const SERVER_ENV = { ...process.env };
delete SERVER_ENV.LD_PRELOAD;

class RedisServer {
  constructor(dir, port) {
    this.dir = dir;
    this.port = port;
    this.socket = path.join(dir, 'redis.sock');
    this.url = `redis://127.0.0.1:${port}`;
    this.process = undefined;
  }

  /** Starts redis-server and resolves once it accepts connections. */
  start() {
    const child = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--unixsocket', this.socket, '--unixsocketperm', '700',
      '--dir', this.dir, '--logfile', '', '--daemonize', 'no', '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--notify-keyspace-events', '',
    ], { stdio: ['ignore', 'pipe', 'inherit'], env: SERVER_ENV });
    this.process = child;
    // A test file killed at its timeout runs no after(): the server must not outlive it.
    const orphaned = () => child.kill('SIGKILL');
    process.once('exit', orphaned);
    child.once('exit', () => process.off('exit', orphaned));
    let log = '';
    return new Promise((resolve, reject) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => {
        log += chunk;
        if (log.includes('Ready to accept connections')) {
          log = '';
          resolve();
        }
      });
      child.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${log}`)));
    });
  }

  /** Stops the server: SIGKILL is a crash (nothing saved at exit), SIGTERM a clean shutdown. */
  async stop(signal = 'SIGTERM') {
    const child = this.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await new Promise((resolve) => child.once('exit', resolve));
  }

  async restart(signal) {
    await this.stop(signal);
    await this.start();
  }

  async destroy() {
    await this.stop('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Why the Redis tests cannot run here (a skip reason), or undefined if they can. Under
 * SOLELY_TEST_EVERYTHING=1 (.ci/run) a missing server is an error, never a skip.
 */
function redisMissing() {
  if (has('redis-server') && has('redis-cli')) return undefined;
  const reason = 'Redis is not installed (apt-get install redis-server redis-tools)';
  if (process.env.SOLELY_TEST_EVERYTHING === '1') throw new Error(`${reason}; .ci/run installs it`);
  return reason;
}

/** Starts a fresh server in a temporary directory; destroy() stops it and removes the directory. */
async function startRedis() {
  const server = new RedisServer(fs.mkdtempSync(path.join(os.tmpdir(), 'solely-redis-')), await freePort());
  try {
    await server.start();
  } catch (error) {
    await server.destroy();
    throw error;
  }
  return server;
}

module.exports = { startRedis, redisMissing };
