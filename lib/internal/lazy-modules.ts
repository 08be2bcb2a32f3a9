// The one way the library and the CLI load a module on first use. Node's net, crypto and cluster
// pull in streams, child_process and dgram, most of the cost of a require('solely') that only wants
// a lock; our own mechanisms (and the CLI's commands) load when first used; pg and dbus-native are
// optional peers a user may not have.
/* eslint-disable @typescript-eslint/no-require-imports */
import { SolelyError } from '../errors';
import { fromFsError } from './errno';

/**
 * A function that runs load at its first call and returns the same value ever after. A load that
 * throws is tried again at the next call. A module that cannot be read (out of fds: EMFILE) fails
 * as a SolelyError, like any call would.
 */
export function lazy<T>(load: () => T): () => T {
  let loaded: { readonly value: T } | undefined;
  return () => {
    try {
      loaded ??= { value: load() };
    } catch (error) {
      if (error instanceof SolelyError) throw error;
      const { syscall = 'open', path } = error as NodeJS.ErrnoException;
      throw fromFsError(error, syscall, path === undefined ? {} : { path });
    }
    return loaded.value;
  };
}

/** An optional peer dependency, loaded on first use; MODULE_NOT_FOUND saying what to install if absent. */
export function optionalPeer<M>(name: string, missing: string): () => M {
  return lazy(() => {
    try {
      return require(name) as M;
    } catch (error) {
      throw new SolelyError('MODULE_NOT_FOUND', missing, { cause: error });
    }
  });
}

export const net = lazy(() => require('node:net') as typeof import('node:net'));
export const crypto = lazy(() => require('node:crypto') as typeof import('node:crypto'));
// node:cluster's types have only a default export, which CommonJS output does not see.
export const inClusterWorker = lazy(() => (require('node:cluster') as { readonly isWorker: boolean }).isWorker);
export const isMainThread = lazy(() => (require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread);
