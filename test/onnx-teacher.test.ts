import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import {
  openOnnxTeacher,
  closestNames,
  onnxInputShape,
  type OnnxTeacherOptions,
} from '../src/core/models/onnxTeacher.ts';
import { ModelFileError, loadModel } from '../src/core/models/io.ts';
import { toOnnx } from '../src/core/export/onnx.ts';
import { readIdx } from '../src/core/data/idx.ts';
import { demoDataDir, demoTeacherPath } from '../src/core/paths.ts';

const FIXTURES = path.join(__dirname, 'fixtures', 'onnx');
const CNN = path.join(FIXTURES, 'tiny-cnn.onnx');
const MLP = path.join(FIXTURES, 'tiny-mlp.onnx');

interface Golden {
  n: number;
  dataShape: number[];
  numClasses: number;
  pixels: number[];
  logits: number[][];
  mlpLogits: number[][];
  feature: { name: string; nchwShape: number[]; nchw: number[]; nhwcShape: number[]; nhwc: number[] };
}
const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tiny-cnn-golden.json'), 'utf8')) as Golden;
/** The models' input: float32(pixel) / 255, NHWC. */
const images = Float32Array.from(golden.pixels, (p) => p / 255);
const FEATURE = golden.feature.name;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'distill-onnx-teacher-'));
}

