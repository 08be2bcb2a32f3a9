'use strict';
// A tiny app that runs once: the first launch prints the files that later launches ask it to open.
//   node examples/single-instance.js              # the primary: waits, Ctrl-C to quit
//   node examples/single-instance.js a.txt b.txt  # forwards to the primary, prints its answer, exits
// VIEWER_ID names another app, so that two viewers can run side by side.
const path = require('node:path');
const { singleInstance } = require('solely');

async function main() {
  const files = process.argv.slice(2);
  const instance = await singleInstance(process.env.VIEWER_ID ?? 'solely-example-viewer', { data: { opened: new Date().toISOString() } });
  if (!instance.primary) {
    console.log(`sent to pid ${instance.holder.pid}: ${instance.reply}`);
    return;
  }
  console.log(`primary (pid ${process.pid}), opening: ${files.join(', ') || 'nothing'}`);
  process.once('SIGINT', () => instance.release());
  // message.argv is indexed as process.argv; relative paths are relative to the sender's cwd.
  for await (const message of instance) {
    const asked = message.argv.slice(2).map((file) => path.resolve(message.cwd, file));
    console.log(`pid ${message.pid} asks to open: ${asked.join(', ') || 'nothing'}`);
    message.reply(`opened ${asked.length} file(s)`);
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
