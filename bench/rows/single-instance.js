'use strict';
// Process start of a single-instance secondary: delivered to the primary and its reply received.
const { spawn } = require('node:child_process');
const solely = require('../..');
const { ROOT, RUNTIME, uniqueName, children, line, compare, launches, sameModules } = require('../measure');

async function secondaryLaunch() {
  const row = 'process start';
  const node = process.execPath;
  if (typeof solely.singleInstance === 'function') {
    const id = uniqueName();
    const primary = spawn(node, ['-e', singleInstancePrimary(id)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(primary);
    await new Promise((resolve) => primary.stdout.once('data', resolve));
    const secondary = `require('solely').singleInstance(${JSON.stringify(id)}).then((r) => { if (r.primary || r.reply !== 'ok') process.exit(1); })`;
    const same = sameModules(secondary);
    const si = await launches({
      bare: () => [node, '-e', '0'],
      solely: () => [node, '-e', secondary],
      same: () => Object.assign([node, '-e', "require('solely')"], { cwd: same.cwd }),
    });
    primary.kill();
    const measure = 'single instance: secondary launch, delivered and replied';
    compare(row, measure, si, 'solely', 'bare', `${RUNTIME} -e 0`, { max: 1.08 }, { key: 'secondary' });
    compare(row, `${RUNTIME} loading the same ${same.files} files (${same.kb} KB) and the addon, running none`, si, 'same', 'bare', `${RUNTIME} -e 0`, undefined, { explains: ['secondary'] });
    compare(row, measure, si, 'solely', 'same', 'the same files loaded, none run: the floor of this launch', undefined, { explains: ['secondary'] });
  } else {
    line(row, 'single instance: secondary launch, delivered and replied', { value: 'n/a (not built yet)' });
  }
}

function singleInstancePrimary(id) {
  return `require('solely').singleInstance(${JSON.stringify(id)}).then((p) => {
    p.on('second-instance', (message, reply) => reply('ok'));
    process.stdout.write('ready\\n');
  })`;
}

module.exports = secondaryLaunch;
