'use strict';
// lib/index.ts loads each mechanism on first use, so it declares those exports as
// `export declare const x: typeof m.x` (a real `export { x } from` would load the module at once).
// Such a declaration carries no JSDoc to an editor: this rewrites dist/index.d.ts to re-export the
// real declarations, which only the types see. The runtime (dist/index.js) is left as it is.
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'dist', 'index.d.ts');
const text = fs.readFileSync(file, 'utf8');
const modules = new Map([...text.matchAll(/^import type \* as (\w+) from '([^']+)';\n/gm)].map(([, alias, from]) => [alias, from]));
const rewritten = text
  .replace(/^import type \* as \w+ from '[^']+';\n/gm, '')
  // A class is declared as a value and a type: the re-export carries both.
  .replace(/^export type (\w+) = (\w+)\.\1;\n/gm, (line, name, alias) => (modules.has(alias) ? '' : line))
  .replace(/^export declare const (\w+): typeof (\w+)\.\1;$/gm, (line, name, alias) => {
    if (!modules.has(alias)) throw new Error(`${file}: ${line}: no module imported as ${alias}`);
    return `export { ${name} } from '${modules.get(alias)}';`;
  });
const left = rewritten.match(/^export declare const .*$/m);
if (left !== null) throw new Error(`${file}: not a lazy export this script knows: ${left[0]}`);
fs.writeFileSync(file, rewritten);
