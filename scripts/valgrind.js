'use strict';
// npm run test:valgrind: runs the suites that exercise the addon most under valgrind memcheck, one
// process per file (children they spawn run natively), and fails on any memory error or
// definite leak with a frame in the addon. Node's and V8's own findings are counted, not failed.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
// Not network-fs: valgrind runs one thread at a time and keeps running a thread through a
// non-blocking lock request, which on FUSE waits for the test's own server: the loop thread that
// would let it answer never runs again (ASan covers that suite).
const FILES = ['api/abstract', 'api/file', 'guarantees/wait', 'guarantees/fd-leaks', 'api/bad-input', 'guarantees/worker', 'guarantees/socket-diag'].map((f) => `test/${f}.test.js`);
const OURS = /solely\.node|src-native\//;

const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.error('valgrind is not installed (apt-get install valgrind)');
  process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-valgrind-'));
let failed = false;
for (const file of FILES) {
  const xml = path.join(dir, `${path.basename(file)}.xml`);
  const args = [
    '--tool=memcheck',
    '--leak-check=full',
    '--show-leak-kinds=definite',
    '--errors-for-leak-kinds=definite',
    '--xml=yes',
    `--xml-file=${xml}`,
    process.execPath,
    file,
  ];
  const run = spawnSync('valgrind', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const errors = fs.readFileSync(xml, 'utf8').split('<error>').slice(1);
  const ours = errors.filter((e) => OURS.test(e));
  const kinds = {};
  for (const e of errors) {
    const kind = /<kind>(\w+)<\/kind>/.exec(e)?.[1] ?? 'unknown';
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  const testsFailed = run.status !== 0;
  console.log(`${file}: ${testsFailed ? 'TESTS FAILED, ' : ''}${ours.length} in the addon; elsewhere ${JSON.stringify(kinds)}`);
  for (const e of ours) console.log(e.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 2000));
  if (testsFailed) console.log(run.stdout.split('\n').filter((l) => /^not ok|^# (pass|fail)/.test(l)).join('\n'));
  failed ||= testsFailed || ours.length > 0;
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(failed ? 'valgrind: FAILED' : 'valgrind: clean (no memory error, no definite leak in the addon)');
process.exit(failed ? 1 : 0);
