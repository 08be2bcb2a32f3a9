'use strict';
// npm runs this before `npm pack` and `npm publish`: it refuses to pack when prebuilds/ holds no
// binary for this platform, since such a tarball silently needs a compiler on every install.
// Usage: node scripts/prepack.js [ROOT] (default: this checkout).
const fs = require('node:fs');
const path = require('node:path');

const root = process.argv[2] ?? path.join(__dirname, '..');
const tuple = `${process.platform}-${process.arch}`;
const dir = path.join(root, 'prebuilds', tuple);
const binaries = fs.existsSync(dir) ? fs.readdirSync(dir).filter((file) => file.endsWith('.node')) : [];
if (binaries.length === 0) {
  console.error(`
prepack: REFUSED. prebuilds/${tuple}/ holds no .node binary, so this tarball would make every
install on ${tuple} compile the addon (python3, make, a C++ compiler), silently.
Run \`npm run prebuildify\` (and \`npm run prebuildify:arm64\` on x86-64), then \`npm run test:pack\`,
then pack or publish again.
`);
  process.exit(1);
}
console.log(`prepack: prebuilds/${tuple}/${binaries.join(', ')}`);
