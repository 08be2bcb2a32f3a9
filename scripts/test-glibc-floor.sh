#!/bin/sh
# Runs test/support/native/glibc_floor_test.cc against src-native/glibc_floor.cc, linked with the --wrap
# flags of binding.gyp: natively for x64, under qemu-user for arm64 (skipped without qemu-aarch64).
# Usage: scripts/test-glibc-floor.sh x64|arm64
set -eu
cd "$(dirname "$0")/.."
case "$1" in
  x64) cxx=c++ run= ;;
  arm64) cxx=aarch64-linux-gnu-g++ run="qemu-aarch64 -L /usr/aarch64-linux-gnu" ;;
  *) echo "usage: scripts/test-glibc-floor.sh x64|arm64" >&2; exit 2 ;;
esac
if [ -n "$run" ] && ! command -v qemu-aarch64 >/dev/null; then
  echo "test-glibc-floor: skipped for $1: no qemu-aarch64 (apt-get install qemu-user)"
  exit 0
fi
wrap=$(grep -o -- '--wrap=[a-z0-9]*' binding.gyp | paste -sd, -)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
$cxx -std=c++17 -O2 -Wall -Wextra -Werror -D_FILE_OFFSET_BITS=64 -o "$scratch/test" \
  test/support/native/glibc_floor_test.cc src-native/glibc_floor.cc "-Wl,$wrap"
mkdir "$scratch/files"
echo "test-glibc-floor: $1"
$run "$scratch/test" "$scratch/files"
