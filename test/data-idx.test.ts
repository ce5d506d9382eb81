import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readIdx, readIdxPair } from '../src/core/data/idx.ts';
import { DataError } from '../src/core/data/dataError.ts';
import { catchDataError } from './helpers/dataErrors.ts';

const demo = path.join(__dirname, '..', 'media', 'demo', 'data');
const full = '/usr/share/datasets/fashion-mnist';
const haveFull = fs.existsSync(path.join(full, 'train-images-idx3-ubyte.gz'));

const temps: string[] = [];
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-idx-test-'));
  temps.push(dir);
  return dir;
}

/** An IDX file: 0x00 0x00 type ndims, big-endian dims, then `data` as given (already encoded). */
function idxBytes(dims: number[], data: ArrayLike<number> | Buffer, type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.isBuffer(data) ? data : Buffer.from(Array.from(data))]);
}

function write(dir: string, name: string, data: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

/** Asserts a DataError whose message starts with the file name and matches every pattern. */
function throwsData(fn: () => unknown, file: string, ...patterns: RegExp[]): DataError {
  const err = catchDataError(fn, file);
  assert.ok(err.message.startsWith(`${file}: `), `message should start with the file name: ${err.message}`);
  for (const p of patterns) assert.match(err.message, p);
  return err;
}

function classCounts(labels: Int32Array): number[] {
  const counts = new Array(10).fill(0);
  for (const l of labels) {
    assert.ok(Number.isInteger(l) && l >= 0 && l <= 9, `label ${l} out of 0..9`);
    counts[l]++;
  }
  return counts;
}

test('the embedded demo data: 4,000 training and 2,000 test images of 28x28, 400 / 200 per class', () => {
  for (const [split, n] of [
    ['train', 4000],
    ['t10k', 2000],
  ] as const) {
    const pair = readIdxPair(
      path.join(demo, `${split}-images-idx3-ubyte.gz`),
      path.join(demo, `${split}-labels-idx1-ubyte.gz`),
    );
    assert.equal(pair.n, n);
    assert.deepEqual(pair.shape, [28, 28]);
    assert.ok(pair.images instanceof Uint8Array);
    assert.equal(pair.images.length, n * 28 * 28);
    assert.equal(pair.labels.length, n);
    assert.deepEqual(classCounts(pair.labels), new Array(10).fill(n / 10));
    // Real pictures, not zeros: bytes span the range and the mean grey level is Fashion-MNIST's (about 73).
    let max = 0;
    let sum = 0;
    for (const v of pair.images) {
      sum += v;
      if (v > max) max = v;
    }
    assert.equal(max, 255);
    const mean = sum / pair.images.length;
    assert.ok(mean > 60 && mean < 85, `mean pixel ${mean}`);
    // Stored gzip-compressed.
    assert.deepEqual(
      [...fs.readFileSync(path.join(demo, `${split}-images-idx3-ubyte.gz`)).subarray(0, 2)],
      [0x1f, 0x8b],
    );
  }
});

test('the full Fashion-MNIST (Debian dataset-fashion-mnist): 60,000 + 10,000, 6,000 / 1,000 per class', (t) => {
  if (!haveFull) {
    t.skip(`${full} is absent (apt install dataset-fashion-mnist)`);
    return;
  }
  for (const [split, n] of [
    ['train', 60000],
    ['t10k', 10000],
  ] as const) {
    const pair = readIdxPair(
      path.join(full, `${split}-images-idx3-ubyte.gz`),
      path.join(full, `${split}-labels-idx1-ubyte.gz`),
    );
    assert.equal(pair.n, n);
    assert.deepEqual(pair.shape, [28, 28]);
    assert.equal(pair.images.length, n * 784);
    assert.deepEqual(classCounts(pair.labels), new Array(10).fill(n / 10));
  }
  assert.deepEqual(readIdx(path.join(full, 'train-labels-idx1-ubyte.gz')).dims, [60000]);
});

test('the demo subset is exactly the first 400 / 200 examples of each class of the full set, in file order', (t) => {
  if (!haveFull) {
    t.skip(`${full} is absent`);
    return;
  }
  for (const [split, per] of [
    ['train', 400],
    ['t10k', 200],
  ] as const) {
    const all = readIdxPair(
      path.join(full, `${split}-images-idx3-ubyte.gz`),
      path.join(full, `${split}-labels-idx1-ubyte.gz`),
    );
    const sub = readIdxPair(
      path.join(demo, `${split}-images-idx3-ubyte.gz`),
      path.join(demo, `${split}-labels-idx1-ubyte.gz`),
    );
    const seen = new Array(10).fill(0);
    const keep: number[] = [];
    all.labels.forEach((l, i) => {
      if (seen[l]++ < per) keep.push(i);
    });
    assert.equal(keep.length, sub.n);
    keep.forEach((src, i) => {
      assert.equal(sub.labels[i], all.labels[src], `label ${i}`);
      assert.deepEqual(
        sub.images.subarray(i * 784, (i + 1) * 784),
        all.images.subarray(src * 784, (src + 1) * 784),
        `image ${i}`,
      );
    });
  }
});

test('gzip is recognised by its magic bytes, not the file name; plain and gzip read the same', () => {
  const dir = tempDir();
  const bytes = idxBytes([2, 2, 2], [0, 1, 2, 3, 250, 251, 252, 253]);
  const plainNamedGz = write(dir, 'plain.gz', bytes);
  const gzipNamedPlain = write(dir, 'packed.idx', zlib.gzipSync(bytes));
  const a = readIdx(plainNamedGz);
  const b = readIdx(gzipNamedPlain);
  assert.deepEqual(a.dims, [2, 2, 2]);
  assert.ok(a.data instanceof Uint8Array);
  assert.deepEqual([...a.data], [0, 1, 2, 3, 250, 251, 252, 253]);
  assert.deepEqual(b.dims, a.dims);
  assert.deepEqual([...b.data], [...a.data]);
});

test('other IDX value types (int8, int16, int32, float32, float64) are read big-endian as float32', () => {
  const dir = tempDir();
  const enc = (size: number, put: (b: Buffer, v: number, o: number) => void, values: number[]) => {
    const b = Buffer.alloc(size * values.length);
    values.forEach((v, i) => put(b, v, i * size));
    return b;
  };
  const cases: Array<[number, Buffer, number[]]> = [
    [0x09, enc(1, (b, v, o) => b.writeInt8(v, o), [-128, -1, 0, 127]), [-128, -1, 0, 127]],
    [0x0b, enc(2, (b, v, o) => b.writeInt16BE(v, o), [-300, 1, 0, 32767]), [-300, 1, 0, 32767]],
    [0x0c, enc(4, (b, v, o) => b.writeInt32BE(v, o), [-70000, 2, 0, 123456]), [-70000, 2, 0, 123456]],
    [0x0d, enc(4, (b, v, o) => b.writeFloatBE(v, o), [1.5, -2.25, 0, 1e-3]), [1.5, -2.25, 0, Math.fround(1e-3)]],
    [
      0x0e,
      enc(8, (b, v, o) => b.writeDoubleBE(v, o), [0.1, -3, 0, 1e10]),
      [Math.fround(0.1), -3, 0, Math.fround(1e10)],
    ],
  ];
  for (const [type, data, want] of cases) {
    const r = readIdx(write(dir, `t${type}`, idxBytes([2, 2], data, type)));
    assert.deepEqual(r.dims, [2, 2]);
    assert.ok(r.data instanceof Float32Array, `type 0x${type.toString(16)} should give float32`);
    assert.deepEqual([...r.data], want, `type 0x${type.toString(16)}`);
  }
});

test('IDX header errors: wrong magic, unknown type, no dimensions, truncated header, each naming the file', () => {
  const dir = tempDir();
  const zip = write(dir, 'archive.zip', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0]));
  const e = throwsData(
    () => readIdx(zip),
    zip,
    /wrong magic number \(0x50 0x4b 0x03 0x04\)/,
    /not an IDX file/,
    /expected 0x00 0x00 <type> <dimensions>/,
  );
  assert.equal(e.found, '0x50 0x4b 0x03 0x04');
  assert.match(e.expected!, /^0x00 0x00/);

  const second = write(dir, 'second-byte', Buffer.from([0x00, 0x01, 0x08, 0x01, 0, 0, 0, 0]));
  throwsData(() => readIdx(second), second, /wrong magic number \(0x00 0x01 0x08 0x01\)/);

  const unknown = write(dir, 'unknown-type', idxBytes([1], [0], 0x0a));
  throwsData(() => readIdx(unknown), unknown, /unknown IDX value type 0x0a/, /expected type 0x08 \(unsigned byte\)/);

  const zeroDims = write(dir, 'zero-dims', Buffer.from([0, 0, 8, 0, 1, 2]));
  throwsData(() => readIdx(zeroDims), zeroDims, /0 dimensions/);

  const header = write(dir, 'short-header', Buffer.from([0, 0, 8, 3, 0, 0, 0, 10, 0, 0]));
  throwsData(
    () => readIdx(header),
    header,
    /header is truncated: the file has 10 bytes but a header with 3 dimensions takes 16/,
  );

  const tiny = write(dir, 'tiny', Buffer.from([0, 0]));
  throwsData(() => readIdx(tiny), tiny, /too short for an IDX header: the file has 2 bytes/);
});

