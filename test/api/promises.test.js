'use strict';
// The promise ledger (docs/promises.md) against the documents (README.md, CONTRIBUTING.md, CHANGELOG.md,
// docs/*.md) and the tests: every quoted promise is in the document its row names, every test it
// cites exists, every export, documented error code and documented option is used by some test
// (an option as a key of an object passed to a call), and every section of every document has a
// row or is exempt.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const vm = require('node:vm');
const ts = require('typescript');
const { ROOT, testFiles, documents, read, normal, tables, fences, sections } = require('../support/docs-reader');

const LEDGER = path.join(ROOT, 'docs', 'promises.md');

function ledgerTable(header) {
  const table = tables(fs.readFileSync(LEDGER, 'utf8')).find((t) => t.header[0] === 'document' && t.header[1].startsWith(header));
  assert.ok(table, `docs/promises.md has no table whose columns are "document | ${header}..."`);
  return table.rows.map(({ line, cells: [document, quote, why] }) => ({ line, document, quote, why }));
}
const promises = () => ledgerTable('promise');
const exempt = () => ledgerTable('exempt section');

/** Test, describe and it names given as string literals in a test file's source (templates with ${} are not names). */
function testNames(source) {
  const names = new Set();
  const literal = /\b(?:test|it|describe)(?:\.(?:skip|only|todo))?\(\s*('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\$]|\\.|\$(?!\{))*`)/g;
  for (const [, text] of source.matchAll(literal)) names.add(vm.runInNewContext(text));
  return names;
}

/** Test files and their sources, this file left out. */
const testSources = () => testFiles().filter(({ full }) => full !== __filename);

function usedBy(name, sources) {
  const word = new RegExp(`(?<![\\w$])${name.replace(/[$]/g, '\\$')}(?![\\w$])`);
  return sources.some(({ source }) => word.test(source));
}

function missingFromTests(names) {
  const sources = testSources();
  return [...new Set(names)].filter((name) => !usedBy(name, sources));
}

/**
 * The keys of object literals given as options in source: an argument of a call or `new`
 * (`f(x, { wait: 10 })`, `f({ ...options, mode })`), an object nested as a property value in one
 * (`primaryOf(t, { options: { maxConnections: 4 } })`), or the value of a variable or property named
 * options (`const options = { connectionTimeout: 200 }`). A word in a comment, a string or any other
 * object does not count.
 */
function optionKeys(source) {
  const keys = new Set();
  const named = (node) => node !== undefined && (ts.isIdentifier(node) || ts.isStringLiteral(node)) && /^(o|opts|options|\w*Options)$/.test(node.text);
  const given = (node) => {
    const parent = node.parent;
    if ((ts.isCallExpression(parent) || ts.isNewExpression(parent)) && parent.arguments?.includes(node)) return true;
    if (ts.isPropertyAssignment(parent) && parent.initializer === node) return named(parent.name) || given(parent.parent);
    if (ts.isVariableDeclaration(parent)) return named(parent.name);
    if (ts.isBinaryExpression(parent) && parent.operatorToken.kind === ts.SyntaxKind.EqualsToken) return named(ts.isPropertyAccessExpression(parent.left) ? parent.left.name : parent.left);
    return false;
  };
  const visit = (node) => {
    if (ts.isObjectLiteralExpression(node) && given(node)) {
      for (const property of node.properties) if (property.name && (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name))) keys.add(property.name.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile('test.js', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS));
  return keys;
}

/** The fixtures the tests run (test/fixtures), whose calls use options too. */
function fixtureSources() {
  const dir = path.join(ROOT, 'test', 'support', 'fixtures');
  return fs.readdirSync(dir, { recursive: true }).filter((file) => /\.m?js$/.test(file)).map((file) => ({ source: fs.readFileSync(path.join(dir, file), 'utf8') }));
}

/** Options documented in the docs: `name?:` in the TypeScript signatures, and the first column of option tables. */
function documentedOptions() {
  const options = [];
  for (const document of documents()) {
    const { prose, blocks } = fences(read(document));
    for (const { body } of blocks.filter((block) => block.info === 'ts')) options.push(...[...body.matchAll(/\b(\w+)\?:/g)].map(([, name]) => name).filter((name) => name !== 'o'));
    for (const table of tables(prose).filter((t) => t.header[0] === 'option')) options.push(...table.rows.map(({ cells }) => cells[0].replaceAll('`', '')));
  }
  return [...new Set(options)];
}

test('every promise quoted in docs/promises.md is in the document its row names, once', () => {
  const known = new Set(documents());
  const texts = new Map();
  const problems = [];
  for (const { line, document, quote } of promises()) {
    if (!known.has(document)) {
      problems.push(`docs/promises.md:${line}: "${document}" is not README.md, CONTRIBUTING.md or docs/NAME.md`);
      continue;
    }
    if (!texts.has(document)) texts.set(document, normal(read(document)));
    const count = texts.get(document).split(normal(quote)).length - 1;
    if (count === 0) problems.push(`docs/promises.md:${line}: not found in ${document}: "${quote}"`);
    else if (count > 1) problems.push(`docs/promises.md:${line}: found ${count} times in ${document}, quote more to locate one sentence: "${quote}"`);
  }
  assert.deepEqual(problems, []);
});

test('every test docs/promises.md cites exists, by its exact name, in the file it names', () => {
  const files = new Map(testFiles().map(({ file, source }) => [file, source]));
  const names = new Map();
  const problems = [];
  const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts;
  for (const { line, quote, why } of promises()) {
    if (why === undefined || why === '') problems.push(`docs/promises.md:${line}: no test keeps "${quote}"`);
    for (const citation of (why ?? '').split(/; (?=[\w.-]+\.test\.m?js: |npm run )/).filter(Boolean)) {
      const script = /^npm run (\S+)$/.exec(citation);
      if (script) {
        if (!(script[1] in scripts)) problems.push(`docs/promises.md:${line}: package.json has no script "${script[1]}"`);
        continue;
      }
      const cited = /^([\w.-]+\.test\.m?js): (.+)$/.exec(citation);
      if (!cited) {
        problems.push(`docs/promises.md:${line}: "${citation}" is neither "FILE.test.js: exact test name" nor "npm run SCRIPT"`);
        continue;
      }
      const [, file, name] = cited;
      if (!files.has(file)) {
        problems.push(`docs/promises.md:${line}: no test file ${file} under test/`);
        continue;
      }
      if (!names.has(file)) names.set(file, testNames(files.get(file)));
      if (!names.get(file).has(name)) problems.push(`docs/promises.md:${line}: ${file} has no test, it or describe named exactly "${name}"`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every export of solely and of its subpaths is used by some test', () => {
  const exported = ['solely', 'solely/postgres', 'solely/redis', 'solely/dbus'].flatMap((entry) => Object.keys(require(entry)).map((name) => ({ entry, name })));
  assert.ok(exported.length > 20, 'the entry points export their API');
  const missing = missingFromTests(exported.map(({ name }) => name));
  assert.deepEqual(missing, [], `exports no test file mentions: ${missing.join(', ')}`);
});

test("every error code in the docs' errors tables is used by some test", () => {
  const codes = [];
  for (const document of documents()) {
    for (const table of tables(fences(read(document)).prose)) {
      const column = table.header.findIndex((cell) => cell.replaceAll('`', '') === 'code');
      if (column < 0) continue;
      for (const { cells } of table.rows) codes.push(...[...cells[column].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map(([, code]) => code));
    }
  }
  assert.ok(codes.includes('ELOCKED') && codes.includes('ENOTSUP') && codes.includes('EMSGSIZE'), `the errors tables were read: ${codes.join(', ')}`);
  const missing = missingFromTests(codes);
  assert.deepEqual(missing, [], `documented error codes no test file mentions: ${missing.join(', ')}`);
});

test('every option the docs document (signatures and option tables) is passed as an option key by some test or fixture', () => {
  const options = documentedOptions();
  assert.ok(options.includes('listen') && options.includes('maxMessageBytes') && options.includes('keepaliveInterval'), `the signatures and option tables were read: ${options.join(', ')}`);
  const used = new Set([...testSources(), ...fixtureSources()].flatMap(({ source }) => [...optionKeys(source)]));
  const missing = options.filter((name) => !used.has(name));
  assert.deepEqual(missing, [], `documented options no test passes as an option key: ${missing.join(', ')}`);
});

test('an option counts as used only as a key of an object given as options', () => {
  const source = [
    "// wait here, 'listen' there",
    "const wait = 'mode';",
    "f('x', { wait: 10, 'signal': s, ...o });",
    'new C({ mode });',
    'h(t, { id, options: { maxConnections: 4 } });',
    'const options = { backlog: 1 };',
    'ctx.serverOptions = { transport: 1 };',
    'const settings = { shared: true };',
    'assert.equal(x.slots, 2);',
  ].join('\n');
  assert.deepEqual([...optionKeys(source)].sort(), ['backlog', 'id', 'maxConnections', 'mode', 'options', 'signal', 'transport', 'wait']);
});

test('every section of README.md, CONTRIBUTING.md, CHANGELOG.md and docs/*.md has a row in docs/promises.md or is listed there as exempt', () => {
  const rows = promises();
  const exempted = exempt();
  const problems = [];
  for (const document of documents()) {
    const quotes = rows.filter((row) => row.document === document).map((row) => normal(row.quote));
    const exemptHere = exempted.filter((row) => row.document === document).map((row) => row.quote);
    const all = sections(read(document));
    for (const { level, heading, body } of all) {
      const covered = quotes.some((quote) => body.includes(quote));
      if (covered && exemptHere.includes(heading)) problems.push(`${document} "${level} ${heading}" is exempt in docs/promises.md but has rows: drop one or the other`);
      if (!covered && !exemptHere.includes(heading)) problems.push(`${document} "${level} ${heading}" has no row in docs/promises.md and is not listed there as exempt`);
    }
    for (const heading of exemptHere) if (!all.some((section) => section.heading === heading)) problems.push(`docs/promises.md exempts "${heading}", which is no heading of ${document}`);
  }
  for (const { line, document } of exempted) if (!documents().includes(document)) problems.push(`docs/promises.md:${line}: exempts a section of "${document}", which is no document`);
  assert.deepEqual(problems, []);
});
