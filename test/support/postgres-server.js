'use strict';
// A real PostgreSQL for the tests: Debian's `postgresql` package, a cluster initialised in a
// temporary directory, run as a non-root user (postgres refuses root), trust authentication,
// listening on 127.0.0.1 on a free port and on a Unix socket in that directory.
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

// PostgreSQL runs without the sanitizer runtime that `npm run test:asan` preloads for node
// (its bootstrap hangs under it), and in the C locale.
const SERVER_ENV = { ...process.env, LC_ALL: 'C' };
delete SERVER_ENV.LD_PRELOAD;

const NOBODY = 65534;

/** The bin directory of the newest installed PostgreSQL, or undefined. */
function postgresBin() {
  const root = '/usr/lib/postgresql';
  let versions;
  try {
    versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? undefined : path.join(root, versions[0], 'bin');
}

/** A port nobody listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Runs as nobody when we are root: initdb and postgres refuse to run as root. */
function asServerUser(command, args) {
  if (process.getuid() !== 0) return [command, args];
  return ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', command, ...args]];
}

class PostgresServer {
  constructor(bin, dir, port) {
    this.bin = bin;
    this.dir = dir;
    this.data = path.join(dir, 'data');
    this.port = port;
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    this.process = undefined;
  }

  /** Starts postgres and resolves once it accepts connections. */
  start() {
    const [command, args] = asServerUser(path.join(this.bin, 'postgres'), [
      '-D', this.data, '-p', String(this.port), '-h', '127.0.0.1', '-k', this.dir,
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=100',
    ]);
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: SERVER_ENV });
    this.process = child;
    let log = '';
    return new Promise((resolve, reject) => {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk) => {
        log += chunk;
        if (log.includes('database system is ready to accept connections')) {
          log = '';
          resolve();
        }
      });
      child.once('exit', (code, signal) => reject(new Error(`postgres exited (${code ?? signal}) before it was ready:\n${log}`)));
    });
  }

  /** Fast shutdown: sessions are terminated, as an administrator's restart does. */
  async stop() {
    const child = this.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  async destroy() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Why the PostgreSQL tests cannot run here (a skip reason), or undefined if they can. Under
 * SOLELY_TEST_EVERYTHING=1 (.ci/run) a missing server is an error, never a skip.
 */
function postgresMissing() {
  if (postgresBin() !== undefined) return undefined;
  const reason = 'PostgreSQL is not installed (apt-get install postgresql): no /usr/lib/postgresql/*/bin/initdb';
  if (process.env.SOLELY_TEST_EVERYTHING === '1') throw new Error(`${reason}; .ci/run installs it`);
  return reason;
}

/** Starts a fresh server in a temporary directory; destroy() stops it and removes the directory. */
async function startPostgres() {
  const bin = postgresBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-pg-'));
  if (process.getuid() === 0) fs.chownSync(dir, NOBODY, NOBODY);
  const server = new PostgresServer(bin, dir, await freePort());
  try {
    const [command, args] = asServerUser(path.join(bin, 'initdb'), ['-D', server.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: SERVER_ENV });
    await server.start();
  } catch (error) {
    await server.destroy();
    throw error;
  }
  return server;
}

module.exports = { startPostgres, postgresMissing, freePort };
