'use strict';
// The entry point loads a mechanism's module on first use; its runtime exports and its types must agree.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { test } = require('node:test');
const ts = require('typescript');
const solely = require('..');

const DIST = path.join(__dirname, '..', 'dist');

/** The value (not type-only) exports that dist/index.d.ts declares. */
function declaredValues() {
  const file = path.join(DIST, 'index.d.ts');
  const program = ts.createProgram([file], { types: [] });
  const checker = program.getTypeChecker();
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)));
  return exported
    .filter((symbol) => (checker.getExportSymbolOfSymbol(symbol).flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol).flags & ts.SymbolFlags.Value)
    .map((symbol) => symbol.name)
    .sort();
}

test('the runtime exports are exactly the values the types declare, and each one is defined', () => {
  const runtime = Object.keys(solely).filter((name) => name !== '__esModule').sort();
  assert.deepEqual(runtime, declaredValues());
  for (const name of runtime) assert.equal(typeof solely[name], 'function', name);
});

test('require("solely") loads no mechanism until one is used, then only what it needs', () => {
  const loaded = (code) =>
    JSON.parse(execFileSync(process.execPath, ['-e', `${code}; console.log(JSON.stringify(Object.keys(require.cache)))`], { encoding: 'utf8' }))
      .filter((file) => file.startsWith(DIST))
      .map((file) => path.basename(file, '.js'))
      .sort();
  const root = JSON.stringify(path.join(__dirname, '..'));
  assert.deepEqual(loaded(`const s = require(${root})`), ['binding', 'errors', 'index', 'lock']);
  const abstract = loaded(`require(${root}).tryLockAbstractSync('solely-entry-test-${process.pid}')?.release()`);
  assert.ok(abstract.includes('abstract'));
  for (const unused of ['file', 'pidfile', 'single-instance', 'unix-server']) assert.ok(!abstract.includes(unused), unused);
});
