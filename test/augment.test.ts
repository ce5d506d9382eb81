/**
 * Augmentation (src/core/data/augment.ts) and the batches it feeds (src/core/train/batches.ts):
 * the pixels against a PyTorch reference on every backend here, the seeding, the online teacher's
 * targets against a teacher pass on the same augmented batch (tfjs with intermediate outputs and
 * attention maps, ONNX, an ensemble), and the precomputed outputs used only without augmentation.
 * The end-to-end side (a real trainer process killed and resumed, the cache) is in
 * test/augment-run.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/core/backend.ts';
import type { AugmentSpec, LossTermSpec } from '../src/core/config/schema.ts';
import {
  augmentBatch,
  augmentParams,
  augmentProblems,
  augmentSeed,
  type AugmentParams,
} from '../src/core/data/augment.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import {
  batchTeacher,
  computeTeacherOutputs,
  disposeTeacherTensors,
  type TeacherSource,
} from '../src/core/distill/teacherOutputs.ts';
import { INFERENCE_ONLY, missingKernels, requiredKernels } from '../src/core/kernels.ts';
import { buildModel } from '../src/core/models/build.ts';
import { openOnnxTeacher } from '../src/core/models/onnxTeacher.ts';
import { seedGlobalRandom } from '../src/core/random.ts';
import { batchSource, disposeBatch, type Batch } from '../src/core/train/batches.ts';
import type { DeviceSplit } from '../src/core/train/evaluate.ts';
import { tensorflowAvailable } from './helpers/cli.ts';

// Fixture: python3 scripts/golden/make_augment_fixtures.py (PyTorch pad/slice, flip and shift per image).
interface GoldenCase {
  name: string;
  /** As written in a config: `flip` may be absent. */
  spec: Omit<AugmentSpec, 'flip'> & { flip?: boolean };
  shape: [number, number, number, number];
  x: number[];
  params: Record<keyof AugmentParams, number[]>;
  expected: number[];
}
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'augment-golden.json'), 'utf8')) as {
  cases: GoldenCase[];
};

const toParams = (p: GoldenCase['params']): AugmentParams => ({
  cropY: Int32Array.from(p.cropY),
  cropX: Int32Array.from(p.cropX),
  flip: Uint8Array.from(p.flip),
  shiftY: Int32Array.from(p.shiftY),
  shiftX: Int32Array.from(p.shiftX),
});

const SPEC: AugmentSpec = { crop: { padding: 2 }, flip: true, translate: { pixels: 1 } };

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

const backends = ['cpu', 'wasm', ...(tensorflowAvailable() ? (['tensorflow'] as const) : [])] as const;
for (const backend of backends)
  test(`augmented pixels equal the PyTorch reference exactly on ${backend} (crop, flip, translate, grayscale and RGB)`, async () => {
    await selectBackend(backend, { ...INFERENCE_ONLY, augment: true });
    try {
      for (const c of golden.cases) {
        const x = tf.tensor4d(c.x, c.shape);
        const y = augmentBatch(x, { flip: false, ...c.spec }, toParams(c.params));
        assert.deepEqual(y.shape, c.shape, c.name);
        assert.deepEqual(Array.from(await y.data()), c.expected, c.name);
        tf.dispose([x, y]);
      }
    } finally {
      await tf.setBackend('cpu');
    }
  });

test('every backend here has the kernels augmentation needs, and the table names them', () => {
  assert.ok(requiredKernels({ ...INFERENCE_ONLY, augment: true }).has('PadV2'));
  assert.ok(!requiredKernels(INFERENCE_ONLY).has('PadV2'));
  for (const backend of backends) assert.deepEqual(missingKernels(backend, { ...INFERENCE_ONLY, augment: true }), []);
});

