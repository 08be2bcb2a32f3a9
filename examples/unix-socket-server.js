'use strict';
// An HTTP server on a Unix socket. A second copy is refused while the first serves (exit 75); a
// socket left by a crashed server is replaced; SIGTERM closes the server and removes its socket.
//   node examples/unix-socket-server.js [SOCKET]   # default $XDG_RUNTIME_DIR/solely-example.sock
//   curl --unix-socket SOCKET http://localhost/
const http = require('node:http');
const path = require('node:path');
const { listenUnix, LockHeldError } = require('solely');

const socketPath = process.argv[2] ?? path.join(process.env.XDG_RUNTIME_DIR ?? '/run', 'solely-example.sock');

async function main() {
  const server = http.createServer((request, response) => response.end(`hello from pid ${process.pid}\n`));
  try {
    await listenUnix(socketPath, { server, mode: 0o600 });
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    console.error(`already served by pid ${error.holder?.pid}`);
    process.exit(75);
  }
  process.once('SIGTERM', () => server.close(() => console.log('closed')));
  console.log(`listening on ${server.address()}`);
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
