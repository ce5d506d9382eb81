import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { parseConfigText } from '../src/core/config/load.ts';
import { ConfigError } from '../src/core/config/problems.ts';
import { dataSchema, type DataSpec } from '../src/core/config/schema.ts';
import { DataError } from '../src/core/data/dataError.ts';
import { loadDataset } from '../src/core/data/dataset.ts';
import { readIdx } from '../src/core/data/idx.ts';
import { loadNpyArray, readNpy, readNpz, type NdArray } from '../src/core/data/npy.ts';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import { catchDataError } from './helpers/dataErrors.ts';
import { root, runCli, runFolders, tempDir, writeConfig } from './helpers/cli.ts';
import { writeNpy, writeNpz } from './helpers/npyWriter.ts';

// Fixtures written by numpy (scripts/fixtures/make_npy_fixtures.py), with the values numpy holds.
const fixtures = path.join(root, 'test', 'fixtures', 'npy');
const fixture = (name: string) => path.join(fixtures, name);
type Expected = { dtype: string; shape: number[]; values: Array<number | string> };
const expected: { files: Record<string, Expected | { arrays: Record<string, Expected> }> } = JSON.parse(
  fs.readFileSync(fixture('expected.json'), 'utf8'),
);

/** Asserts that `a` holds exactly what numpy held: dtype, shape and every value, C order. */
function assertArray(a: NdArray, want: Expected, where: string) {
  assert.equal(a.dtype, want.dtype, `${where}: dtype`);
  assert.deepEqual(a.shape, want.shape, `${where}: shape`);
  assert.equal(a.data.length, want.values.length, `${where}: length`);
  want.values.forEach((v, k) => {
    const got = a.data[k];
    const at = `${where}[${k}]`;
    if (typeof got === 'bigint') return assert.equal(got, BigInt(v), at);
    if (v === 'nan') return assert.ok(Number.isNaN(got), `${at}: ${got}, expected NaN`);
    const num = v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === '-0' ? -0 : (v as number);
    // float32 (and float16, widened exactly) hold the value numpy rounded: compare at float32.
    const exact = a.data instanceof Float32Array ? Math.fround(num) : num;
    assert.ok(Object.is(got, exact), `${at}: ${got}, expected ${exact}`);
  });
}

/** The header text of a .npy file, to check that a fixture is what its name says. */
const headerOf = (name: string) => fs.readFileSync(fixture(name)).subarray(0, 128).toString('latin1');

test('every .npy fixture numpy wrote reads back with its dtype, shape and values, in C order', () => {
  const names = Object.keys(expected.files).filter((n) => n.endsWith('.npy'));
  for (const name of names) assertArray(readNpy(fixture(name)), expected.files[name] as Expected, name);
  // The fixtures cover what they claim (so this test cannot pass on a thinner set).
  for (const code of ['u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f2', 'f4', 'f8'])
    for (const order of ['le', 'be']) assert.ok(names.includes(`dtype_${code}_${order}.npy`), `${code} ${order}`);
  for (const code of ['b1', 'u1', 'i1']) assert.ok(names.includes(`dtype_${code}_na.npy`));
  assert.match(headerOf('dtype_f8_be.npy'), /'descr': '>f8'/);
  assert.match(headerOf('dtype_f2_be.npy'), /'descr': '>f2'/);
  for (const name of ['fortran_2d.npy', 'fortran_3d.npy', 'fortran_4d.npy', 'fortran_5d.npy', 'fortran_be_f8.npy'])
    assert.match(headerOf(name), /'fortran_order': True/, name);
  assert.equal(fs.readFileSync(fixture('version2.npy'))[6], 2);
  assert.equal(fs.readFileSync(fixture('version3.npy'))[6], 3);
  assert.deepEqual(readNpy(fixture('rank0.npy')).shape, []);
  assert.deepEqual(readNpy(fixture('empty.npy')).shape, [0, 3]);
});

test('half floats convert exactly, specials included; int64 / uint64 extremes survive as BigInt', () => {
  const half = readNpy(fixture('dtype_f2_be.npy'));
  assert.ok(half.data instanceof Float32Array);
  assert.deepEqual([...half.data.subarray(1, 6)], [Infinity, -Infinity, -0, 2 ** -16, 65504]);
  const i8 = readNpy(fixture('dtype_i8_be.npy')).data;
  assert.ok(i8 instanceof BigInt64Array);
  assert.equal(i8[0], -(2n ** 63n));
  assert.equal(i8[23], 2n ** 63n - 1n);
  const u8 = readNpy(fixture('dtype_u8_le.npy')).data;
  assert.ok(u8 instanceof BigUint64Array);
  assert.equal(u8[23], 2n ** 64n - 1n);
});

