'use strict';
// A zero-downtime HTTP server on a Unix socket. Restart it with `kill -HUP PID` (it starts its own
// successor) or by starting it again: the new process takes over the listening socket itself,
// the old one finishes the requests it has and exits. No connect is refused meanwhile.
//   node examples/zero-downtime-http.js [SOCKET_PATH]     # prints "listening PID"
//   curl --unix-socket SOCKET_PATH http://localhost/
const { spawn } = require('node:child_process');
const http = require('node:http');
const { listenUnix } = require('solely');

const socketPath = process.argv[2] ?? `${process.env.XDG_RUNTIME_DIR ?? '/tmp'}/zero-downtime-http.sock`;

async function main() {
  let handedOver = false;
  const server = http.createServer((request, response) => {
    // After the handover, keep-alive clients are told to reconnect: they reach the successor.
    if (handedOver) response.setHeader('connection', 'close');
    response.end(`hello from ${process.pid}\n`);
  });
  // handover: take the socket of a running instance, if any; wait: if it does not answer (an
  // older version, or wedged), wait up to 30 s for it to let go instead.
  await listenUnix(socketPath, { server, handover: true, wait: 30_000 });
  console.log(`listening ${process.pid}`);
  server.on('handover', () => {
    handedOver = true;
    // Once the last connection is done (idle keep-alive ones end at server.keepAliveTimeout).
    server.on('close', () => process.exit(0));
  });
  process.on('SIGHUP', () => {
    // The successor shares our stdout and stderr; it is on its own once we exit.
    spawn(process.execPath, [__filename, socketPath], { stdio: 'inherit', detached: true }).unref();
  });
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
