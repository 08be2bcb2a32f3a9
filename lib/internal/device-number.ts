// A device number (st_dev, st_rdev) as glibc's new_encode_dev packs it into 64 bits, split into
// the major and minor numbers the kernel's MAJOR() and MINOR() give (and /proc prints).
export function deviceNumber(dev: bigint): { major: number; minor: number } {
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
  };
}