test('Fortran-order arrays of any rank come back in C order', () => {
  // np.asfortranarray(np.arange(120).reshape(2, 3, 4, 5)): C order is arange again.
  assert.deepEqual([...readNpy(fixture('fortran_4d.npy')).data], [...Array(120).keys()]);
  assert.deepEqual([...readNpy(fixture('fortran_5d.npy')).data], [...Array(24).keys()]);
  assert.deepEqual([...readNpy(fixture('fortran_2d.npy')).data], [...Array(12).keys()]);
  // The file itself is column-major: its first values are 0, 4, 8 (down the first column).
  const raw = fs.readFileSync(fixture('fortran_2d.npy'));
  const body = new Float32Array(raw.buffer.slice(raw.byteOffset + raw.length - 48, raw.byteOffset + raw.length));
  assert.deepEqual([...body.subarray(0, 3)], [0, 4, 8]);
});

test('.npz archives, stored (np.savez) and deflated (np.savez_compressed), read every array by key', () => {
  for (const name of ['savez.npz', 'savez_compressed.npz', 'single.npz', 'tabular.npz']) {
    const want = (expected.files[name] as { arrays: Record<string, Expected> }).arrays;
    const arrays = readNpz(fixture(name));
    assert.deepEqual([...arrays.keys()].sort(), Object.keys(want).sort(), name);
    for (const [key, w] of Object.entries(want)) {
      assertArray(arrays.get(key)!, w, `${name}[${key}]`);
      assertArray(loadNpyArray({ file: fixture(name), key }), w, `${name}[${key}] by key`);
    }
  }
  // A single-array archive needs no key; a .npy needs none either.
  assert.deepEqual(loadNpyArray({ file: fixture('single.npz') }).shape, [4, 2]);
  assert.deepEqual(loadNpyArray({ file: fixture('rank2.npy') }).shape, [3, 4]);
  // Stored and deflated archives of the same arrays give the same arrays.
  assert.deepEqual(readNpz(fixture('savez.npz')), readNpz(fixture('savez_compressed.npz')));
});

test('arrays that are not numbers are refused, naming the file and the dtype', () => {
  const cases: Array<[string, RegExp]> = [
    [
      'object.npy',
      /: holds an object array \(dtype '\|O'\), which cannot be read \(its elements are pickled Python objects, and pickles are never loaded\); expected a numeric dtype: bool, .*float64/,
    ],
    ['unicode.npy', /: holds an array of unicode strings \(dtype '<U3'\).*astype\(np\.float32\)/],
    ['bytes.npy', /: holds an array of byte strings \(dtype '\|S3'\)/],
    [
      'structured.npy',
      /: holds a structured array \(dtype \[\('a', '<i4'\), \('b', '<f8'\)\]\).*save each field as its own array/,
    ],
    ['complex.npy', /: holds an array of complex numbers \(dtype '<c8'\)/],
    ['datetime.npy', /: holds an array of datetimes \(dtype '<M8\[D\]'\)/],
  ];
  for (const [name, pattern] of cases) {
    const err = catchDataError(() => readNpy(fixture(name)), fixture(name));
    assert.ok(err.message.startsWith(`${fixture(name)}: `), err.message);
    assert.match(err.message, pattern);
  }
});

