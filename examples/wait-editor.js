'use strict';
// A `code --wait`-style editor: the first launch is the editor; each later launch hands it its
// terminal (stdin, stdout, stderr) and waits until the editor is done with its file, then exits
// with the editor's status, as $EDITOR wrappers and `git commit` expect.
//   node examples/wait-editor.js                       # the editor: waits, Ctrl-C to quit
//   echo 'a line' | node examples/wait-editor.js notes.txt   # appends stdin to notes.txt, exits 0
// EDITOR_ID names another editor, so that two can run side by side.
const fs = require('node:fs');
const path = require('node:path');
const { singleInstance } = require('solely');

async function main() {
  const instance = await singleInstance(process.env.EDITOR_ID ?? 'solely-example-editor', { attach: true });
  if (!instance.primary) process.exit(instance.exitCode); // the editor called message.exit()
  console.log(`editor (pid ${process.pid})`);
  process.once('SIGINT', () => instance.release());
  instance.on('second-instance', (message) => {
    const file = path.resolve(message.cwd, message.argv[2] ?? 'untitled.txt');
    const chunks = [];
    message.stdin.on('data', (chunk) => chunks.push(chunk));
    message.stdin.once('end', () => {
      try {
        fs.appendFileSync(file, Buffer.concat(chunks));
      } catch (error) {
        message.stderr.write(`cannot save ${file}: ${error.code}\n`);
        message.exit(1);
        return;
      }
      message.stdout.write(`saved ${file}\n`); // straight to the launch's terminal
      message.exit(0);
    });
  });
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