test('the parameters come from (seed, epoch, step) alone, within their ranges', () => {
  const a = augmentParams(SPEC, 500, augmentSeed(7, 2, 3));
  assert.deepEqual(augmentParams(SPEC, 500, augmentSeed(7, 2, 3)), a, 'the same seed, epoch and step');
  assert.notDeepEqual(augmentParams(SPEC, 500, augmentSeed(7, 2, 4)), a, 'another step');
  assert.notDeepEqual(augmentParams(SPEC, 500, augmentSeed(7, 3, 3)), a, 'another epoch');
  assert.notDeepEqual(augmentParams(SPEC, 500, augmentSeed(8, 2, 3)), a, 'another seed');
  const range = (xs: ArrayLike<number>) => [Math.min(...Array.from(xs)), Math.max(...Array.from(xs))];
  assert.deepEqual(range(a.cropY), [0, 4]);
  assert.deepEqual(range(a.cropX), [0, 4]);
  assert.deepEqual(range(a.shiftY), [-1, 1]);
  assert.deepEqual(range(a.shiftX), [-1, 1]);
  const flipped = a.flip.reduce((s, f) => s + f, 0);
  assert.ok(flipped > 200 && flipped < 300, `${flipped} of 500 flipped`);
  // Transforms that are off do nothing: the centre crop, no flip, no shift.
  const flipOnly = augmentParams({ flip: true }, 50, 1);
  assert.ok(flipOnly.cropY.every((v) => v === 0) && flipOnly.shiftX.every((v) => v === 0));
  const cropOnly = augmentParams({ crop: { padding: 3 }, flip: false }, 50, 1);
  assert.ok(cropOnly.flip.every((v) => v === 0));
});

test('augment problems: tabular data is refused, as are no transform and shifts beyond half the image', () => {
  assert.match(augmentProblems(SPEC, [784])[0].message, /examples have shape \[784\].*expected image data/);
  assert.deepEqual(augmentProblems(SPEC, [28, 28, 1]), []);
  assert.match(augmentProblems({ flip: false }, [28, 28, 1])[0].message, /no transform/);
  const big = augmentProblems({ crop: { padding: 15 }, flip: false, translate: { pixels: 14 } }, [28, 28, 1]);
  assert.deepEqual(
    big.map((p) => p.at),
    [['crop', 'padding']],
  );
  assert.match(big[0].message, /expected at most 14/);
});

/** n random images [n, 6, 6, 1] with labels. */
function imageSplit(n: number, seed: number): DeviceSplit {
  const rng = seedGlobalRandom(seed);
  const x = Float32Array.from({ length: n * 36 }, () => rng.next());
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);
  return { x: tf.tensor4d(x, [n, 6, 6, 1]), y: tf.tensor1d(y, 'int32'), n };
}

