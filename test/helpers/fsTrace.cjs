/**
 * Preloaded into the real CLI (`node --require fsTrace.cjs cli.js ...`): records every rename
 * and every fsync (with the path the descriptor is open on, from /proc/self/fd) to the file named
 * by FS_TRACE, one JSON line each, so a test can check what a real run made durable, and in
 * which order. Linux only (/proc).
 */
'use strict';
const fs = require('node:fs');
const out = process.env.FS_TRACE;
if (out) {
  const { appendFileSync, readlinkSync, renameSync, fsyncSync } = fs;
  const log = (entry) => appendFileSync(out, `${JSON.stringify(entry)}\n`);
  fs.renameSync = function (from, to) {
    renameSync(from, to);
    log({ op: 'rename', from: String(from), to: String(to) });
  };
  fs.fsyncSync = function (fd) {
    fsyncSync(fd);
    let target = `fd ${fd}`;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {}
    log({ op: 'fsync', path: target });
  };
}
