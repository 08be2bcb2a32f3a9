// Paths as every peer's open(2) reads them: checked, then made absolute, never normalised.
import { invalidArgument, invalidTarget } from './errno';

const PATH_MAX_BYTES = 4095;

/**
 * The working directory as a path the kernel resolves to the real one. process.cwd() decodes the
 * directory's bytes as UTF-8, so a name that is not UTF-8 comes back with U+FFFD (naming another
 * directory, or none) and Deno throws InvalidData; the kernel's own link names the real one.
 */
export function workingDirectory(): string {
  try {
    const cwd = process.cwd();
    if (!cwd.includes('\uFFFD')) return cwd;
  } catch {
    // Deno's InvalidData, or a removed directory: the link still names what open(2) would reach.
  }
  return '/proc/self/cwd';
}

/**
 * The path made absolute by prefixing the working directory, and nothing else: '..', '.', '//'
 * and a trailing '/' are the kernel's to resolve, so that this names the file that open(2),
 * flock(1) or any other peer opens for the same string ('link/..' is the symlink target's parent,
 * not the directory holding the link; 'missing/' is no regular file).
 */
export function absolutePath(path: unknown): string {
  if (typeof path !== 'string') throw invalidArgument('ERR_INVALID_ARG_TYPE', 'path', 'of type string', path);
  if (path.length === 0) throw invalidTarget('EINVAL', 'a lock path cannot be empty', { path });
  if (path.includes('\0')) throw invalidTarget('EINVAL', 'a path cannot contain a NUL byte', { path });
  // A lone surrogate would reach the kernel as U+FFFD: two spellings, one file.
  if (!path.isWellFormed()) throw invalidTarget('EINVAL', 'a path must be well-formed Unicode', { path });
  let absolute = path;
  if (!path.startsWith('/')) {
    const cwd = workingDirectory();
    absolute = cwd.endsWith('/') ? `${cwd}${path}` : `${cwd}/${path}`;
  }
  // A UTF-16 unit is at most three UTF-8 bytes, so only long paths need counting.
  if (absolute.length * 3 > PATH_MAX_BYTES && Buffer.byteLength(absolute) > PATH_MAX_BYTES) {
    throw invalidTarget('ENAMETOOLONG', `a path is at most ${PATH_MAX_BYTES} bytes`, { path: absolute });
  }
  return absolute;
}
