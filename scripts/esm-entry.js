'use strict';
// Writes dist/index.mjs and its types from the compiled CommonJS entry, so that ESM `import`
// gets the same instances (one addon, one set of error classes) with named exports.
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const names = Object.keys(require(path.join(dist, 'index.js'))).filter((n) => n !== '__esModule').sort();
const esm = [
  "import solely from './index.js';",
  `export const { ${names.join(', ')} } = solely;`,
  'export default solely;',
  '',
].join('\n');
fs.writeFileSync(path.join(dist, 'index.mjs'), esm);
fs.writeFileSync(path.join(dist, 'index.d.mts'), "export * from './index.js';\n");
