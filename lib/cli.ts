#!/usr/bin/env node
// The `solely` executable (package.json "bin"; `node dist/cli.js` in a checkout). The command is
// cli/main.ts, loaded first and alone so that its SIGUSR1 listener comes before any other module.
import './cli/main';
