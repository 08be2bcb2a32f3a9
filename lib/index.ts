// The entry point. A mechanism's module loads on first use of one of its exports: a cron job that
// takes one abstract lock does not pay at start-up for pidfiles, servers and single-instance.
// Each lazy name is declared for the types and listed for the runtime; test/entry.test.js checks
// that the two lists agree.
/* eslint-disable @typescript-eslint/no-require-imports */
import { lazy } from './internal/lazy-modules';
import type * as abstract from './abstract';
import type * as file from './file';
import type * as filesystem from './filesystem';
import type * as pidfile from './pidfile';
import type * as singleInstanceModule from './single-instance/index';
import type * as primaryModule from './single-instance/primary';
import type * as unixServer from './unix-server';
import type * as whoHoldsModule from './who-holds';

export { Lock, type LockKind } from './lock';
export {
  SolelyError,
  LockHeldError,
  ForeignHolderError,
  LockTimeoutError,
  LockLostError,
  InvalidTargetError,
  UnsupportedPlatformError,
  AbortError,
  isSolelyError,
  type Holder,
  type SolelyErrorCode,
  type ErrnoCode,
  type DeprecatedSolelyErrorCode,
} from './errors';
export type { WaitOptions } from './internal/options';
export type { Activation, ActivationOptions } from './activation';
export type { AbstractLockOptions } from './abstract';
export type { FileLockOptions, LockMethod, NetworkFilesystemPolicy } from './file';
export type { PidfileOptions } from './pidfile';
export type { HolderTarget, WhoHoldsOptions } from './who-holds';
export type { FilesystemInfo } from './filesystem';
export type { UnixServerOptions } from './unix-server';
export type { Secondary, Message, Reply, SingleInstanceOptions, ReplaceOptions, SingleInstanceScope, SingleInstanceTransport } from './single-instance/index';

/**
 * Defines names on this module's exports as getters that load the module on first access, and
 * then replace themselves with plain properties: later uses cost no getter call.
 */
function exportOnFirstUse<M>(load: () => M, names: readonly (keyof M & string)[]): void {
  const loadAll = lazy((): M => {
    const loaded = load();
    for (const name of names) Object.defineProperty(exports as object, name, { enumerable: true, value: loaded[name] });
    return loaded;
  });
  for (const name of names) {
    Object.defineProperty(exports as object, name, { enumerable: true, configurable: true, get: () => loadAll()[name] });
  }
}

export declare const lockAbstractSync: typeof abstract.lockAbstractSync;
export declare const tryLockAbstractSync: typeof abstract.tryLockAbstractSync;
export declare const lockAbstract: typeof abstract.lockAbstract;
exportOnFirstUse(() => require('./abstract') as typeof abstract, ['lockAbstractSync', 'tryLockAbstractSync', 'lockAbstract']);

export declare const lockFileSync: typeof file.lockFileSync;
export declare const tryLockFileSync: typeof file.tryLockFileSync;
export declare const lockFile: typeof file.lockFile;
exportOnFirstUse(() => require('./file') as typeof file, ['lockFileSync', 'tryLockFileSync', 'lockFile']);

export declare const openPidfileSync: typeof pidfile.openPidfileSync;
export declare const openPidfile: typeof pidfile.openPidfile;
export declare const readPidfile: typeof pidfile.readPidfile;
export declare const Pidfile: typeof pidfile.Pidfile;
export type Pidfile = pidfile.Pidfile;
exportOnFirstUse(() => require('./pidfile') as typeof pidfile, ['openPidfileSync', 'openPidfile', 'readPidfile', 'Pidfile']);

export declare const whoHolds: typeof whoHoldsModule.whoHolds;
exportOnFirstUse(() => require('./who-holds') as typeof whoHoldsModule, ['whoHolds']);

export declare const classifyFilesystem: typeof filesystem.classifyFilesystem;
export declare const filesystemOf: typeof filesystem.filesystemOf;
exportOnFirstUse(() => require('./filesystem') as typeof filesystem, ['classifyFilesystem', 'filesystemOf']);

export declare const listenUnix: typeof unixServer.listenUnix;
exportOnFirstUse(() => require('./unix-server') as typeof unixServer, ['listenUnix']);

export declare const singleInstance: typeof singleInstanceModule.singleInstance;
exportOnFirstUse(() => require('./single-instance/index') as typeof singleInstanceModule, ['singleInstance']);

// Its own module: a secondary launch never loads the primary's code.
export declare const Primary: typeof primaryModule.Primary;
export type Primary = primaryModule.Primary;
exportOnFirstUse(() => require('./single-instance/primary') as typeof primaryModule, ['Primary']);
