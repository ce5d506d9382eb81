#!/usr/bin/env node
// The `distill` command: runs the bundled CLI (build it with `npm run build`).
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'trainer', 'cli.js');
if (!fs.existsSync(cli)) {
  console.error('distill: the CLI is not built yet; run `npm run build` in ' + path.join(__dirname, '..'));
  process.exit(2);
}
require(cli)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
