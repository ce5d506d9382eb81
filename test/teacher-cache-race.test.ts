// Slurm array tasks of the same data write the same teacher-cache entry at once: every writer
// must succeed and the entry must end whole (the writer that loses the rename keeps the winner's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { readTeacherCache } from '../src/core/distill/teacherCache.ts';
import { root } from './helpers/cli.ts';

const WRITER = path.join(root, 'test', 'helpers', 'teacherCacheWriter.ts');
const ROUNDS = 40;

test('two processes writing the same cache entries at once both succeed, and every entry reads back whole', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-cache-race-'));
  const cacheDir = path.join(base, 'cache');
  const syncDir = path.join(base, 'sync');
  fs.mkdirSync(syncDir);
  const writers = [0, 1].map(() => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, cacheDir, String(ROUNDS), syncDir, '2'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    return { exited: once(child, 'exit') as Promise<[number | null]>, output: () => out };
  });
  for (const w of writers) {
    const [code] = await w.exited;
    assert.equal(code, 0, w.output());
    assert.equal(w.output(), 'done\n');
  }
  const entries = fs.readdirSync(cacheDir).sort();
  assert.equal(entries.length, ROUNDS, `no temp folder left: ${entries.filter((e) => !e.startsWith('race-'))}`);
  for (const key of entries) assert.ok(readTeacherCache(cacheDir, key), `${key} reads back whole`);
  fs.rmSync(base, { recursive: true, force: true });
});