test('truncated, damaged and foreign files are refused with what is wrong', () => {
  const cases: Array<[string, RegExp]> = [
    [
      'truncated.npy',
      /: is truncated: its header announces shape \(2, 3, 4\) of int16, little-endian \(48 bytes of values\) but 43 bytes follow the header; expected the complete file/,
    ],
    ['truncated_header.npy', /: is truncated: it ends inside its header/],
    [
      'two_arrays.npy',
      /: has 136 bytes after the values of its shape \(3,\) array \(several np\.save calls into one file\?\)/,
    ],
    ['not_npy.npy', /: is not a \.npy file: it starts with the bytes 30 2e 35 2c 31 2e; expected the \.npy magic/],
    [
      'version9.npy',
      /: has \.npy format version 9\.0, which this reader does not know; expected format version 1\.0, 2\.0 or 3\.0/,
    ],
    ['savez.npz', /: is a zip archive \(an \.npz\), not a \.npy file/],
  ];
  for (const [name, pattern] of cases)
    assert.match(catchDataError(() => readNpy(fixture(name)), fixture(name)).message, pattern);
  const npz = fixture('truncated.npz');
  assert.match(
    catchDataError(() => readNpz(npz), npz).message,
    /: is not a readable \.npz archive: the zip data is corrupt or truncated/,
  );
  assert.match(catchDataError(() => loadNpyArray({ file: npz, key: 'labels' }), npz).message, /corrupt or truncated/);
  assert.match(
    catchDataError(() => readNpz(fixture('rank2.npy')), fixture('rank2.npy')).message,
    /is a \.npy file, not an \.npz archive/,
  );
  const missing = path.join(fixtures, 'absent.npy');
  assert.match(catchDataError(() => readNpy(missing), missing).message, /the \.npy file does not exist/);
  // Headers that are not what np.save writes.
  const headers = tempDir('npy-headers');
  const withHeader = (name: string, header: string) => {
    const file = path.join(headers, name);
    const text = Buffer.from(header.padEnd(117, ' ') + '\n', 'latin1');
    fs.writeFileSync(
      file,
      Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]), text, Buffer.alloc(8)]),
    );
    return file;
  };
  const headerCases: Array<[string, string, RegExp]> = [
    [
      'no-order.npy',
      "{'descr': '<f4', 'shape': (2,), }",
      /: has a header without 'fortran_order'; expected the keys 'descr', 'fortran_order' and 'shape'/,
    ],
    [
      'garbled.npy',
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ",
      /: has a header that is not a Python dict literal \(expected "," or "}" at character \d+\)/,
    ],
    ['list.npy', "['<f4', False, (2,)]", /: has a header that is not a dict/],
    [
      'shape.npy',
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }",
      /: has 'shape' \(2, -1\) in its header; expected a tuple of non-negative integers/,
    ],
    [
      'order.npy',
      "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }",
      /: has 'fortran_order' 0 in its header; expected True or False/,
    ],
  ];
  for (const [name, header, pattern] of headerCases) {
    const file = withHeader(name, header);
    assert.match(catchDataError(() => readNpy(file), file).message, pattern);
  }
  // The same writer with a good header reads (so the cases above fail for their header alone).
  const good = withHeader('good.npy', "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }");
  assert.deepEqual(readNpy(good), { dtype: 'float32', shape: [2], data: new Float32Array(2) });
  // A truncated member inside an archive is named.
  const dir = tempDir('npz-member');
  const member = fs.readFileSync(fixture('truncated.npy'));
  const file = path.join(dir, 'damaged.npz');
  fs.writeFileSync(file, zipSync({ 'x.npy': member }, { level: 0 }));
  assert.match(
    catchDataError(() => readNpz(file), file).message,
    /: member x\.npy is truncated: its header announces shape \(2, 3, 4\)/,
  );
});

test('keys of an .npz: none for several arrays, an unknown one, or one for a .npy are refused with the keys', () => {
  const npz = fixture('savez.npz');
  assert.match(
    catchDataError(() => loadNpyArray({ file: npz, keyField: 'data.train.xKey' }), npz).message,
    /: holds 4 arrays \(arr_0, images, labels, weights\) and no key \(data\.train\.xKey\) says which one to use/,
  );
  assert.match(
    catchDataError(() => loadNpyArray({ file: npz, key: 'x_train', keyField: 'data.train.xKey' }), npz).message,
    /: has no array "x_train" \(data\.train\.xKey\): it holds arr_0, images, labels, weights/,
  );
  const npy = fixture('rank2.npy');
  assert.match(
    catchDataError(() => loadNpyArray({ file: npy, key: 'x' }), npy).message,
    /is a \.npy file \(one array\), but a key "x" was given/,
  );
});

// --- the npy data source ---------------------------------------------------------------------

const spec = (fields: Record<string, unknown>): DataSpec =>
  dataSchema.parse({ source: 'npy', batchSize: 4, validationFraction: 0.1, ...fields });

const pair = (x: string, y = 'labels.npy', keys: { xKey?: string; yKey?: string } = {}) => ({
  x: fixture(x),
  y: fixture(y),
  ...keys,
});

async function rejectsData(fn: () => Promise<unknown>, file: string, pattern: RegExp) {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.match(err.message, pattern);
    return true;
  });
}

