'use strict';
// Reads the project's documents for the docs tests (promises.test.js, docs.test.js): which documents
// there are, their sections, tables and fenced code blocks.
const fs = require('node:fs');
const path = require('node:path');

/** The checkout: the nearest directory above this file with solely's package.json (the file may move within test/). */
function findRoot(dir) {
  const manifest = path.join(dir, 'package.json');
  if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'solely') return dir;
  return findRoot(path.dirname(dir));
}
const ROOT = findRoot(__dirname);

/** Every test file under test/ (any depth), as { file: its base name, full, source }. */
function testFiles() {
  const files = fs
    .readdirSync(path.join(ROOT, 'test'), { recursive: true })
    .filter((file) => /\.test\.m?js$/.test(file))
    .map((file) => ({ file: path.basename(file), full: path.join(ROOT, 'test', file), source: fs.readFileSync(path.join(ROOT, 'test', file), 'utf8') }));
  // The ledger cites a test file by its basename: two files sharing one would make citations ambiguous.
  const seen = new Map();
  for (const { file, full } of files) {
    if (seen.has(file)) throw new Error(`${seen.get(file)} and ${full} share a basename, which docs/promises.md cites: rename one`);
    seen.set(file, full);
  }
  return files;
}

/** Every document the ledger covers, relative to the root: README.md, CONTRIBUTING.md, CHANGELOG.md, docs/*.md but the ledger itself. */
function documents() {
  const docs = fs.readdirSync(path.join(ROOT, 'docs')).filter((file) => file.endsWith('.md') && file !== 'promises.md');
  return ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', ...docs.sort().map((file) => `docs/${file}`)];
}

function read(document) {
  return fs.readFileSync(path.join(ROOT, document), 'utf8');
}

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

/** The text without its fenced code blocks, and those blocks: { info, body, line } (line of the opening fence). */
function fences(text) {
  const blocks = [];
  for (const match of text.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)) {
    blocks.push({ info: match[1].trim(), body: match[2], line: text.slice(0, match.index).split('\n').length });
  }
  return { prose: text.replace(/^```[\s\S]*?^```$/gm, ''), blocks };
}

/** The sections of a document: every heading outside code blocks, of any level, and its normalised body up to the next heading. */
function sections(text) {
  const found = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^(#{1,6}) (.+)$/.exec(line);
    if (heading) found.push({ level: heading[1], heading: heading[2].trim(), lines: [] });
    else found.at(-1)?.lines.push(line);
  }
  return found.map(({ level, heading, lines }) => ({ level, heading, body: normal(lines.join('\n')) }));
}

module.exports = { ROOT, testFiles, documents, read, normal, tables, fences, sections };
