'use strict';
// Editor hover help: every export of solely, solely/postgres and solely/dbus, imported as a
// consumer imports it (require and import), shows its JSDoc; a function or class also an
// @example, a function its @throws. Asked of TypeScript's language service, as editors ask it.
const assert = require('node:assert/strict');
const path = require('node:path');
const { test } = require('node:test');
const ts = require('typescript');

const { ROOT } = require('../support/helpers');
const ENTRIES = ['solely', 'solely/postgres', 'solely/redis', 'solely/dbus'];
const OPTIONS = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, types: ['node'] };

/** A language service over consumer files that exist only here, beside package.json: 'solely' resolves to the package itself. */
function languageService(files) {
  const host = {
    getScriptFileNames: () => [...files.keys()],
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) => {
      const text = files.get(name) ?? ts.sys.readFile(name);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => ROOT,
    getCompilationSettings: () => OPTIONS,
    getDefaultLibFileName: (options) => ts.getDefaultLibFilePath(options),
    fileExists: (name) => files.has(name) || ts.sys.fileExists(name),
    readFile: (name) => files.get(name) ?? ts.sys.readFile(name),
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  return ts.createLanguageService(host, ts.createDocumentRegistry());
}

/** Every consumer: one CommonJS (.cts) and one ESM (.mts) file per entry, with its export names. */
function consumers() {
  const cases = ENTRIES.flatMap((entry) => ['cts', 'mts'].map((ext) => ({ entry, file: path.join(ROOT, `hover-${entry.replace('/', '-')}.${ext}`) })));
  const files = new Map(cases.map(({ entry, file }) => [file, `import * as m from '${entry}';\n`]));
  const program = languageService(files).getProgram();
  const checker = program.getTypeChecker();
  for (const c of cases) {
    const [declaration] = program.getSourceFile(c.file).statements;
    const module = checker.getSymbolAtLocation(declaration.moduleSpecifier);
    assert.ok(module, `${c.entry} does not resolve from ${c.file}`);
    c.names = checker.getExportsOfModule(module).map((s) => s.name).filter((n) => n !== 'default');
  }
  return cases;
}

/** Each export's hover: what an editor shows on the name in `import { name } from entry`. */
function hovers(cases) {
  const files = new Map(cases.map(({ entry, file, names }) => [file, `import { ${names.join(', ')} } from '${entry}';\n`]));
  const service = languageService(files);
  return cases.flatMap(({ entry, file, names }) => names.map((name) => {
    const info = service.getQuickInfoAtPosition(file, files.get(file).indexOf(` ${name},`.replace(/,$/, '')) + 1);
    const signature = ts.displayPartsToString(info?.displayParts ?? []);
    return {
      where: `${entry} (${path.extname(file)}): ${name}`,
      signature,
      documentation: ts.displayPartsToString(info?.documentation ?? []).trim(),
      tags: new Set((info?.tags ?? []).map((tag) => tag.name)),
    };
  }));
}

test('every export of every entry shows JSDoc on hover: what it does, and for functions and classes an @example (functions also @throws)', () => {
  const cases = consumers();
  for (const { entry, names } of cases) assert.ok(names.length > 0, `${entry}: no exports found`);
  const missing = [];
  const all = hovers(cases);
  // The lazy entry's functions hover as functions, not as `const x: typeof m.x` (which carries no JSDoc).
  const lockFileSync = all.find((h) => h.where === 'solely (.cts): lockFileSync');
  assert.match(lockFileSync.signature, /^\(alias\) function lockFileSync\(/);
  for (const { where, signature, documentation, tags } of all) {
    if (documentation === '') missing.push(`${where}: no documentation`);
    const kind = /^\(alias\) (function|class|const)\b/.exec(signature)?.[1];
    if ((kind === 'function' || kind === 'class') && !tags.has('example')) missing.push(`${where}: no @example`);
    if (kind === 'function' && !tags.has('throws') && !/^\(alias\) function isSolelyError\b/.test(signature)) missing.push(`${where}: no @throws`);
  }
  assert.deepEqual(missing, []);
});

test('hover text agrees with what the code does: readPidfile throws no ENOENT for an absent file; isSolelyError does not deny instanceof across copies', () => {
  const file = path.join(ROOT, 'hover-claims.cts');
  const files = new Map([[file, "import { readPidfile, isSolelyError } from 'solely';\n"]]);
  const service = languageService(files);
  const hover = (name) => {
    const info = service.getQuickInfoAtPosition(file, files.get(file).indexOf(name) + 1);
    const tags = (info?.tags ?? []).map((tag) => `@${tag.name} ${ts.displayPartsToString(tag.text ?? [])}`);
    return [ts.displayPartsToString(info?.documentation ?? []), ...tags].join('\n');
  };
  // Kept by pidfile.test.js: readPidfile never needs the lock and reads garbage as no PID.
  const readPidfile = hover('readPidfile');
  assert.match(readPidfile, /An absent file .*gives `\{ pid: null, locked: false \}`/);
  assert.doesNotMatch(readPidfile, /@throws[^@]*ENOENT/);
  // Kept by errors.test.js: errors from another copy of solely are recognised by isSolelyError and instanceof, and nothing else is.
  const isSolelyError = hover('isSolelyError');
  assert.match(isSolelyError, /`instanceof SolelyError` is \(both work across\s+copies\)/);
  assert.doesNotMatch(isSolelyError, /instanceof[^.]*fails/);
});
