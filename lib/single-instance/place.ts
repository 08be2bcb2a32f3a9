// Where an instance lives: an abstract name derived from its id, or a socket file in a runtime
// directory that only its owner can write to.
import { existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { binding } from '../internal/binding';
import { absolutePath } from '../internal/path';
import * as lazy from '../internal/lazy-modules';
import { SolelyError, type ErrorTarget } from '../errors';
import { errnoOf, fromErrno, fromFsError, invalidArgument, invalidTarget } from '../internal/errno';

/**
 * 'user' (default): one instance per uid; 'system': one per machine (network namespace).
 */
export type SingleInstanceScope = 'user' | 'system';
/**
 * How instances meet: 'abstract' (default, Linux) an abstract socket name; 'path' a socket file.
 */
export type SingleInstanceTransport = 'abstract' | 'path';

/** The sandbox this process runs in, as its environment says: names its rules allow. */
export interface Sandbox {
  /** SNAP_INSTANCE_NAME: abstract names must start with "snap.<instance>.". */
  snap?: string;
  /** FLATPAK_ID (or /.flatpak-info's [Application] name): instances share $XDG_RUNTIME_DIR/app/<id>. */
  flatpak?: string;
}

const SANDBOX_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** snapd's longest instance name: a 40-character snap name, "_" and a 10-character key. */
const MAX_SNAP_INSTANCE = 51;

function flatpakInfoName(): string | undefined {
  // Outside Flatpak (most launches) a look costs a few µs, where a failed read costs an error's
  // stack: about 0.15 ms of a secondary launch.
  if (!existsSync('/.flatpak-info')) return undefined;
  try {
    return /^\[Application\]\n(?:[^[].*\n)*?name=(.*)$/m.exec(readFileSync('/.flatpak-info', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Snap and Flatpak, detected from the environment (names that are not plain, or longer than snapd's, are ignored). */
export function sandboxOf(): Sandbox {
  const sandbox: Sandbox = {};
  const snap = process.env.SNAP_INSTANCE_NAME;
  if (snap !== undefined && snap.length <= MAX_SNAP_INSTANCE && SANDBOX_NAME.test(snap)) sandbox.snap = snap;
  const flatpak = process.env.FLATPAK_ID ?? flatpakInfoName();
  if (flatpak !== undefined && SANDBOX_NAME.test(flatpak)) sandbox.flatpak = flatpak;
  return sandbox;
}

/** Where the instance lives: an abstract name, or a socket path. */
export interface Place {
  /** "\0name" or the socket path, as listenUnix takes it. */
  listenAddress: string;
  /** The abstract name or the path, as Primary.target shows it and messages name it. */
  target: string;
  /** The address or path fields of the errors about it. */
  errorTarget: ErrorTarget;
  /** A socket connected to it (the caller owns the fd), or -errno. */
  connect(): number;
}

const MAX_NAME_BYTES = 107;
const PLAIN_FILE_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;
const EACCES = errnoOf('EACCES');

function sha256(id: string): string {
  return lazy.crypto().createHash('sha256').update(id, 'utf8').digest('hex');
}

/**
 * "solely/user/<uid>/<id>" or "solely/system/<id>"; over 107 bytes, "<base>#<sha256 hex of id>"; in
 * a snap, after "snap.<instance>.", and if even that is too long (a long instance name), the
 * prefix, "#" and the sha256 hex of the unprefixed name cut to fit: every id has a name.
 */
function abstractNameOf(id: string, scope: SingleInstanceScope, uid: number, sandbox: Sandbox): string {
  const prefix = sandbox.snap === undefined ? '' : `snap.${sandbox.snap}.`;
  const base = scope === 'user' ? `solely/user/${uid}` : 'solely/system';
  const plain = `${prefix}${base}/${id}`;
  if (Buffer.byteLength(plain) <= MAX_NAME_BYTES) return plain;
  const hashed = `${prefix}${base}#${sha256(id)}`;
  if (Buffer.byteLength(hashed) <= MAX_NAME_BYTES) return hashed;
  return `${prefix}#${sha256(`${base}/${id}`).slice(0, MAX_NAME_BYTES - prefix.length - 1)}`;
}

/** "<id>.sock" for a short id of [A-Za-z0-9._-] not starting with a dot or a dash, else "#<sha256 hex>.sock". */
function socketFileOf(id: string): string {
  return PLAIN_FILE_ID.test(id) ? `${id}.sock` : `#${sha256(id)}.sock`;
}

/** Creates dir (or finds it) and checks that it is a real directory of uid with no mode bits beyond mode. */
function ownDirectory(dir: string, mode: number, uid: number): string {
  try {
    mkdirSync(dir, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fromFsError(error, 'mkdir', { path: dir });
  }
  let stats;
  try {
    stats = lstatSync(dir);
  } catch (error) {
    throw fromFsError(error, 'lstat', { path: dir });
  }
  if (stats.isSymbolicLink()) throw invalidTarget('ELOOP', 'the socket directory is a symlink, never followed', { path: dir });
  if (!stats.isDirectory()) throw invalidTarget('ENOTDIR', 'the socket directory is not a directory', { path: dir });
  if (stats.uid !== uid || (stats.mode & 0o777 & ~mode) !== 0) {
    const why = `owned by uid ${stats.uid} with mode 0o${(stats.mode & 0o777).toString(8)}: not a directory of uid ${uid} with at most 0o${mode.toString(8)}`;
    throw fromErrno(EACCES, 'mkdir', { path: dir }, new Error(why));
  }
  return dir;
}

function isDirectoryOf(dir: string, uid: number): boolean {
  try {
    const stats = lstatSync(dir);
    return stats.isDirectory() && stats.uid === uid;
  } catch {
    return false;
  }
}

/**
 * $XDG_RUNTIME_DIR/solely, /run/user/<uid>/solely, or /run/solely-0 for root; /run/solely for
 * 'system'. Never /tmp, where systemd-tmpfiles ages files out from under a live primary.
 */
function defaultDirectory(scope: SingleInstanceScope, uid: number, sandbox: Sandbox): string {
  if (scope === 'system') {
    if (uid !== 0) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.directory', "a directory for scope 'system' over a path when not root", undefined);
    return ownDirectory('/run/solely', 0o755, uid);
  }
  const runtime = process.env.XDG_RUNTIME_DIR;
  // The one directory every instance of a Flatpak app sees.
  if (sandbox.flatpak !== undefined && runtime !== undefined && isAbsolute(runtime)) return ownDirectory(join(runtime, 'app', sandbox.flatpak), 0o700, uid);
  if (runtime !== undefined && isAbsolute(runtime)) return ownDirectory(join(runtime, 'solely'), 0o700, uid);
  if (isDirectoryOf(`/run/user/${uid}`, uid)) return ownDirectory(`/run/user/${uid}/solely`, 0o700, uid);
  if (uid === 0) return ownDirectory('/run/solely-0', 0o700, uid);
  throw new SolelyError('ENOENT', "no runtime directory for a socket: set XDG_RUNTIME_DIR or pass options.directory (never /tmp: systemd-tmpfiles ages it out)", {
    errno: errnoOf('ENOENT'),
  });
}

export function placeOf(id: string, scope: SingleInstanceScope, transport: SingleInstanceTransport, directory: unknown, uid: number, sandbox: Sandbox): Place {
  if (transport === 'abstract') {
    if (directory !== undefined) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.directory', "undefined for transport 'abstract'", directory);
    const name = abstractNameOf(id, scope, uid, sandbox);
    return { listenAddress: `\0${name}`, target: name, errorTarget: { address: `@${name}` }, connect: () => binding.abstractConnect(name) };
  }
  if (directory !== undefined && (typeof directory !== 'string' || directory === '' || directory.includes('\0'))) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.directory', 'a path', directory);
  }
  // absolutePath, not path.resolve: process.cwd() misnames a working directory that is not UTF-8,
  // and '..' after /proc/self/cwd is the kernel's to resolve.
  const base = directory === undefined ? defaultDirectory(scope, uid, sandbox) : absolutePath(directory);
  const path = `${base.endsWith('/') ? base : `${base}/`}${socketFileOf(id)}`;
  if (Buffer.byteLength(path) > MAX_NAME_BYTES) throw invalidTarget('ENAMETOOLONG', `a single-instance socket path is at most ${MAX_NAME_BYTES} bytes`, { path });
  return { listenAddress: path, target: path, errorTarget: { path }, connect: () => binding.unixConnect(path) };
}
