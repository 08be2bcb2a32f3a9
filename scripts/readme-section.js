'use strict';
// Replaces the generated section NAME of a document (between <!-- NAME:start --> and
// <!-- NAME:end -->) with standard input, so that figures in the docs come from the project's scripts:
//   node bench/run.js --markdown | node scripts/readme-section.js docs/performance.md performance
const fs = require('node:fs');
const path = require('node:path');

const [file, name] = process.argv.slice(2);
const start = `<!-- ${name}:start -->`;
const end = `<!-- ${name}:end -->`;
const document = path.resolve(__dirname, '..', file ?? '');
const text = file && name && fs.existsSync(document) ? fs.readFileSync(document, 'utf8') : '';
const from = text.indexOf(start);
const to = text.indexOf(end);
if (from < 0 || to < from) {
  console.error(`usage: ... | node scripts/readme-section.js FILE NAME (FILE needs ${start} ... ${end})`);
  process.exit(64);
}
const body = fs.readFileSync(0, 'utf8').trim();
if (body === '') {
  console.error(`readme-section: nothing on standard input; ${file} left as it was`);
  process.exit(1);
}
fs.writeFileSync(document, `${text.slice(0, from + start.length)}\n${body}\n${text.slice(to)}`);
console.log(`${file}: section ${name} updated`);