test('IDX data length: truncated and over-long data, plain and gzip, say what the header promised and what is there', () => {
  const dir = tempDir();
  const short = write(dir, 'short-images', idxBytes([10, 28, 28], new Uint8Array(100)));
  const e = throwsData(
    () => readIdx(short),
    short,
    /is truncated: its header says 10 images of 28x28, 7840 bytes after the 16-byte header, but the file has only 100\b/,
  );
  assert.equal(e.found, '100 bytes');

  const shortGz = write(dir, 'short-labels.gz', zlib.gzipSync(idxBytes([60000], new Uint8Array(59999))));
  throwsData(
    () => readIdx(shortGz),
    shortGz,
    /truncated: its header says 60000 labels, 60000 bytes .* but the decompressed data has only 59999/,
  );

  const floats = write(dir, 'short-floats', idxBytes([3, 2], Buffer.alloc(20), 0x0d));
  throwsData(() => readIdx(floats), floats, /3 examples of 2 \(float32\), 24 bytes .* has only 20/);

  const long = write(dir, 'long', idxBytes([2], [1, 2, 3]));
  throwsData(
    () => readIdx(long),
    long,
    /trailing bytes: its header says 2 labels, 2 bytes .* has 3; expected exactly 2 bytes/,
  );
});

test('IDX gzip errors: a truncated and a corrupted stream are reported as such', () => {
  const dir = tempDir();
  const gz = zlib.gzipSync(
    idxBytes(
      [1000],
      new Uint8Array(1000).map((_, i) => (i * 7) % 256),
    ),
  );
  const torn = write(dir, 'torn.gz', gz.subarray(0, gz.length - 10));
  throwsData(() => readIdx(torn), torn, /the gzip stream is corrupt or truncated/, /expected a complete \.gz file/);
  const bad = Buffer.from(gz);
  for (let i = 12; i < bad.length - 8; i++) bad[i] ^= 0x5a;
  const corrupt = write(dir, 'corrupt.gz', bad);
  throwsData(() => readIdx(corrupt), corrupt, /the gzip stream is corrupt or truncated \(.+\)/);
  const emptyGz = write(dir, 'nothing.gz', zlib.gzipSync(Buffer.alloc(0)));
  throwsData(() => readIdx(emptyGz), emptyGz, /too short for an IDX header: the decompressed data has 0 bytes/);
});

