'use strict';
// Replaces the README's generated section NAME (between <!-- NAME:start --> and <!-- NAME:end -->)
// with standard input, so that figures in the README come from the project's scripts:
//   node bench/run.js --markdown | node scripts/readme-section.js performance
const fs = require('node:fs');
const path = require('node:path');

const name = process.argv[2];
const readme = path.join(__dirname, '..', 'README.md');
const start = `<!-- ${name}:start -->`;
const end = `<!-- ${name}:end -->`;
const text = fs.readFileSync(readme, 'utf8');
const from = text.indexOf(start);
const to = text.indexOf(end);
if (!name || from < 0 || to < from) {
  console.error(`usage: ... | node scripts/readme-section.js NAME (README.md needs ${start} ... ${end})`);
  process.exit(64);
}
const body = fs.readFileSync(0, 'utf8').trim();
if (body === '') {
  console.error('readme-section: nothing on standard input; README.md left as it was');
  process.exit(1);
}
fs.writeFileSync(readme, `${text.slice(0, from + start.length)}\n${body}\n${text.slice(to)}`);
console.log(`README.md: section ${name} updated`);
