'use strict';
// Process start: a launch that takes a lock, and one that runs a command under the CLI.
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, RUNTIME, uniqueName, line, compare, launches, sameModules } = require('../measure');

async function startup() {
  const row = 'process start';
  const node = process.execPath;
  const lock = () => `require('solely').lockAbstractSync(${JSON.stringify(uniqueName())})`;
  const same = sameModules(lock());
  const s = await launches({
    bare: () => [node, '-e', '0'],
    solely: () => [node, '-e', lock()],
    same: () => Object.assign([node, '-e', "require('solely')"], { cwd: same.cwd }),
  });
  compare(row, `${RUNTIME} -e "require('solely').lockAbstractSync('x')"`, s, 'solely', 'bare', `${RUNTIME} -e 0`, { max: 1.03 }, { key: 'start' });
  const sameMeasure = `${RUNTIME} loading the same ${same.files} files (${same.kb} KB) and the addon, running none`;
  compare(row, sameMeasure, s, 'same', 'bare', `${RUNTIME} -e 0`, undefined, { explains: ['start'] });
  compare(row, `${RUNTIME} -e "require('solely').lockAbstractSync('x')"`, s, 'solely', 'same', 'the same files loaded, none run: the floor of this launch', undefined, { explains: ['start'] });

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
