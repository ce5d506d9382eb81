import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readIdx, readIdxPair } from '../src/core/data/idx.ts';
import { readCsv } from '../src/core/data/csv.ts';
import { DataError } from '../src/core/data/dataError.ts';
import { loadDataset } from '../src/core/data/dataset.ts';
import { demoDataDir } from '../src/core/paths.ts';
import { tempDir } from './helpers/cli.ts';

const demo = demoDataDir();
const full = '/usr/share/datasets/fashion-mnist';

function idxBytes(dims: number[], data: number[] | Uint8Array, type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

function throwsData(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('the embedded demo data: 4,000 training and 2,000 test images, 28x28, balanced classes', () => {
  for (const [split, n] of [['train', 4000], ['t10k', 2000]] as const) {
    const pair = readIdxPair(path.join(demo, `${split}-images-idx3-ubyte.gz`), path.join(demo, `${split}-labels-idx1-ubyte.gz`));
    assert.equal(pair.n, n);
    assert.deepEqual(pair.shape, [28, 28]);
    const counts = new Array(10).fill(0);
    for (const l of pair.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(n / 10));
    assert.ok(pair.images instanceof Uint8Array && pair.images.length === n * 784);
  }
});

test('the full Fashion-MNIST from Debian reads as 60,000 + 10,000', { skip: !fs.existsSync(full) && 'dataset-fashion-mnist is not installed' }, () => {
  assert.deepEqual(readIdx(path.join(full, 'train-images-idx3-ubyte.gz')).dims, [60000, 28, 28]);
  assert.equal(readIdxPair(path.join(full, 't10k-images-idx3-ubyte.gz'), path.join(full, 't10k-labels-idx1-ubyte.gz')).n, 10000);
});

test('IDX: plain and gzip files read the same; non-byte types become float32', () => {
  const dir = tempDir('idx');
  const bytes = idxBytes([2, 2, 2], [0, 1, 2, 3, 250, 251, 252, 253]);
  fs.writeFileSync(path.join(dir, 'plain'), bytes);
  fs.writeFileSync(path.join(dir, 'packed.gz'), zlib.gzipSync(bytes));
  assert.deepEqual(readIdx(path.join(dir, 'plain')), readIdx(path.join(dir, 'packed.gz')));
  const f = Buffer.alloc(8);
  f.writeFloatBE(1.5, 0);
  f.writeFloatBE(-2, 4);
  fs.writeFileSync(path.join(dir, 'floats'), idxBytes([2], f, 0x0d));
  assert.deepEqual([...readIdx(path.join(dir, 'floats')).data], [1.5, -2]);
});

test('IDX: every kind of broken file gets one clear message naming the file', () => {
  const dir = tempDir('idx-bad');
  const write = (name: string, data: Buffer) => {
    fs.writeFileSync(path.join(dir, name), data);
    return path.join(dir, name);
  };
  throwsData(() => readIdx(write('magic', Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0]))), /magic: has the wrong magic number \(0x50 0x4b 0x03 0x04\); it is not an IDX file; expected 0x00 0x00/);
  throwsData(() => readIdx(write('short', idxBytes([10, 28, 28], new Uint8Array(100)))), /short: is truncated: its header says 10 images of 28x28, 7840 bytes after the 16-byte header, but the file has only 100/);
  throwsData(() => readIdx(write('long', idxBytes([2], [1, 2, 3]))), /long: has trailing bytes/);
  throwsData(() => readIdx(write('header', Buffer.from([0, 0, 8, 3, 0, 0]))), /header: its header is truncated/);
  const gz = zlib.gzipSync(idxBytes([100], new Uint8Array(100)));
  throwsData(() => readIdx(write('torn.gz', gz.subarray(0, gz.length - 10))), /torn\.gz: the gzip stream is corrupt or truncated/);
  throwsData(() => readIdx(write('empty', Buffer.alloc(0))), /empty: is empty; expected an IDX file/);
  throwsData(() => readIdx(dir), /is a folder; expected an IDX file/);
  throwsData(() => readIdx(path.join(dir, 'nope')), /nope: the IDX file does not exist/);
  const images = write('imgs', idxBytes([3, 2, 2], new Uint8Array(12)));
  throwsData(() => readIdxPair(images, write('labels', idxBytes([2], [0, 1]))), /labels: has 2 labels but .*imgs has 3 images; expected one label per image/);
  throwsData(() => readIdxPair(images, write('labels2d', idxBytes([3, 1], [0, 1, 2]))), /labels2d: has shape \[3, 1\]; expected a labels file with one dimension/);
});

function csv(name: string, text: string): string {
  const file = path.join(tempDir('csv'), name);
  fs.writeFileSync(file, text);
  return file;
}