test('NCHW arrays (PyTorch) with layout "nchw" give the same dataset as the NHWC file of the same images', async () => {
  const nhwc = await loadDataset(spec({ train: pair('images_nhwc.npy'), test: pair('images_nhwc.npy') }), 3);
  const nchw = await loadDataset(
    spec({ train: pair('images_nchw.npy'), test: pair('images_nchw.npy'), layout: 'nchw' }),
    3,
  );
  const fortran = await loadDataset(
    spec({ train: pair('images_nchw_fortran.npy'), test: pair('images_nchw_fortran.npy'), layout: 'nchw' }),
    3,
  );
  assert.deepEqual(nhwc.inputShape, [4, 5, 3]);
  assert.deepEqual(nchw, nhwc);
  assert.deepEqual(fortran, nhwc);
  // uint8 arrays are pixels: `scale` divides by 255, and the values are the file's, NHWC.
  assert.equal(nhwc.normalization.detail, 'x / 255');
  const raw = readNpy(fixture('images_nhwc.npy')).data as Uint8Array;
  assert.deepEqual(
    [...nhwc.test.x],
    [...raw].map((v) => Math.fround(v / 255)),
  );
  assert.deepEqual(
    [...nhwc.test.y],
    [...Array(12).keys()].map((k) => k % 3),
  );
  // Read as NHWC, the NCHW file would be 5-channel images 3 pixels high: refused with the fix.
  await rejectsData(
    () => loadDataset(spec({ train: pair('images_nchw.npy') }), 3),
    fixture('images_nchw.npy'),
    /: the array \(data\.train\.x\) has shape \(12, 3, 4, 5\), which reads as 5-channel images 3 pixels high: it looks like PyTorch's \(n, channels, height, width\); expected data\.layout "nchw"/,
  );
});

test('3-D arrays are one-channel images; feature vectors in an .npz are min-max scaled; labels in any integral form', async () => {
  const gray = await loadDataset(spec({ train: pair('images_gray.npy') }), 1);
  assert.deepEqual(gray.inputShape, [4, 5, 1]);
  const ints = await loadDataset(spec({ train: pair('tabular.npz', 'tabular.npz', { xKey: 'x', yKey: 'y' }) }), 1);
  assert.deepEqual(ints.inputShape, [6]);
  assert.equal(ints.numClasses, 3);
  assert.match(ints.normalization.detail, /min-max/);
  for (const labels of ['labels.npy', 'labels_float.npy', 'labels_column.npy']) {
    const d = await loadDataset(spec({ train: pair('images_gray.npy', labels) }), 1);
    assert.deepEqual(d, gray, labels);
  }
});

test('the held-out test fraction is seeded like the other sources', async () => {
  const s = spec({ train: pair('images_gray.npy'), testFraction: 0.25 });
  const a = await loadDataset(s, 5);
  const b = await loadDataset(s, 5);
  const c = await loadDataset(s, 6);
  assert.equal(a.test.n, 3);
  assert.equal(a.train.n + a.validation.n, 9);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.test.x, c.test.x);
});

test('bad labels and shapes are refused with the first offending index and the config field', async () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [
      { train: pair('images_gray.npy', 'labels_negative.npy') },
      'labels_negative.npy',
      /: the array \(data\.train\.y\) holds -1 at index 7; expected class indices 0, 1, 2, \.\.\./,
    ],
    [
      { train: pair('images_gray.npy', 'labels_fractional.npy') },
      'labels_fractional.npy',
      /: the array \(data\.train\.y\) holds 2\.5 at index 4, not an integer/,
    ],
    [
      { train: pair('images_gray.npy', 'labels_onehot.npy') },
      'labels_onehot.npy',
      /has shape \(12, 3\): 3 values per example; expected integer class labels of shape \(n,\) or \(n, 1\) \(for one-hot labels save y\.argmax\(axis=1\)\)/,
    ],
    [
      { train: pair('images_gray.npy', 'labels_short.npy') },
      'labels_short.npy',
      /: holds 10 labels \(data\.train\.y\) for 12 examples in .*images_gray\.npy; expected one label per example/,
    ],
    [
      { train: pair('features_nan.npy') },
      'features_nan.npy',
      /: the array \(data\.train\.x\) holds NaN at index \[5, 2\]; expected finite float32 values/,
    ],
    [
      { train: pair('features_1d.npy') },
      'features_1d.npy',
      /has shape \(12,\): one value per example; .*x\.reshape\(-1, 1\)/,
    ],
    [{ train: pair('rank0.npy') }, 'rank0.npy', /has shape \(\), a single value/],
    [{ train: pair('empty.npy') }, 'empty.npy', /has shape \(0, 3\): it holds no values/],
    [
      { train: pair('images_gray.npy'), test: pair('images_nhwc.npy') },
      'images_nhwc.npy',
      /: holds test examples of shape \[4, 5, 3\]; expected \[4, 5, 1\] as in the training examples/,
    ],
    [
      { train: pair('tabular.npz', 'tabular.npz', { yKey: 'y' }) },
      'tabular.npz',
      /holds 2 arrays \(x, y\) and no key \(data\.train\.xKey\) says which one to use/,
    ],
    [{ train: pair('object.npy') }, 'object.npy', /holds an object array/],
  ];
  for (const [fields, file, pattern] of cases)
    await rejectsData(() => loadDataset(spec(fields), 1), fixture(file), pattern);
  // uint8 pixels for training but floats for testing would be normalised differently: refused.
  const dir = tempDir('npy-kinds');
  const floats = writeNpy(path.join(dir, 'gray_float.npy'), new Float32Array(12 * 20), [12, 4, 5]);
  await rejectsData(
    () => loadDataset(spec({ train: pair('images_gray.npy'), test: { x: floats, y: fixture('labels.npy') } }), 1),
    floats,
    /: holds test examples of dtype float32 but the training examples .*images_gray\.npy are uint8/,
  );
});