/** The fixture model, edited by `edit` and written to a temp file. */
function editedFixture(edit: (m: onnx.ModelProto) => void, source = CNN): string {
  const m = onnx.ModelProto.decode(fs.readFileSync(source));
  edit(m);
  const file = path.join(tempDir(), 'edited.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(m).finish());
  return file;
}

/** Opens a teacher expecting a ModelFileError; returns its message. */
async function openError(
  file: string,
  dataShape: number[],
  numClasses: number,
  options: OnnxTeacherOptions,
): Promise<string> {
  try {
    const t = await openOnnxTeacher(file, dataShape, numClasses, options);
    await t.dispose();
  } catch (err) {
    assert.ok(err instanceof ModelFileError, `expected a ModelFileError, got ${(err as Error).stack}`);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    return err.message;
  }
  assert.fail('openOnnxTeacher did not throw');
}

const logged: string[] = [];

test('PyTorch NCHW CNN, layout auto: logits and the second ReLU (as NHWC) match PyTorch', async () => {
  const teacher = await openOnnxTeacher(CNN, golden.dataShape, golden.numClasses, {
    layout: 'auto',
    features: [FEATURE],
  });
  try {
    assert.equal(teacher.layout, 'nchw');
    assert.equal(teacher.inputName, 'input');
    assert.equal(teacher.logitsName, 'logits');
    logged.push(teacher.describe());
    assert.match(teacher.describe(), /nchw/);
    assert.match(teacher.describe(), /only output/);
    const { logits, features } = await teacher.run(images, golden.n, 6);
    const dLogits = maxAbsDiff(logits, golden.logits.flat());
    assert.ok(dLogits <= 1e-5, `logits max |diff| ${dLogits}`);
    const f = features[FEATURE];
    assert.deepEqual(f.shape, golden.feature.nhwcShape);
    const dFeature = maxAbsDiff(f.data, golden.feature.nhwc);
    assert.ok(dFeature <= 1e-5, `feature max |diff| ${dFeature}`);
    logged.push(
      `tiny-cnn vs PyTorch: logits max |diff| ${dLogits.toExponential(2)}, feature max |diff| ${dFeature.toExponential(2)}`,
    );
  } finally {
    await teacher.dispose();
  }
});

test('batches of 4 over 6 examples give the results of one batch of 6', async () => {
  const teacher = await openOnnxTeacher(CNN, golden.dataShape, golden.numClasses, {
    layout: 'auto',
    features: [FEATURE],
  });
  try {
    const whole = await teacher.run(images, 6, 6);
    const parts = await teacher.run(images, 6, 4);
    const d = Math.max(
      maxAbsDiff(whole.logits, parts.logits),
      maxAbsDiff(whole.features[FEATURE].data, parts.features[FEATURE].data),
    );
    assert.ok(d <= 1e-6, `batch 4 vs 6 max |diff| ${d}`);
    assert.deepEqual(parts.features[FEATURE].shape, [6, 14, 14, 8]);
    const one = await teacher.run(images, 6, 1);
    assert.ok(maxAbsDiff(whole.logits, one.logits) <= 1e-6);
    logged.push(`batch 4 vs 6 max |diff| ${d}`);
  } finally {
    await teacher.dispose();
  }
});

test('an intermediate value without a value_info entry is fetched too (ValueInfoProto: FLOAT, no shape)', async () => {
  const file = editedFixture((m) => {
    m.graph!.valueInfo = [];
  });
  const teacher = await openOnnxTeacher(file, golden.dataShape, golden.numClasses, {
    layout: 'auto',
    features: [FEATURE, 'logits'],
  });
  try {
    const { logits, features } = await teacher.run(images, 6, 4);
    assert.ok(maxAbsDiff(features[FEATURE].data, golden.feature.nhwc) <= 1e-5);
    // A graph output asked for as a feature is used as it is (rank 2: no transpose).
    assert.deepEqual(features.logits.shape, [6, 10]);
    assert.deepEqual([...features.logits.data], [...logits]);
  } finally {
    await teacher.dispose();
  }
});

test('layout nchw given explicitly; the NHWC data layout is refused for an NCHW model, naming the shapes', async () => {
  const teacher = await openOnnxTeacher(CNN, golden.dataShape, golden.numClasses, { layout: 'nchw' });
  const { logits } = await teacher.run(images, 6, 6);
  await teacher.dispose();
  assert.ok(maxAbsDiff(logits, golden.logits.flat()) <= 1e-5);
  const msg = await openError(CNN, golden.dataShape, golden.numClasses, { layout: 'nhwc' });
  assert.match(msg, /\[batch, 1, 28, 28\]/);
  assert.match(msg, /\[28, 28, 1\]/);
  assert.match(msg, /tried nhwc \[batch, 28, 28, 1\]$/);
});

test('flat MLP [batch, 784]: layout auto picks flat for 28x28x1 images, logits match PyTorch', async () => {
  const teacher = await openOnnxTeacher(MLP, golden.dataShape, golden.numClasses, { layout: 'auto' });
  try {
    assert.equal(teacher.layout, 'flat');
    const { logits } = await teacher.run(images, 6, 4);
    const d = maxAbsDiff(logits, golden.mlpLogits.flat());
    assert.ok(d <= 1e-5, `mlp logits max |diff| ${d}`);
    logged.push(`tiny-mlp vs PyTorch: logits max |diff| ${d.toExponential(2)}`);
  } finally {
    await teacher.dispose();
  }
  // Flat data of 784 features: the same model is taken as it is.
  const asIs = await openOnnxTeacher(MLP, [784], 10, { layout: 'auto' });
  assert.equal(asIs.layout, 'nhwc');
  await asIs.dispose();
});

test('a model with a fixed batch size runs in batches of that size, padding the last one', async () => {
  const file = editedFixture((m) => {
    m.graph!.input![0].type!.tensorType!.shape!.dim![0] = { dimValue: 4 };
    m.graph!.output![0].type!.tensorType!.shape!.dim![0] = { dimValue: 4 };
  });
  const teacher = await openOnnxTeacher(file, golden.dataShape, golden.numClasses, {
    layout: 'auto',
    features: [FEATURE],
  });
  try {
    assert.match(teacher.describe(), /fixed batch 4/);
    const { logits, features } = await teacher.run(images.subarray(0, 5 * 784), 5, 2);
    assert.ok(maxAbsDiff(logits, golden.logits.flat().slice(0, 50)) <= 1e-5);
    assert.ok(maxAbsDiff(features[FEATURE].data, golden.feature.nhwc.slice(0, 5 * 14 * 14 * 8)) <= 1e-5);
  } finally {
    await teacher.dispose();
  }
});

test('an NHWC model from our own exporter: layout auto keeps NHWC, logits match tfjs on 8 demo images', async () => {
  await tf.setBackend('cpu');
  const { model } = await loadModel(demoTeacherPath());
  const file = path.join(tempDir(), 'teacher.onnx');
  fs.writeFileSync(file, await toOnnx(model, { name: 'teacher' }));
  const idx = readIdx(path.join(demoDataDir(), 't10k-images-idx3-ubyte.gz'));
  const x = Float32Array.from(idx.data.subarray(0, 8 * 784), (p) => p / 255);
  const teacher = await openOnnxTeacher(file, [28, 28, 1], 10, { layout: 'auto' });
  try {
    assert.equal(teacher.layout, 'nhwc');
    const { logits } = await teacher.run(x, 8, 3);
    const want = tf.tidy(() => (model.predict(tf.tensor4d(x, [8, 28, 28, 1])) as tf.Tensor).dataSync());
    const d = maxAbsDiff(logits, want);
    assert.ok(d <= 1e-4, `ONNX vs tfjs max |diff| ${d}`);
    logged.push(
      `demo teacher, our ONNX export vs tfjs predict: logits max |diff| ${d.toExponential(2)} (|logits| up to ${Math.max(...want.map(Math.abs)).toFixed(1)})`,
    );
  } finally {
    await teacher.dispose();
    model.dispose();
  }
});

test('errors: missing file, garbage bytes, a folder', async () => {
  const missing = path.join(tempDir(), 'nope.onnx');
  assert.match(await openError(missing, [28, 28, 1], 10, { layout: 'auto' }), /does not exist/);
  const garbage = path.join(tempDir(), 'garbage.onnx');
  fs.writeFileSync(garbage, Buffer.from('this is not a protobuf message at all, just some text\n'));
  assert.match(await openError(garbage, [28, 28, 1], 10, { layout: 'auto' }), /is not an ONNX model/);
  const zeros = path.join(tempDir(), 'zeros.onnx');
  fs.writeFileSync(zeros, new Uint8Array(64));
  assert.match(await openError(zeros, [28, 28, 1], 10, { layout: 'auto' }), /is not an ONNX model: .*no graph/);
  const folder = tempDir();
  assert.match(await openError(folder, [28, 28, 1], 10, { layout: 'auto' }), /is a folder/);
});

test('errors: an unknown feature or logits name lists the closest value names', async () => {
  const msg = await openError(CNN, [28, 28, 1], 10, { layout: 'auto', features: ['relu2'] });
  assert.match(
    msg,
    /feature "relu2" is not an output or intermediate value of the model; closest of its \d+ values: "\/relu2\/Relu_output_0"/,
  );
  const msg2 = await openError(CNN, [28, 28, 1], 10, { layout: 'auto', logits: 'logit' });
  assert.match(msg2, /logits output "logit" is not an output .*: "logits"/);
  // Edit distance when nothing contains the name; at most 8 suggestions.
  const msg3 = await openError(CNN, [28, 28, 1], 10, { layout: 'auto', features: ['/relu3/Relu_output_0'] });
  const listed = msg3.slice(msg3.indexOf('values: ') + 8).split(', ');
  assert.ok(listed.length <= 8, msg3);
  assert.ok(listed[0] === '"/relu1/Relu_output_0"' || listed[0] === '"/relu2/Relu_output_0"', msg3);
  assert.deepEqual(closestNames('conv', ['a', 'conv_1', 'b', 'xconv'], 2), ['xconv', 'conv_1']);
});

test('errors: logits not [batch, numClasses] (checked on one example when opening)', async () => {
  assert.match(
    await openError(CNN, [28, 28, 1], 12, { layout: 'auto' }),
    /logits output "logits" has shape \[1, 10\] for a batch of 1; expected \[1, 12\]/,
  );
  assert.match(
    await openError(CNN, [28, 28, 1], 10, { layout: 'auto', logits: FEATURE }),
    /has shape \[1, 8, 14, 14\] .*expected \[1, 10\]/,
  );
});

test('errors: data shape that fits no layout names the model input, the data shape and the layouts tried', async () => {
  const msg = await openError(CNN, [32, 32, 3], 10, { layout: 'auto' });
  assert.match(
    msg,
    /input "input" has shape \[batch, 1, 28, 28\], which fits the data's per-example shape \[32, 32, 3\] in no layout; tried nhwc \[batch, 32, 32, 3\], nchw \[batch, 3, 32, 32\], flat \[batch, 3072\]/,
  );
  const msg2 = await openError(MLP, [20], 10, { layout: 'auto' });
  assert.match(msg2, /\[batch, 784\].*\[20\].*tried nhwc \[batch, 20\]$/);
});

test('errors: two inputs, a non-float input, non-float outputs', async () => {
  const two = editedFixture((m) => {
    m.graph!.input!.push({ name: 'mask', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } });
  });
  assert.match(
    await openError(two, [28, 28, 1], 10, { layout: 'auto' }),
    /has 2 inputs \("input", "mask"\); expected one input/,
  );
  const half = editedFixture((m) => {
    m.graph!.input![0].type!.tensorType!.elemType = onnx.TensorProto.DataType.FLOAT16;
  });
  assert.match(
    await openError(half, [28, 28, 1], 10, { layout: 'auto' }),
    /input "input" is float16; expected float32/,
  );

  // A tiny graph: logits = Identity(x), s = Shape(x) (int64), c = Cast(x) to int32 as a second output.
  const vi = (name: string, elemType: number, dims: Array<number | string>): onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
  const dir = tempDir();
  const file = path.join(dir, 'types.onnx');
  fs.writeFileSync(
    file,
    onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'types',
        node: [
          { opType: 'Identity', input: ['x'], output: ['logits'], name: 'id' },
          { opType: 'Shape', input: ['x'], output: ['s'], name: 'shape' },
          {
            opType: 'Cast',
            input: ['x'],
            output: ['c'],
            name: 'cast',
            attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: 6 }],
          },
        ],
        input: [vi('x', 1, ['N', 10])],
        output: [vi('logits', 1, ['N', 10]), vi('c', 6, ['N', 10])],
      },
    }).finish(),
  );
  const ok = await openOnnxTeacher(file, [10], 10, { layout: 'auto' });
  const x = Float32Array.from({ length: 30 }, (_, i) => i);
  assert.deepEqual([...(await ok.run(x, 3, 2)).logits], [...x]);
  await ok.dispose();
  assert.match(
    await openError(file, [10], 10, { layout: 'auto', features: ['s'] }),
    /value "s" is int64; expected float32/,
  );
  assert.match(
    await openError(file, [10], 10, { layout: 'auto', logits: 'c' }),
    /output "c" is int32; expected float32/,
  );
});

test('onnxInputShape', () => {
  assert.deepEqual(onnxInputShape('nchw', [28, 28, 3]), [3, 28, 28]);
  assert.deepEqual(onnxInputShape('nhwc', [28, 28, 3]), [28, 28, 3]);
  assert.deepEqual(onnxInputShape('flat', [28, 28, 3]), [2352]);
});

test('summary', () => {
  for (const line of logged) console.log(line);
});