test('IDX file-system errors: empty file, a folder, a missing file, an unreadable file', (t) => {
  const dir = tempDir();
  const empty = write(dir, 'empty', Buffer.alloc(0));
  throwsData(() => readIdx(empty), empty, /: is empty; expected an IDX file$/);
  throwsData(() => readIdx(dir), dir, /: is a folder; expected an IDX file$/);
  const missing = path.join(dir, 'no-such-file.gz');
  const e = throwsData(
    () => readIdx(missing),
    missing,
    /the IDX file does not exist; expected an IDX file at this path/,
  );
  assert.equal(e.found, 'ENOENT');
  const locked = write(dir, 'locked', idxBytes([1], [0]));
  fs.chmodSync(locked, 0);
  if (process.getuid?.() === 0) {
    t.diagnostic('running as root: permissions are not enforced, the EACCES case is not exercised');
    return;
  }
  throwsData(() => readIdx(locked), locked, /cannot be read: permission denied/);
});

test('IDX pairs: counts must match (both files and counts named); labels one-dimensional integers >= 0', () => {
  const dir = tempDir();
  const images = write(dir, 'imgs-idx3', idxBytes([3, 2, 2], new Uint8Array(12)));
  const two = write(dir, 'labels-idx1', idxBytes([2], [0, 1]));
  const e = throwsData(
    () => readIdxPair(images, two),
    two,
    /has 2 labels but .*imgs-idx3 has 3 images; expected one label per image/,
  );
  assert.ok(e.message.includes(images), 'names the images file in full');

  const ok = readIdxPair(images, write(dir, 'labels-ok', idxBytes([3], [2, 0, 1])));
  assert.deepEqual(ok, { images: new Uint8Array(12), labels: Int32Array.from([2, 0, 1]), n: 3, shape: [2, 2] });

  const twoD = write(dir, 'labels2d', idxBytes([3, 1], [0, 1, 2]));
  throwsData(() => readIdxPair(images, twoD), twoD, /has shape \[3, 1\]; expected a labels file with one dimension/);

  const flat = write(dir, 'flat-images', idxBytes([3], [0, 1, 2]));
  throwsData(() => readIdxPair(flat, twoD), flat, /has 1 dimension \(\[3\]\), so it is not an images file/);

  const fractional = Buffer.alloc(12);
  [0, 1.5, 2].forEach((v, i) => fractional.writeFloatBE(v, i * 4));
  const fl = write(dir, 'float-labels', idxBytes([3], fractional, 0x0d));
  throwsData(() => readIdxPair(images, fl), fl, /label 1 is 1\.5; expected class indices/);

  const negative = write(dir, 'negative-labels', idxBytes([3], Buffer.from([0, 0xff, 1]), 0x09));
  throwsData(() => readIdxPair(images, negative), negative, /label 1 is -1/);

  const nanImages = Buffer.alloc(12 * 4);
  nanImages.writeFloatBE(NaN, 5 * 4);
  const ni = write(dir, 'nan-images', idxBytes([3, 2, 2], nanImages, 0x0d));
  throwsData(() => readIdxPair(ni, write(dir, 'labels3', idxBytes([3], [0, 1, 2]))), ni, /value 1 of image 1 is NaN/);
});

test('DataError: message format <file>: <problem>; expected <expected>, fields for tools', () => {
  const err = new DataError('/d/x.csv', 'has 2 fields', '3 fields', { line: 7, field: 'row', found: '2 fields' });
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'DataError');
  assert.equal(err.message, '/d/x.csv:7: has 2 fields; expected 3 fields');
  assert.deepEqual(
    [err.file, err.line, err.field, err.expected, err.found],
    ['/d/x.csv', 7, 'row', '3 fields', '2 fields'],
  );
  assert.equal(new DataError('f', 'is odd').message, 'f: is odd');
});
