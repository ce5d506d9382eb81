import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../src/core/data/dataError.ts';
import { loadDataset } from '../src/core/data/dataset.ts';
import { tempDir } from './helpers/cli.ts';

// Dataset assembly (splits, limits, normalisation); the IDX and CSV readers have their own
// suites: test/data-idx.test.ts and test/data-csv.test.ts.
async function throwsData(fn: () => Promise<unknown>, pattern: RegExp) {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

function csv(name: string, text: string): string {
  const file = path.join(tempDir('csv'), name);
  fs.writeFileSync(file, text);
  return file;
}

test('splits are seeded: the same seed gives the same split, another seed another; the limit keeps classes balanced', async () => {
  const spec = {
    source: 'demo',
    validationFraction: 0.1,
    trainLimit: 500,
    normalize: 'scale',
    batchSize: 32,
    evalBatchSize: 100,
  } as const;
  const a = await loadDataset(spec, 1);
  const b = await loadDataset(spec, 1);
  const c = await loadDataset(spec, 2);
  assert.deepEqual(a.train.y, b.train.y);
  assert.notDeepEqual(a.train.y, c.train.y);
  assert.equal(a.train.n, 500);
  assert.equal(a.validation.n, 400);
  assert.equal(a.test.n, 2000);
  const counts = new Array(10).fill(0);
  for (const l of a.train.y) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(50));
  assert.ok(a.train.x.every((v) => v >= 0 && v <= 1));
});

test('standardize fits on the training split only', async () => {
  const rows = ['f,y', ...Array.from({ length: 40 }, (_, i) => `${i},${i % 2}`)];
  const file = csv('std.csv', rows.join('\n'));
  const d = await loadDataset(
    {
      source: 'csv',
      train: file,
      testFraction: 0.25,
      label: 'y',
      header: 'auto',
      delimiter: ',',
      validationFraction: 0,
      normalize: 'standardize',
      batchSize: 4,
      evalBatchSize: 10,
    },
    0,
  );
  const mean = d.train.x.reduce((s, v) => s + v, 0) / d.train.n;
  const variance = d.train.x.reduce((s, v) => s + (v - mean) ** 2, 0) / d.train.n;
  assert.ok(Math.abs(mean) < 1e-5 && Math.abs(variance - 1) < 1e-4, `mean ${mean}, variance ${variance}`);
  assert.equal(d.test.n, 10);
});

test('a single class and a batch larger than the data are refused', async () => {
  const one = csv('one.csv', 'a,y\n1,0\n2,0\n3,0\n');
  await throwsData(
    () =>
      loadDataset(
        {
          source: 'csv',
          train: one,
          testFraction: 0.34,
          label: 'y',
          header: 'auto',
          delimiter: ',',
          validationFraction: 0,
          normalize: 'none',
          batchSize: 1,
          evalBatchSize: 10,
        },
        0,
      ),
    /has a single class/,
  );
  await throwsData(
    () =>
      loadDataset(
        {
          source: 'demo',
          validationFraction: 0.1,
          trainLimit: 50,
          normalize: 'scale',
          batchSize: 64,
          evalBatchSize: 100,
        },
        0,
      ),
    /leaves 50 training examples, fewer than one batch \(data\.batchSize = 64\)/,
  );
});
