'use strict';
// Checks the prebuilds with readelf: the right machine, stripped, and symbol floors no higher than
// what Node 20's own Linux binaries need (built on RHEL 8: glibc 2.28, libstdc++ of GCC 8), so a
// prebuild loads wherever Node 20 runs. Prints each floor for the README.
// Usage: node scripts/check-prebuild.js [linux-x64 linux-arm64 ...] (default: every prebuild).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const PREBUILDS = path.join(__dirname, '..', 'prebuilds');
const MACHINES = { 'linux-x64': 'Advanced Micro Devices X86-64', 'linux-arm64': 'AArch64' };
const CEILINGS = { GLIBC: '2.28', GLIBCXX: '3.4.25', CXXABI: '1.3.11' };

const readelf = (...args) => execFileSync('readelf', ['-W', ...args], { encoding: 'utf8' });

function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  }
  return 0;
}

/** The highest version of each library's symbols the file needs: { GLIBC: '2.28', ... }. */
function floors(file) {
  const found = {};
  for (const [, lib, version] of readelf('-V', file).matchAll(/Name: (GLIBC|GLIBCXX|CXXABI)_([\d.]+)/g)) {
    if (found[lib] === undefined || compareVersions(version, found[lib]) > 0) found[lib] = version;
  }
  return found;
}

function check(tuple) {
  const dir = path.join(PREBUILDS, tuple);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  if (files.length === 0) return [`${tuple}: no prebuild in ${dir}`];
  const problems = [];
  for (const name of files) {
    const file = path.join(dir, name);
    const shown = path.relative(process.cwd(), file);
    const machine = /Machine:\s+(.+)/.exec(readelf('-h', file))?.[1].trim();
    if (machine !== MACHINES[tuple]) problems.push(`${shown}: machine ${machine}, expected ${MACHINES[tuple]}`);
    if (/\.symtab\b/.test(readelf('-S', file))) problems.push(`${shown}: not stripped`);
    const needed = [...readelf('-d', file).matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]);
    const found = floors(file);
    for (const [lib, ceiling] of Object.entries(CEILINGS)) {
      if (found[lib] !== undefined && compareVersions(found[lib], ceiling) > 0) {
        const symbols = readelf('--dyn-syms', file).split('\n').filter((l) => l.includes(`@${lib}_${found[lib]}`));
        problems.push(`${shown}: needs ${lib} ${found[lib]} > ${ceiling}, for:\n  ${symbols.map((l) => l.match(/\S+@\S+/)?.[0]).join('\n  ')}`);
      }
    }
    const shownFloors = Object.entries(found).map(([lib, v]) => `${lib} >= ${v}`).join(', ');
    console.log(`${shown}: ${machine}; ${shownFloors}; needs ${needed.join(' ')}`);
  }
  return problems;
}

const tuples = process.argv.length > 2 ? process.argv.slice(2) : fs.readdirSync(PREBUILDS).filter((t) => t in MACHINES);
const problems = tuples.flatMap(check);
if (problems.length > 0) {
  console.error(`check-prebuild: ${problems.join('\n')}`);
  process.exit(1);
}
