'use strict';
// The promise ledger (docs/promises.md) against README.md and the tests: every quoted promise is
// in the docs, every test it cites exists by its exact name, every export, documented error code
// and documented option is used by some test, and every README section has a row or is exempt.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const vm = require('node:vm');

const ROOT = path.join(__dirname, '..');
const LEDGER = path.join(ROOT, 'docs', 'promises.md');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const normal = (text) => text.replace(/\s+/g, ' ').trim();

/** Every Markdown table in text: its header cells and its rows, each { line, cells }; `\|` is a literal pipe. */
function tables(text) {
  const lines = text.split('\n');
  const split = (line) => line.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((cell) => cell.trim().replaceAll('\\|', '|'));
  const found = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith('|') || !/^\|[\s|:-]+\|$/.test(lines[i + 1].trim())) continue;
    const table = { header: split(lines[i]), rows: [] };
    for (i += 2; i < lines.length && lines[i].startsWith('|'); i++) table.rows.push({ line: i + 1, cells: split(lines[i]) });
    found.push(table);
  }
  return found;
}

function ledgerTable(header) {
  const table = tables(fs.readFileSync(LEDGER, 'utf8')).find((t) => t.header[0] === header);
  assert.ok(table, `docs/promises.md has no table whose first column is "${header}"`);
  return table.rows;
}
const promises = () => ledgerTable('promise (quoted from README.md)');
const exempt = () => ledgerTable('exempt section').map((row) => row.cells[0]);

/** Test, describe and it names given as string literals in a test file's source (templates with ${} are not names). */
function testNames(source) {
  const names = new Set();
  const literal = /\b(?:test|it|describe)(?:\.(?:skip|only|todo))?\(\s*('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\$]|\\.|\$(?!\{))*`)/g;
  for (const [, text] of source.matchAll(literal)) names.add(vm.runInNewContext(text));
  return names;
}

/** Test files (test/*.test.js, *.test.mjs) and their sources, this file left out. */
function testSources() {
  return fs
    .readdirSync(__dirname)
    .filter((file) => /\.test\.m?js$/.test(file) && file !== path.basename(__filename))
    .map((file) => ({ file, source: fs.readFileSync(path.join(__dirname, file), 'utf8') }));
}

/** README without its fenced code blocks, and those blocks with their info strings. */
function fences(text) {
  const blocks = [...text.matchAll(/^```(\S*)[^\n]*\n([\s\S]*?)^```$/gm)].map(([, info, body]) => ({ info, body }));
  return { prose: text.replace(/^```[\s\S]*?^```$/gm, ''), blocks };
}

/** The README's ## and ### sections (headings outside code blocks): heading and normalised body, code included. */
function sections() {
  const found = [];
  let fenced = false;
  for (const line of README.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^(#{2,3}) (.+)$/.exec(line);
    if (heading) found.push({ level: heading[1], heading: heading[2].trim(), lines: [] });
    else found.at(-1)?.lines.push(line);
  }
  return found.map(({ level, heading, lines }) => ({ level, heading, body: normal(lines.join('\n')) }));
}

function usedBy(name, sources) {
  const word = new RegExp(`(?<![\\w$])${name.replace(/[$]/g, '\\$')}(?![\\w$])`);
  return sources.some(({ source }) => word.test(source));
}

function missingFromTests(names) {
  const sources = testSources();
  return [...new Set(names)].filter((name) => !usedBy(name, sources));
}

test('every promise quoted in docs/promises.md is in README.md (or docs/*.md), once', () => {
  const docs = fs.readdirSync(path.join(ROOT, 'docs')).filter((file) => file.endsWith('.md') && file !== 'promises.md');
  const texts = [['README.md', normal(README)], ...docs.map((file) => [`docs/${file}`, normal(fs.readFileSync(path.join(ROOT, 'docs', file), 'utf8'))])];
  const problems = [];
  for (const { line, cells } of promises()) {
    const quote = normal(cells[0]);
    const where = texts.filter(([, text]) => text.includes(quote));
    const count = where.reduce((sum, [, text]) => sum + text.split(quote).length - 1, 0);
    if (count === 0) problems.push(`docs/promises.md:${line}: not found in README.md or docs/*.md: "${quote}"`);
    else if (count > 1) problems.push(`docs/promises.md:${line}: found ${count} times, quote more to locate one sentence: "${quote}"`);
  }
  assert.deepEqual(problems, []);
});

test('every test docs/promises.md cites exists, by its exact name, in the file it names', () => {
  const names = new Map();
  const problems = [];
  const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts;
  for (const { line, cells } of promises()) {
    if (cells.length < 2 || cells[1] === '') problems.push(`docs/promises.md:${line}: no test keeps "${cells[0]}"`);
    for (const citation of (cells[1] ?? '').split(/; (?=[\w.-]+\.test\.m?js: |npm run )/).filter(Boolean)) {
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
      const source = path.join(__dirname, file);
      if (!fs.existsSync(source)) {
        problems.push(`docs/promises.md:${line}: test/${file} does not exist`);
        continue;
      }
      if (!names.has(file)) names.set(file, testNames(fs.readFileSync(source, 'utf8')));
      if (!names.get(file).has(name)) problems.push(`docs/promises.md:${line}: test/${file} has no test, it or describe named exactly "${name}"`);
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

test("every error code in the README's errors tables is used by some test", () => {
  const codes = [];
  for (const table of tables(fences(README).prose)) {
    const column = table.header.findIndex((cell) => cell.replaceAll('`', '') === 'code');
    if (column < 0) continue;
    for (const { cells } of table.rows) codes.push(...[...cells[column].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map(([, code]) => code));
  }
  assert.ok(codes.includes('ELOCKED') && codes.includes('ENOTSUP'), `the errors tables were read: ${codes.join(', ')}`);
  const missing = missingFromTests(codes);
  assert.deepEqual(missing, [], `documented error codes no test file mentions: ${missing.join(', ')}`);
});

test('every option the README documents (signatures and option tables) is used by some test', () => {
  const { prose, blocks } = fences(README);
  const options = [];
  // `name?:` in the TypeScript signatures; `o` is the options parameter itself.
  for (const { body } of blocks.filter((block) => block.info === 'ts')) options.push(...[...body.matchAll(/\b(\w+)\?:/g)].map(([, name]) => name).filter((name) => name !== 'o'));
  for (const table of tables(prose).filter((t) => t.header[0] === 'option')) options.push(...table.rows.map(({ cells }) => cells[0].replaceAll('`', '')));
  assert.ok(options.includes('listen') && options.includes('maxMessageBytes'), `the signatures and option tables were read: ${options.join(', ')}`);
  const missing = missingFromTests(options);
  assert.deepEqual(missing, [], `documented options no test file mentions: ${missing.join(', ')}`);
});

test('every ## and ### section of README.md has a row in docs/promises.md or is listed there as exempt', () => {
  const quotes = promises().map(({ cells }) => normal(cells[0]));
  const exempted = exempt();
  const all = sections();
  const problems = [];
  for (const { level, heading, body } of all) {
    const covered = quotes.some((quote) => body.includes(quote));
    if (covered && exempted.includes(heading)) problems.push(`README.md "${level} ${heading}" is exempt in docs/promises.md but has rows: drop one or the other`);
    if (!covered && !exempted.includes(heading)) problems.push(`README.md "${level} ${heading}" has no row in docs/promises.md and is not listed there as exempt`);
  }
  for (const heading of exempted) if (!all.some((section) => section.heading === heading)) problems.push(`docs/promises.md exempts "${heading}", which is no ## or ### heading of README.md`);
  assert.deepEqual(problems, []);
});
