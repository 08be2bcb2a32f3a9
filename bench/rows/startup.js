'use strict';
// Process start: a launch that takes a lock, and one that runs a command under the CLI.
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, RUNTIME, uniqueName, line, compare, launches } = require('../measure');

async function startup() {
  const row = 'process start';
  const node = process.execPath;
  const s = await launches({
    bare: () => [node, '-e', '0'],
    solely: () => [node, '-e', `require('solely').lockAbstractSync(${JSON.stringify(uniqueName())})`],
  });
  compare(row, `${RUNTIME} -e "require('solely').lockAbstractSync('x')"`, s, 'solely', 'bare', `${RUNTIME} -e 0`, { max: 1.03 });

  const cli = path.join(ROOT, 'dist', 'cli.js');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  if (fs.existsSync(cli) && pkg.bin) {
    const c = await launches({
      bare: () => [node, '-e', "require('child_process').spawnSync('true', { stdio: 'inherit' })"],
      solely: () => [node, cli, 'run', '--abstract', uniqueName(), '--', 'true'],
    });
    compare(row, 'solely run --abstract NAME -- true', c, 'solely', 'bare', `${RUNTIME} -e "spawnSync('true')"`);
  } else {
    line(row, 'solely run --abstract NAME -- true', { value: 'n/a (no CLI yet)' });
  }
}

module.exports = startup;