test('config: relative paths resolve against the config file; a missing array file is reported at its field', () => {
  const dir = tempDir('npy-config');
  fs.mkdirSync(path.join(dir, 'arrays'));
  fs.copyFileSync(fixture('images_gray.npy'), path.join(dir, 'arrays', 'x.npy'));
  fs.copyFileSync(fixture('labels.npy'), path.join(dir, 'arrays', 'y.npy'));
  const config = (data: unknown) =>
    JSON.stringify(
      { name: 'n', data, teacher: { source: 'demo' }, student: { architecture: { type: 'mlp', hidden: [4] } } },
      null,
      2,
    );
  const file = path.join(dir, 'a.distill.json');
  const loaded = parseConfigText(config({ source: 'npy', train: { x: 'arrays/x.npy', y: './arrays/y.npy' } }), file);
  assert.ok(loaded.config.data.source === 'npy');
  assert.equal(loaded.config.data.train.x, path.join(dir, 'arrays', 'x.npy'));
  assert.equal(loaded.config.data.train.y, path.join(dir, 'arrays', 'y.npy'));
  assert.equal(loaded.config.data.layout, 'nhwc');
  assert.throws(
    () =>
      parseConfigText(
        config({ source: 'npy', train: { x: 'arrays/x.npy', y: 'arrays/labels.npy' }, layout: 'chw' }),
        file,
      ),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const messages = err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
      assert.equal(messages.length, 2, messages.join('\n'));
      assert.match(messages.join('\n'), /data\.train\.y: .*arrays\/labels\.npy: the train y NumPy file does not exist/);
      assert.match(messages.join('\n'), /data\.layout: .*nhwc.*nchw/);
      return true;
    },
  );
});

// --- real training from NumPy arrays -----------------------------------------------------------

/** `n` Fashion-MNIST images (uint8, n x 28 x 28) and labels from the embedded demo data. */
function demoImages(split: 'train' | 't10k', n: number): { pixels: Uint8Array; labels: Uint8Array } {
  const data = path.join(root, 'media', 'demo', 'data');
  const images = readIdx(path.join(data, `${split}-images-idx3-ubyte.gz`)).data as Uint8Array;
  const labels = readIdx(path.join(data, `${split}-labels-idx1-ubyte.gz`)).data as Uint8Array;
  return { pixels: images.slice(0, n * 784), labels: labels.slice(0, n) };
}

const int64 = (labels: Uint8Array) => BigInt64Array.from(labels, (l) => BigInt(l));

/** Trains `config` with the real CLI in `dir` and returns the run's summary. */
function train(dir: string, config: Record<string, unknown>) {
  const file = writeConfig(dir, 'npy', {
    name: 'npy',
    backend: 'wasm',
    train: { epochs: 2, logEvery: 5, optimizer: { type: 'adam', learningRate: 0.005 } },
    export: { onnx: false },
    bench: { enabled: false },
    output: { dir: 'runs' },
    ...config,
  });
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const events: RunEvent[] = parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
  const finished = events.at(-1)!;
  assert.ok(finished.type === 'run_finished', r.stdout);
  return {
    summary: finished.summary,
    stdout: r.stdout,
    config: JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')),
  };
}

