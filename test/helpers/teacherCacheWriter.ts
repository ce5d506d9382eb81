// One of several processes writing the same teacher-cache entries at once (as Slurm array tasks
// of one seed do): `node --import tsx teacherCacheWriter.ts <cacheDir> <rounds> <syncDir> <writers>`.
// Each round, the writers meet at a barrier (a file per writer in syncDir) and then write that
// round's entry (the same outputs in every process) a few times, checking that each write succeeded
// and left a whole entry. Exits 0 when every write did, 1 with the first error otherwise.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readTeacherCache, writeTeacherCache, type TeacherOutputs } from '../../src/core/distill/teacherCache.ts';

const [cacheDir, roundsText, syncDir, writersText] = process.argv.slice(2);
const rounds = Number(roundsText);
const writers = Number(writersText);
const WRITES_PER_ROUND = 3;
/** Left in syncDir by a writer that failed, so that the others stop waiting for it. */
const FAILED = 'failed';

const K = 10;
const fill = (n: number, seed: number) => Float32Array.from({ length: n * K }, (_, i) => Math.sin(i * 0.37 + seed));
const outputs: TeacherOutputs = {
  numClasses: K,
  logits: { train: fill(40, 1), validation: fill(10, 2), test: fill(10, 3) },
  features: { relu: { data: Float32Array.from({ length: 40 * 8 }, (_, i) => i % 7), shape: [40, 8] } },
};

/** Waits until every writer has reached round `r`, so that their writes of its entry overlap. */
function barrier(r: number): void {
  fs.writeFileSync(path.join(syncDir, `${r}.${process.pid}`), '');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const arrived = fs.readdirSync(syncDir);
    if (arrived.includes(FAILED)) throw new Error('another writer failed');
    if (arrived.filter((f) => f.startsWith(`${r}.`)).length >= writers) return;
    Atomics.wait(pause, 0, 0, 1);
  }
}

try {
  for (let r = 0; r < rounds; r++) {
    barrier(r);
    const key = `race-${String(r).padStart(4, '0')}`;
    for (let w = 0; w < WRITES_PER_ROUND; w++) {
      writeTeacherCache(cacheDir, key, outputs, r % 2 === 0 ? undefined : 3, { writer: process.pid });
      if (!readTeacherCache(cacheDir, key))
        throw new Error(`round ${r}: the entry does not read back whole after the write`);
    }
  }
  process.stdout.write('done\n');
} catch (err) {
  fs.writeFileSync(path.join(syncDir, FAILED), '');
  process.stdout.write(`FAILED: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
}