test('CSV: label by name, by index and from the end; headers detected; string labels indexed', () => {
  const withHeader = csv('h.csv', 'a,b,class\r\n1,2,0\r\n3,4,1\r\n5,6,1\r\n');
  const byName = readCsv(withHeader, { label: 'class', header: 'auto' });
  assert.equal(byName.n, 3);
  assert.deepEqual([...byName.features], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...byName.labels], [0, 1, 1]);
  assert.deepEqual(byName.featureNames, ['a', 'b']);
  assert.deepEqual(readCsv(withHeader, { label: -1, header: 'auto' }), byName);
  const first = readCsv(csv('f.csv', '1,0.5,2\n0,1.5,3\n'), { label: 0, header: 'auto' });
  assert.deepEqual([...first.features], [0.5, 2, 1.5, 3]);
  assert.deepEqual([...first.labels], [1, 0]);
  const named = readCsv(csv('s.csv', 'x,"kind, of"\n1,cat\n2,"dog"\n3,cat\n'), { label: 'kind, of', header: 'auto' });
  assert.deepEqual(named.classNames, ['cat', 'dog']);
  assert.deepEqual([...named.labels], [0, 1, 0]);
});

test('CSV: bad rows and cells are reported with their line and column', () => {
  throwsData(() => readCsv(csv('w.csv', 'a,b,y\n1,2,0\n1,2\n'), { label: 'y', header: 'auto' }), /w\.csv:3: has 2 fields; expected 3 fields/);
  throwsData(() => readCsv(csv('n.csv', 'a,b,y\n1,2,0\n1,x,1\n'), { label: 'y', header: true }), /n\.csv:3: column 1 \("b"\) holds "x"; expected a finite number/);
  throwsData(() => readCsv(csv('nan.csv', 'a,y\n1,0\nNaN,1\n'), { label: 'y', header: true }), /nan\.csv:3: column 0 \("a"\) holds "NaN"/);
  throwsData(() => readCsv(csv('inf.csv', 'a,y\nInfinity,0\n'), { label: 'y', header: true }), /inf\.csv:2: column 0 \("a"\) holds "Infinity"/);
  throwsData(() => readCsv(csv('e.csv', ''), { label: -1, header: 'auto' }), /e\.csv: is empty/);
  throwsData(() => readCsv(csv('ho.csv', 'a,b,y\n'), { label: 'y', header: true }), /ho\.csv: has a header but no data rows/);
  throwsData(() => readCsv(csv('u.csv', 'a,b,y\n1,2,0\n'), { label: 'label', header: true }), /u\.csv: has no column named "label"; expected one of "a", "b", "y"/);
});

test('splits are seeded: the same seed gives the same split, another seed another; the limit keeps classes balanced', () => {
  const spec = { source: 'demo', validationFraction: 0.1, trainLimit: 500, normalize: 'scale', batchSize: 32, evalBatchSize: 100 } as const;
  const a = loadDataset(spec, 1);
  const b = loadDataset(spec, 1);
  const c = loadDataset(spec, 2);
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

test('standardize fits on the training split only', () => {
  const rows = ['f,y', ...Array.from({ length: 40 }, (_, i) => `${i},${i % 2}`)];
  const file = csv('std.csv', rows.join('\n'));
  const d = loadDataset({ source: 'csv', train: file, testFraction: 0.25, label: 'y', header: 'auto', delimiter: ',', validationFraction: 0, normalize: 'standardize', batchSize: 4, evalBatchSize: 10 }, 0);
  const mean = d.train.x.reduce((s, v) => s + v, 0) / d.train.n;
  const variance = d.train.x.reduce((s, v) => s + (v - mean) ** 2, 0) / d.train.n;
  assert.ok(Math.abs(mean) < 1e-5 && Math.abs(variance - 1) < 1e-4, `mean ${mean}, variance ${variance}`);
  assert.equal(d.test.n, 10);
});

test('a single class and a batch larger than the data are refused', () => {
  const one = csv('one.csv', 'a,y\n1,0\n2,0\n3,0\n');
  throwsData(() => loadDataset({ source: 'csv', train: one, testFraction: 0.34, label: 'y', header: 'auto', delimiter: ',', validationFraction: 0, normalize: 'none', batchSize: 1, evalBatchSize: 10 }, 0), /has a single class/);
  throwsData(() => loadDataset({ source: 'demo', validationFraction: 0.1, trainLimit: 50, normalize: 'scale', batchSize: 64, evalBatchSize: 100 }, 0), /leaves 50 training examples, fewer than one batch \(data\.batchSize = 64\)/);
});