test('distill train from .npy Fashion-MNIST images (PyTorch NCHW) distils from the demo teacher', () => {
  const dir = tempDir('npy-train');
  const trainSet = demoImages('train', 600);
  const testSet = demoImages('t10k', 300);
  // (n, 1, 28, 28) as torch.save'd tensors become with .numpy(); labels int64 as PyTorch keeps them.
  writeNpy(path.join(dir, 'x_train.npy'), trainSet.pixels, [600, 1, 28, 28]);
  writeNpy(path.join(dir, 'y_train.npy'), int64(trainSet.labels), [600]);
  writeNpy(path.join(dir, 'x_test.npy'), testSet.pixels, [300, 1, 28, 28]);
  writeNpy(path.join(dir, 'y_test.npy'), int64(testSet.labels), [300]);
  const { summary, stdout, config } = train(dir, {
    data: {
      source: 'npy',
      train: { x: 'x_train.npy', y: 'y_train.npy' },
      test: { x: 'x_test.npy', y: 'y_test.npy' },
      layout: 'nchw',
      batchSize: 64,
    },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp', hidden: [16] } },
    distill: { method: 'kd', temperature: 2, alpha: 0.5 },
  });
  assert.match(stdout, /data: 540 train, 60 validation, 300 test, shape \[28, 28, 1\], 10 classes/);
  assert.equal(config.data.train.x, path.join(dir, 'x_train.npy'));
  // The demo teacher only scores well when the pixels reached it as it was trained: 28x28, x / 255.
  const teacher = summary.find((s) => s.model === 'teacher')!;
  assert.ok(teacher.accuracy > 0.8, `the demo teacher on Fashion-MNIST test images: ${teacher.accuracy}`);
  const distilled = summary.find((s) => s.model === 'distilled')!;
  assert.ok(distilled.accuracy > 0.4, `a 16-unit MLP after 2 epochs on 540 images: ${distilled.accuracy}`);
});

test('distill train from an .npz of feature vectors (np.savez_compressed), teacher trained in the run', () => {
  const dir = tempDir('npz-train');
  const { pixels, labels } = demoImages('train', 800);
  // 7x7 mean-pooled images: 49 float32 features per example.
  const features = new Float32Array(800 * 49);
  for (let i = 0; i < 800; i++)
    for (let r = 0; r < 28; r++)
      for (let c = 0; c < 28; c++)
        features[i * 49 + Math.floor(r / 4) * 7 + Math.floor(c / 4)] += pixels[i * 784 + r * 28 + c] / 16;
  writeNpz(path.join(dir, 'fashion.npz'), {
    features: { data: features, shape: [800, 49] },
    classes: { data: Int32Array.from(labels), shape: [800, 1] },
  });
  const { summary, stdout } = train(dir, {
    data: {
      source: 'npy',
      train: { x: 'fashion.npz', xKey: 'features', y: 'fashion.npz', yKey: 'classes' },
      testFraction: 0.25,
      batchSize: 32,
    },
    teacher: { source: 'train', architecture: { type: 'mlp', hidden: [64] } },
    student: { architecture: { type: 'mlp', hidden: [16] } },
    distill: { method: 'kd', temperature: 4, alpha: 0.5 },
    train: { epochs: 6, logEvery: 5, optimizer: { type: 'adam', learningRate: 0.01 } },
  });
  assert.match(stdout, /data: 540 train, 60 validation, 200 test, shape \[49\], 10 classes/);
  for (const model of ['teacher', 'distilled']) {
    const row = summary.find((s) => s.model === model)!;
    assert.ok(row.accuracy > 0.4, `${model} on 7x7 Fashion-MNIST features: ${row.accuracy}`);
  }
});

test('distill train refuses bad labels before any run folder exists (exit 2, one line, no stack)', () => {
  const dir = tempDir('npy-bad');
  const { pixels, labels } = demoImages('train', 100);
  writeNpy(path.join(dir, 'x.npy'), pixels, [100, 28, 28]);
  const bad = Float64Array.from(labels);
  bad[42] = -1;
  writeNpy(path.join(dir, 'y.npy'), bad, [100]);
  const file = writeConfig(dir, 'bad', {
    name: 'bad',
    data: { source: 'npy', train: { x: 'x.npy', y: 'y.npy' }, batchSize: 16 },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp', hidden: [4] } },
    output: { dir: 'runs' },
  });
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 2, r.stdout);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`${path.join(dir, 'y.npy')}: the array \\(data\\.train\\.y\\) holds -1 at index 42`),
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.deepEqual(runFolders(dir), []);
});
