// What solely knows of Node's internals, in one place: net has no public way to read the fd of a
// socket it accepted, to serve an fd in a cluster worker, or to report the address of a server on
// an fd it did not bind.
import type { Server, Socket } from 'node:net';
import * as lazy from './lazy-modules';

/** The fd under a socket, from net's handle (stable since Node 0.x); -1 when it has none. */
export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/** Server's setupListenHandle, under its legacy alias (Node 0.x to 24). */
interface LegacyListen {
  _listen2(address: null, port: null, addressType: null, backlog: number, fd: number): void;
}

/**
 * Hands fd, a listening socket, to server and resolves once it listens; server.address() returns
 * address. closing runs before the listening socket closes (it still pins the socket file's
 * inode), closed right after: at close(), not once the last connection has ended, so that a
 * successor can take the path while old connections drain. Both may run more than once; closed
 * also runs when listen fails.
 */
export function listenOnFd<S extends Server>(server: S, fd: number, backlog: number, address: string, closing: () => void, closed: () => void): Promise<S> {
  // net reports null for a server on an fd it did not bind (and pads abstract names).
  server.address = () => address;
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      closed();
      reject(error);
    };
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      const close = server.close.bind(server);
      server.close = (callback) => {
        closing();
        const result = close(callback); // libuv closes a listening socket's fd at once
        closed();
        return result;
      };
      server.once('close', () => {
        server.close = close;
      });
      resolve(server);
    });
    // Ownership of fd passes to net here: it closes fd when the server closes. In a cluster
    // worker, net sends listen({ fd }) to the primary, which would listen on its own fd of that
    // number (as documented, and exclusive does not apply to fds): there the worker sets the
    // handle up itself, with the function net's listen() calls in a primary.
    // net calls listen(2) again on an fd it adopts, with the backlog of the positional argument
    // only (it ignores options.backlog for an fd), and 511 for 0: backlog must be at least 1.
    if (lazy.inClusterWorker()) (server as unknown as LegacyListen)._listen2(null, null, null, backlog, fd);
    else server.listen({ fd }, backlog);
  });
}
