#!/usr/bin/env bash
# npm run test:asan: builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer, runs the
# whole suite under it, then rebuilds the normal addon (also when the suite fails).
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'echo "rebuilding the normal addon"; npm run --silent build:native >/dev/null' EXIT

npm run --silent build # first: it loads the addon, which cannot load instrumented without the preload
npm run --silent build:native -- --sanitize=1 >/dev/null
# grep reads all of ldd's output: with -q it could exit first, and pipefail would count the SIGPIPE.
ldd build/Release/solely.node | grep libasan >/dev/null || { echo "the addon is not instrumented" >&2; exit 1; }

# Node itself is not instrumented, so the ASan runtime must be loaded before anything else: preload
# it (every child inherits it, and runs unharmed). LeakSanitizer is off because Node deliberately
# leaves its own heap to the OS at exit, which would drown any report; leaks are valgrind's job
# (npm run test:valgrind). Any error, address or undefined behaviour, ends the process.
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export LD_PRELOAD
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
node -e "require('fs').readFileSync('/proc/self/maps', 'utf8').includes('libasan') || process.exit(1)" ||
  { echo "the ASan runtime is not loaded" >&2; exit 1; }
node --test test/api/*.test.js test/guarantees/*.test.js test/api/*.test.mjs
