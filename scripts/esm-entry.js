'use strict';
// For every entry of package.json "exports" with an "import" condition, writes its ESM wrapper
// (dist/X.mjs) and types (dist/X.d.mts) from the compiled CommonJS module named by "require", so
// that `import` gets the same instances (one addon, one set of error classes) with named exports.
// A new subpath ("./postgres") needs only its exports entry, in the same shape as ".".
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const { exports: entries } = require(path.join(root, 'package.json'));

/** The import specifier of the CommonJS module, relative to the file that imports it. */
function specifier(from, cjs) {
  return `./${path.relative(path.dirname(path.join(root, from)), path.join(root, cjs))}`;
}

for (const [subpath, entry] of Object.entries(entries)) {
  if (typeof entry !== 'object' || entry.import === undefined) continue;
  const names = Object.keys(require(path.join(root, entry.require.default))).filter((n) => n !== '__esModule').sort();
  if (names.includes('default')) throw new Error(`${subpath}: a CommonJS export named "default" would shadow the module`);
  const js = specifier(entry.import.default, entry.require.default);
  const types = specifier(entry.import.types, entry.require.default);
  fs.writeFileSync(
    path.join(root, entry.import.default),
    [`import mod from '${js}';`, `export const { ${names.join(', ')} } = mod;`, 'export default mod;', ''].join('\n'),
  );
  fs.writeFileSync(
    path.join(root, entry.import.types),
    [`import * as mod from '${types}';`, `export * from '${types}';`, 'export default mod;', ''].join('\n'),
  );
}
