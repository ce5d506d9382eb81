import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  compressTopK,
  expandTopK,
  hashFiles,
  readTeacherCache,
  teacherCacheKey,
  writeTeacherCache,
  type CacheKeyParts,
  type TeacherOutputs,
} from '../src/core/distill/teacherCache.ts';
import { SeededRandom } from '../src/core/random.ts';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'distill-teacher-outputs-'));
}

function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

/** Teacher-like logits: one class clearly ahead, the rest spread. */
function outputs(nTrain = 4000, K = 10, withFeature = true): TeacherOutputs {
  const logits = (n: number, seed: number) => {
    const l = randomArray(n * K, seed, 4);
    for (let i = 0; i < n; i++) l[i * K + (i % K)] += 6;
    return l;
  };
  return {
    numClasses: K,
    logits: { train: logits(nTrain, 1), validation: logits(500, 2), test: logits(300, 3) },
    features: withFeature
      ? { 'block1/relu': { data: randomArray(nTrain * 4 * 4 * 3, 4), shape: [nTrain, 4, 4, 3] } }
      : {},
  };
}

function softmax(row: ArrayLike<number>, T = 1): number[] {
  const m = Math.max(...Array.from(row));
  const e = Array.from(row, (v) => Math.exp((v - m) / T));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

const argmax = (row: ArrayLike<number>) => Array.from(row).reduce((best, v, i, a) => (v > a[best] ? i : best), 0);

const KEY = 'a'.repeat(64);
const notes: string[] = [];

test('round trip without top-k is exact, features included', () => {
  const dir = tempDir();
  const out = outputs();
  const written = writeTeacherCache(dir, KEY, out, undefined, { teacher: 'teacher.onnx' });
  assert.equal(written.dir, path.join(dir, KEY));
  assert.deepEqual(fs.readdirSync(written.dir).sort(), ['manifest.json', 'payload.bin']);
  const back = readTeacherCache(dir, KEY);
  assert.ok(back);
  assert.equal(back.numClasses, 10);
  for (const s of ['train', 'validation', 'test'] as const) assert.deepEqual(back.logits[s], out.logits[s]);
  assert.deepEqual(back.features['block1/relu'].shape, [4000, 4, 4, 3]);
  assert.deepEqual(back.features['block1/relu'].data, out.features['block1/relu'].data);
  const manifest = JSON.parse(fs.readFileSync(path.join(written.dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.meta.teacher, 'teacher.onnx');
  assert.match(manifest.meta.createdAt, /^\d{4}-\d\d-\d\dT/);
  assert.equal(manifest.topK, null);
  // topK >= K is full storage.
  writeTeacherCache(dir, 'b'.repeat(64), out, 10, {});
  assert.deepEqual(readTeacherCache(dir, 'b'.repeat(64))!.logits.train, out.logits.train);
});

test('top-k: top-k probabilities at T = 1 are kept, the rest spread evenly, argmax kept, smaller on disk', () => {
  const out = outputs(4000, 10, false);
  const dir = tempDir();
  const full = writeTeacherCache(dir, 'f'.repeat(64), out, undefined, {});
  const k = 3;
  const top = writeTeacherCache(dir, 'e'.repeat(64), out, k, {});
  const payload = (d: string) => fs.statSync(path.join(d, 'payload.bin')).size;
  assert.ok(payload(top.dir) < payload(full.dir), `${payload(top.dir)} vs ${payload(full.dir)}`);
  notes.push(
    `4,000 + 500 + 300 rows x 10 logits: full ${payload(full.dir)} bytes payload (${full.bytes} with manifest), top-3 ${payload(top.dir)} bytes (${top.bytes} with manifest)`,
  );
  const back = readTeacherCache(dir, 'e'.repeat(64));
  assert.ok(back);
  const rebuilt: TeacherOutputs['logits'] = back.logits;
  let maxErr = 0;
  let maxRestErr = 0;
  for (const s of ['train', 'validation', 'test'] as const) {
    const K = 10;
    const a: Float32Array = out.logits[s];
    const b: Float32Array = rebuilt[s];
    for (let r = 0; r < a.length / K; r++) {
      const ra = a.subarray(r * K, (r + 1) * K);
      const rb: Float32Array = b.subarray(r * K, (r + 1) * K);
      assert.equal(argmax(rb), argmax(ra));
      const pa = softmax(ra);
      const pb = softmax(rb);
      const order = Array.from(ra.keys()).sort((x, y) => ra[y] - ra[x] || x - y);
      const topSet = new Set(order.slice(0, k));
      for (const c of topSet) maxErr = Math.max(maxErr, Math.abs(pa[c] - pb[c]));
      const rest = order.slice(k);
      const restMass = rest.reduce((sum, c) => sum + pa[c], 0);
      for (const c of rest) maxRestErr = Math.max(maxRestErr, Math.abs(pb[c] - restMass / (K - k)));
    }
  }
  assert.ok(maxErr <= 1e-6, `top-k probability max |diff| ${maxErr}`);
  assert.ok(maxRestErr <= 1e-6, `spread max |diff| ${maxRestErr}`);
  notes.push(
    `top-3 at T = 1: top-k probability max |diff| ${maxErr.toExponential(2)}, remaining classes vs even spread ${maxRestErr.toExponential(2)}`,
  );
});

test('top-k fill stays finite and exact for extreme rows; ties keep the first class', () => {
  const K = 6;
  const rows = Float32Array.from([
    ...[0, 0, 0, 0, 0, 0], // all equal: argmax 0 stays 0
    ...[500, -400, -300, -800, 1, 2], // remaining mass ~e^-498 relative: would underflow relative to the row max
    ...[3, -Infinity, -Infinity, -Infinity, -Infinity, 1], // no remaining mass at all
    ...[1, 5, 5, 2, 0, -1],
  ]);
  const c = compressTopK(rows, K, 2);
  assert.deepEqual([...c.indices], [0, 1, 0, 5, 0, 5, 1, 2]);
  assert.ok([...c.fill].every(Number.isFinite), String(c.fill));
  const back = expandTopK(c.values, c.indices, c.fill, K, 2);
  assert.equal(argmax(back.subarray(0, K)), 0);
  // Row 2: fill = log(mean(exp(-400), exp(-300), exp(-800), exp(1))) ~ 1 - log 4.
  assert.ok(Math.abs(c.fill[1] - (1 - Math.log(4))) < 1e-5, String(c.fill[1]));
  assert.equal(c.fill[2], 3 - 1000);
  // Row 4: exact for the top 2 at T = 1.
  const p = softmax(rows.subarray(3 * K, 4 * K));
  const q = softmax(back.subarray(3 * K, 4 * K));
  assert.ok(Math.abs(p[1] - q[1]) < 1e-7 && Math.abs(p[2] - q[2]) < 1e-7);
  // More than 64 kept classes goes through a sort; same result.
  const wide = randomArray(3 * 200, 9, 5);
  const bySort = compressTopK(wide, 200, 100);
  const order = Array.from({ length: 200 }, (_, i) => i).sort((x, y) => wide[y] - wide[x] || x - y);
  assert.deepEqual([...bySort.indices.subarray(0, 100)], order.slice(0, 100));
});

test('the key changes with any input byte, the teacher hash, the feature names or topK; stable otherwise', () => {
  const base: CacheKeyParts = {
    teacherHash: 'f00d'.repeat(16),
    inputs: { train: randomArray(1000, 5), validation: randomArray(100, 6), test: randomArray(100, 7) },
    featureNames: ['conv2', 'conv1'],
    topK: undefined,
  };
  const key = teacherCacheKey(base);
  assert.match(key, /^[0-9a-f]{64}$/);
  const copy = {
    ...base,
    inputs: {
      train: base.inputs.train.slice(),
      validation: base.inputs.validation.slice(),
      test: base.inputs.test.slice(),
    },
  };
  assert.equal(teacherCacheKey(copy), key, 'same content, other arrays');
  assert.equal(teacherCacheKey({ ...base, featureNames: ['conv1', 'conv2'] }), key, 'feature order does not matter');
  // A view into a larger buffer hashes its own bytes only.
  const big = new Float32Array(1100);
  big.set(base.inputs.train, 50);
  assert.equal(teacherCacheKey({ ...base, inputs: { ...base.inputs, train: big.subarray(50, 1050) } }), key);

  const keys = new Set([key]);
  const variant = (label: string, parts: CacheKeyParts) => {
    const k = teacherCacheKey(parts);
    assert.ok(!keys.has(k), `${label} does not change the key`);
    keys.add(k);
  };
  for (const split of ['train', 'validation', 'test'] as const) {
    const changed = base.inputs[split].slice();
    changed[changed.length - 1] = Math.fround(changed[changed.length - 1] + 1e-6);
    variant(`one value of ${split}`, { ...base, inputs: { ...base.inputs, [split]: changed } });
  }
  // The same values split differently between train and validation.
  const all = new Float32Array([...base.inputs.train, ...base.inputs.validation]);
  variant('split boundary', {
    ...base,
    inputs: { ...base.inputs, train: all.subarray(0, 900), validation: all.subarray(900) },
  });
  const negZero = base.inputs.test.slice();
  negZero[0] = 0;
  const posZero = negZero.slice();
  negZero[0] = -0;
  variant('+0', { ...base, inputs: { ...base.inputs, test: posZero } });
  variant('-0 (bytes differ)', { ...base, inputs: { ...base.inputs, test: negZero } });
  variant('teacher hash', { ...base, teacherHash: 'f00e'.repeat(16) });
  variant('feature names', { ...base, featureNames: ['conv1'] });
  variant('no features', { ...base, featureNames: [] });
  variant('topK 3', { ...base, topK: 3 });
  variant('topK 4', { ...base, topK: 4 });
  variant('teacher options', { ...base, teacherOptions: { layout: 'nchw' } });
  assert.throws(() => teacherCacheKey({ ...base, topK: 0 }), /topK/);
});

test('a truncated payload, an edited payload or an edited manifest reads as absent', () => {
  const dir = tempDir();
  const out = outputs(200, 10);
  const write = (key: string) => writeTeacherCache(dir, key, out, 3, { teacher: 't.onnx' }).dir;
  const ok = (key: string) => readTeacherCache(dir, key) !== undefined;

  const truncated = write('1'.repeat(64));
  assert.ok(ok('1'.repeat(64)));
  const payloadFile = path.join(truncated, 'payload.bin');
  fs.truncateSync(payloadFile, fs.statSync(payloadFile).size - 4);
  assert.equal(readTeacherCache(dir, '1'.repeat(64)), undefined);

  const flipped = write('2'.repeat(64));
  const bytes = fs.readFileSync(path.join(flipped, 'payload.bin'));
  bytes[100] ^= 1;
  fs.writeFileSync(path.join(flipped, 'payload.bin'), bytes);
  assert.equal(readTeacherCache(dir, '2'.repeat(64)), undefined);

  const edits: Array<[string, (m: Record<string, any>) => void]> = [
    ['topK', (m) => (m.topK = 2)],
    ['a feature shape', (m) => (m.features[0].shape = [200, 48])],
    ['the creation time', (m) => (m.meta.createdAt = '2000-01-01T00:00:00.000Z')],
    ['the version', (m) => (m.version = 2)],
    ['the key', (m) => (m.key = '9'.repeat(64))],
  ];
  edits.forEach(([label, edit], i) => {
    const key = String(3 + i).repeat(64);
    const d = write(key);
    const file = path.join(d, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(m);
    fs.writeFileSync(file, JSON.stringify(m));
    assert.equal(readTeacherCache(dir, key), undefined, `edited ${label}`);
  });

  const garbage = write('8'.repeat(64));
  fs.writeFileSync(path.join(garbage, 'manifest.json'), '{"format": ');
  assert.equal(readTeacherCache(dir, '8'.repeat(64)), undefined);
  fs.rmSync(path.join(garbage, 'manifest.json'));
  assert.equal(readTeacherCache(dir, '8'.repeat(64)), undefined);
  assert.equal(readTeacherCache(dir, 'c'.repeat(64)), undefined, 'absent');
  assert.equal(readTeacherCache(path.join(dir, 'no-such-folder'), KEY), undefined);
  assert.equal(readTeacherCache(dir, '../x'), undefined);
  // A bad entry is replaced by the next write.
  write('8'.repeat(64));
  assert.ok(ok('8'.repeat(64)));
});

test('a write leaves no temp folder behind, also when it replaces an entry or fails', () => {
  const dir = path.join(tempDir(), 'nested', 'cache');
  writeTeacherCache(dir, KEY, outputs(50), undefined, {});
  fs.writeFileSync(path.join(dir, KEY, 'payload.bin'), 'damaged');
  writeTeacherCache(dir, KEY, outputs(60), 2, {});
  assert.deepEqual(fs.readdirSync(dir), [KEY]);
  assert.equal(readTeacherCache(dir, KEY)!.logits.train.length, 600, 'the damaged entry was replaced');
  const bad = outputs(50);
  bad.features.x = { data: new Float32Array(5), shape: [2, 3] };
  assert.throws(() => writeTeacherCache(dir, 'd'.repeat(64), bad, undefined, {}), /do not fill shape/);
  assert.throws(() => writeTeacherCache(dir, '../escape', outputs(5), undefined, {}), /cache key/);
  assert.deepEqual(fs.readdirSync(dir), [KEY]);
});

test('hashFiles changes when a weight file changes, and not when the model folder moves', () => {
  const a = tempDir();
  fs.writeFileSync(path.join(a, 'model.json'), '{"weightsManifest": [{"paths": ["weights.bin"]}]}');
  fs.writeFileSync(path.join(a, 'weights.bin'), randomArray(1000, 3));
  const files = (d: string) => [path.join(d, 'model.json'), path.join(d, 'weights.bin')];
  const h = hashFiles(files(a));
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(hashFiles(files(a)), h);
  const b = tempDir();
  for (const f of ['model.json', 'weights.bin']) fs.copyFileSync(path.join(a, f), path.join(b, f));
  assert.equal(hashFiles(files(b)), h, 'same files in another folder');
  const w = fs.readFileSync(path.join(b, 'weights.bin'));
  w[w.length - 1] ^= 0x80;
  fs.writeFileSync(path.join(b, 'weights.bin'), w);
  assert.notEqual(hashFiles(files(b)), h, 'one weight bit');
  // Moving bytes from one file to the next changes it (lengths are hashed), as does renaming or reordering.
  const c = tempDir();
  fs.writeFileSync(path.join(c, 'model.json'), fs.readFileSync(path.join(a, 'model.json')).subarray(0, 10));
  fs.writeFileSync(
    path.join(c, 'weights.bin'),
    Buffer.concat([
      fs.readFileSync(path.join(a, 'model.json')).subarray(10),
      fs.readFileSync(path.join(a, 'weights.bin')),
    ]),
  );
  assert.notEqual(hashFiles(files(c)), h);
  assert.notEqual(hashFiles(files(a).reverse()), h);
  fs.renameSync(path.join(b, 'weights.bin'), path.join(b, 'w2.bin'));
  fs.writeFileSync(path.join(b, 'w2.bin'), fs.readFileSync(path.join(a, 'weights.bin')));
  assert.notEqual(hashFiles([path.join(b, 'model.json'), path.join(b, 'w2.bin')]), h);
  // Larger than one read chunk.
  const big = path.join(a, 'big.bin');
  fs.writeFileSync(big, new Uint8Array(3 * (1 << 20) + 5).fill(7));
  const hb = hashFiles([big]);
  const bytes = fs.readFileSync(big);
  bytes[2 * (1 << 20) + 1] = 8;
  fs.writeFileSync(big, bytes);
  assert.notEqual(hashFiles([big]), hb);
  fs.rmSync(big);
});

test('summary', () => {
  for (const line of notes) console.log(line);
});
