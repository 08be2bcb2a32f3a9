// Which filesystem a lock lives on. On network and emulated filesystems (NFS, SMB, Ceph, FUSE,
// 9p...) locks are forwarded to a server or a daemon: even a non-blocking request can wait on it,
// and some of them do not lock across machines at all.
import { binding } from './internal/binding';
import { fromErrno, invalidArgument } from './internal/errno';

/**
 * A filesystem as statfs(2) names it: its magic number, its name, and whether locks on it are
 * forwarded to a server or daemon (NFS, SMB, Ceph, FUSE, 9p...).
 */
export interface FilesystemInfo {
  /** statfs(2) f_type. */
  magic: number;
  /** A short name ('ext4', 'nfs', ...), or the magic number in hex when unknown. */
  name: string;
  /** True for network, cluster and emulated (FUSE, 9p) filesystems. */
  network: boolean;
}

// f_type values from linux/magic.h and the filesystems' own headers.
const NETWORK: ReadonlyArray<[number, string]> = [
  [0x6969, 'nfs'],
  [0x517b, 'smb'],
  [0xff534d42, 'cifs'],
  [0xfe534d42, 'smb2'],
  [0x00c36400, 'ceph'],
  [0x65735546, 'fuse'], // GlusterFS, sshfs, s3fs and every other FUSE filesystem
  [0x01021997, '9p'],
  [0x5346414f, 'afs'],
  [0x6b414653, 'afs'],
  [0x73757245, 'coda'],
  [0x564c, 'ncp'],
  [0x0bd00bd0, 'lustre'],
  [0x47504653, 'gpfs'],
  [0x01161970, 'gfs2'],
  [0x7461636f, 'ocfs2'],
  [0x19830326, 'beegfs'],
];
const LOCAL: ReadonlyArray<[number, string]> = [
  [0xef53, 'ext4'], // ext2, ext3 and ext4 share it
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
  [0x794c7630, 'overlay'],
  [0x9123683e, 'btrfs'],
  [0x58465342, 'xfs'],
  [0x2fc12fc1, 'zfs'],
  [0xf2f52010, 'f2fs'],
  [0x4d44, 'vfat'],
  [0x2011bab0, 'exfat'],
  [0x5346544e, 'ntfs'],
  [0x73717368, 'squashfs'],
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
];
const KNOWN = new Map<number, [string, boolean]>([
  ...NETWORK.map(([magic, name]): [number, [string, boolean]] => [magic, [name, true]]),
  ...LOCAL.map(([magic, name]): [number, [string, boolean]] => [magic, [name, false]]),
]);

/**
 * Names a statfs f_type (magic number) and says whether it is a network or emulated filesystem;
 * an unknown magic is named in hex and taken as local.
 * @throws {SolelyError} `ERR_INVALID_ARG_VALUE` for a magic that is not an integer >= 0.
 * @example
 * const { classifyFilesystem } = require('solely');
 * classifyFilesystem(0x6969); // { magic: 26985, name: 'nfs', network: true }
 */
export function classifyFilesystem(magic: number): FilesystemInfo {
  if (!Number.isInteger(magic) || magic < 0) throw invalidArgument('ERR_INVALID_ARG_VALUE', 'magic', 'an integer >= 0', magic);
  const [name, network] = KNOWN.get(magic) ?? [`0x${magic.toString(16)}`, false];
  return { magic, name, network };
}

/**
 * The filesystem that `path` is on (statfs(2), which follows symlinks), classified as
 * classifyFilesystem does.
 * @throws {SolelyError} `ENOENT`, `EACCES`, `ENOTDIR`... from statfs(2); {@link InvalidTargetError} `EINVAL` for an empty path.
 * @example
 * const { filesystemOf } = require('solely');
 * if (filesystemOf('/var/lock').network) console.warn('locks here may not exclude other machines');
 */
export function filesystemOf(path: string): FilesystemInfo {
  if (typeof path !== 'string') throw invalidArgument('ERR_INVALID_ARG_TYPE', 'path', 'of type string', path);
  const magic = binding.statfsType(path);
  if (magic < 0) throw fromErrno(magic, 'statfs', { path });
  return classifyFilesystem(magic);
}
