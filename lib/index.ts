export { Lock, type LockKind } from './lock';
export { lockAbstractSync, tryLockAbstractSync, lockAbstract, type AbstractLockOptions } from './abstract';
export { lockFileSync, tryLockFileSync, lockFile, type FileLockOptions, type LockMethod } from './file';
export { listenUnix, type UnixServerOptions } from './unix-server';
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
