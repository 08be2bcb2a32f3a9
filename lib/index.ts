export { Lock, type LockKind } from './lock';
export { lockAbstractSync, tryLockAbstractSync, lockAbstract, type AbstractLockOptions } from './abstract';
export { lockFileSync, tryLockFileSync, lockFile, type FileLockOptions, type LockMethod, type NetworkFilesystemPolicy } from './file';
export { openPidfileSync, openPidfile, readPidfile, Pidfile, type PidfileOptions } from './pidfile';
export { whoHolds, type HolderTarget } from './who-holds';
export { classifyFilesystem, filesystemOf, type FilesystemInfo } from './filesystem';
export { listenUnix, type UnixServerOptions } from './unix-server';
export type { Activation, ActivationOptions } from './activation';
export {
  singleInstance,
  Primary,
  type Secondary,
  type Message,
  type Reply,
  type SingleInstanceOptions,
  type SingleInstanceScope,
  type SingleInstanceTransport,
} from './single-instance';
export type { WaitOptions } from './options';
export {
  SolelyError,
  LockHeldError,
  ForeignHolderError,
  LockTimeoutError,
  InvalidTargetError,
  UnsupportedPlatformError,
  AbortError,
  type Holder,
} from './errors';