const convTeacher = () =>
  buildModel(
    {
      type: 'layers',
      layers: [
        { type: 'conv2d', filters: 3, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' },
        { type: 'maxpool', poolSize: 2, padding: 'valid' },
        { type: 'flatten' },
        { type: 'dense', units: 5, activation: 'relu' },
      ],
    },
    [6, 6, 1],
    3,
  );

/** The teacher's outputs on `x` computed the offline way: the whole batch as a training split. */
async function perBatchPass(source: TeacherSource, x: tf.Tensor, requests = objective().teacher) {
  const empty = tf.zeros([0, ...x.shape.slice(1)]);
  const host = (await x.data()) as Float32Array;
  const out = await computeTeacherOutputs(
    source,
    { train: x, validation: empty, test: empty },
    { train: host, validation: new Float32Array(), test: new Float32Array() },
    x.shape[0] === 0 ? 0 : 10,
    requests,
    2, // other batches than the online pass: the outputs must not depend on it
  );
  empty.dispose();
  return out;
}

function objective() {
  const terms: LossTermSpec[] = [
    { type: 'kd', weight: 1, temperature: 2, divergence: 'forward' },
    { type: 'hint', weight: 1, student: 'dense_1', teacher: 'dense_1', distance: 'mse' },
    { type: 'attention', weight: 1, pairs: [{ student: 'conv2d_1', teacher: 'conv2d_1' }], p: 2 },
  ];
  return compileObjective({ method: 'combined', hardWeight: 1, labelSmoothing: 0, terms });
}

async function assertTeacherBatch(batch: Batch, expected: Awaited<ReturnType<typeof perBatchPass>>, what: string) {
  assert.ok(batch.teacher, what);
  assert.deepEqual(batch.teacher.logits.shape, expected.logits.train.shape, what);
  assert.ok(maxAbsDiff(await batch.teacher.logits.data(), await expected.logits.train.data()) <= 1e-6, what);
  assert.deepEqual([...batch.teacher.outputs.keys()].sort(), [...expected.outputs.keys()].sort(), what);
  for (const [key, t] of expected.outputs) {
    const got: tf.Tensor = batch.teacher.outputs.get(key)!;
    assert.deepEqual(got.shape, t.shape, `${what}: ${key}`);
    assert.ok(maxAbsDiff(await got.data(), await t.data()) <= 1e-6, `${what}: ${key}`);
  }
}

test('online: the batch is the augmented gather, and the teacher targets equal a teacher pass on that very batch (tfjs, with a hint layer and an attention map)', async () => {
  await tf.setBackend('cpu');
  const train = imageSplit(20, 1);
  const teacher = convTeacher();
  const source: TeacherSource = { kind: 'tfjs', label: 'teacher', model: teacher };
  const requests = objective().teacher;
  assert.deepEqual(
    requests.map((r) => r.key),
    ['raw:dense_1', 'attention(p=2):conv2d_1'],
  );
  const before = tf.memory().numTensors;
  const next = batchSource({ train, seed: 3, augment: SPEC, onlineTeacher: batchTeacher(source, requests) });
  const rows = Int32Array.from([5, 0, 17, 2, 11]);
  const batch = await next(2, 1, rows);

  const raw = tf.tidy(() => tf.gather(train.x, tf.tensor1d(rows, 'int32'))) as tf.Tensor4D;
  const expectedX = augmentBatch(raw, SPEC, augmentParams(SPEC, rows.length, augmentSeed(3, 2, 1)));
  assert.deepEqual(Array.from(await batch.x.data()), Array.from(await expectedX.data()));
  assert.ok(maxAbsDiff(await batch.x.data(), await raw.data()) > 0, 'the batch is augmented');
  assert.deepEqual(Array.from(await batch.y.data()), [2, 0, 2, 2, 2]);
  const pass = await perBatchPass(source, batch.x);
  await assertTeacherBatch(batch, pass, 'tfjs');
  // ... and differ from the teacher on the unaugmented rows: the targets follow the augmentation.
  const plain = await perBatchPass(source, raw);
  assert.ok(maxAbsDiff(await batch.teacher!.logits.data(), await plain.logits.train.data()) > 1e-3);

  // The same (epoch, step) gives the same batch, whatever came before it (a resumed run).
  await next(1, 0, rows).then(disposeBatch);
  const again = await next(2, 1, rows);
  assert.deepEqual(Array.from(await again.x.data()), Array.from(await batch.x.data()));
  assert.deepEqual(Array.from(await again.teacher!.logits.data()), Array.from(await batch.teacher!.logits.data()));
  tf.dispose([raw, expectedX]);
  disposeTeacherTensors(pass);
  disposeTeacherTensors(plain);
  disposeBatch(batch);
  disposeBatch(again);
  assert.equal(tf.memory().numTensors, before, 'the batches and the teacher pass leave no tensor behind');
  tf.dispose([train.x, train.y]);
  teacher.dispose();
});

test('online: an ensemble teacher (mean logits of earlier generations) on the augmented batch', async () => {
  const train = imageSplit(12, 2);
  seedGlobalRandom(5);
  const members = [convTeacher(), convTeacher()];
  const source: TeacherSource = { kind: 'ensemble', label: 'ensemble', members };
  const next = batchSource({ train, seed: 9, augment: SPEC, onlineTeacher: batchTeacher(source, []) });
  const batch = await next(1, 0, Int32Array.from([3, 1, 4, 1, 5]));
  const pass = await perBatchPass(source, batch.x, []);
  await assertTeacherBatch(batch, pass, 'ensemble');
  disposeTeacherTensors(pass);
  disposeBatch(batch);
  tf.dispose([train.x, train.y]);
  members.forEach((m) => m.dispose());
});

test('online: an ONNX teacher (onnxruntime) with an intermediate value and its attention map, on the augmented batch', async () => {
  const fixtures = path.join(__dirname, 'fixtures', 'onnx');
  const g = JSON.parse(fs.readFileSync(path.join(fixtures, 'tiny-cnn-golden.json'), 'utf8')) as {
    n: number;
    pixels: number[];
  };
  const feature = '/relu2/Relu_output_0';
  const onnx = await openOnnxTeacher(path.join(fixtures, 'tiny-cnn.onnx'), [28, 28, 1], 10, {
    layout: 'auto',
    features: [feature],
    providers: ['cpu'],
  });
  try {
    const x = tf.tensor4d(
      g.pixels.map((p) => p / 255),
      [g.n, 28, 28, 1],
    );
    const train: DeviceSplit = { x, y: tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32'), n: g.n };
    const requests = compileObjective({
      method: 'combined',
      hardWeight: 1,
      labelSmoothing: 0,
      terms: [
        { type: 'hint', weight: 1, student: 'conv2d_1', teacher: feature, distance: 'mse' },
        { type: 'attention', weight: 1, pairs: [{ student: 'conv2d_1', teacher: feature }], p: 2 },
      ],
    }).teacher;
    const source: TeacherSource = { kind: 'onnx', label: 'teacher', onnx };
    const spec: AugmentSpec = { crop: { padding: 4 }, flip: true, translate: { pixels: 2 } };
    const before = tf.memory().numTensors;
    const next = batchSource({ train, seed: 1, augment: spec, onlineTeacher: batchTeacher(source, requests) });
    const batch = await next(3, 0, Int32Array.from([4, 0, 2]));
    const pass = await perBatchPass(source, batch.x, requests);
    await assertTeacherBatch(batch, pass, 'onnx');
    assert.deepEqual(batch.teacher!.outputs.get(`attention(p=2):${feature}`)!.shape, [3, 14 * 14]);
    disposeTeacherTensors(pass);
    disposeBatch(batch);
    assert.equal(tf.memory().numTensors, before, 'no tensor left');
    tf.dispose([train.x, train.y]);
  } finally {
    await onnx.dispose();
  }
});

test('offline (no augmentation): the batch gathers the precomputed teacher outputs; with augmentation they are refused', async () => {
  const train = imageSplit(10, 4);
  const logits = tf.tensor2d(
    Array.from({ length: 30 }, (_, i) => i),
    [10, 3],
  );
  const hint = tf.tensor2d(
    Array.from({ length: 20 }, (_, i) => -i),
    [10, 2],
  );
  const teacherTrain = { logits, outputs: new Map([['raw:dense_1', hint as tf.Tensor]]) };
  const next = batchSource({ train, seed: 0, teacherTrain });
  const batch = await next(1, 0, Int32Array.from([7, 2]));
  assert.deepEqual(await batch.teacher!.logits.array(), [
    [21, 22, 23],
    [6, 7, 8],
  ]);
  assert.deepEqual(await batch.teacher!.outputs.get('raw:dense_1')!.array(), [
    [-14, -15],
    [-4, -5],
  ]);
  const gathered = tf.gather(train.x, [7, 2]);
  assert.deepEqual(Array.from(await batch.x.data()), Array.from(await gathered.data()));
  gathered.dispose();
  disposeBatch(batch);
  assert.throws(() => batchSource({ train, seed: 0, teacherTrain, augment: SPEC }), /teacher must run online/);
  tf.dispose([train.x, train.y, logits, hint]);
});
