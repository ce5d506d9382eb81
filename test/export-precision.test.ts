import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { toOnnx } from '../src/core/export/onnx.ts';
import { float16Bits, toFp16Weights } from '../src/core/export/precision.ts';
import { activationParams, quantizeWeights, toInt8Qdq } from '../src/core/export/quantize.ts';
import * as ort from 'onnxruntime-node';
import { runOnnxOnSplit } from '../src/core/export/evaluate.ts';
import { loadModel } from '../src/core/models/io.ts';
import { loadDataset } from '../src/core/data/dataset.ts';
import { demoTeacherPath } from '../src/core/paths.ts';
import { dataSchema } from '../src/core/config/schema.ts';
import { parseEvents } from '../src/protocol/events.ts';
import { runCli, tempDir, writeConfig, smallConfig, runFolders } from './helpers/cli.ts';

/** The first Python that imports `module` (the system one may have packages the PATH one lacks). */
const pythonWith = (module: string) =>
  ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', `import ${module}`]).status === 0);
const python = pythonWith('onnx');
const numpyPython = pythonWith('numpy');

/** onnx.checker.check_model(full_check=True) from the Python onnx package: an independent check. */
function pythonCheck(file: string): void {
  const r = spawnSync(
    python!,
    ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print("ok")', file],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ok');
}

test('float16 rounding: exact bits for edge values, and numpy float16 bits for 20 000 values', () => {
  const known: Array<[number, number]> = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [1 / 3, 0x3555],
    [65504, 0x7bff], // largest half
    [65520, 0x7c00], // rounds up past it: Infinity
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway to it: ties to even (zero)
    [1.5 * 2 ** -25, 0x0001],
    [2 ** -14, 0x0400], // smallest normal
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: ties to even
    [1 + 3 * 2 ** -11, 0x3c02],
    [Infinity, 0x7c00],
  ];
  for (const [v, bits] of known) assert.equal(float16Bits(v), bits, `${v}`);
  assert.equal(float16Bits(NaN) & 0x7c00, 0x7c00);
  assert.ok((float16Bits(NaN) & 0x3ff) !== 0, 'NaN stays NaN');
  if (!numpyPython) return;
  // Values over the whole half range, subnormals included.
  const values = Float32Array.from({ length: 20000 }, (_, i) => Math.sin(i * 12.9898) * 2 ** ((i % 44) - 28));
  const dir = tempDir('f16');
  fs.writeFileSync(path.join(dir, 'v.f32'), values);
  const r = spawnSync(
    numpyPython,
    [
      '-c',
      'import numpy as np, sys; v = np.fromfile(sys.argv[1], "<f4"); v.astype("<f2").tofile(sys.argv[2])',
      path.join(dir, 'v.f32'),
      path.join(dir, 'v.f16'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const buf = fs.readFileSync(path.join(dir, 'v.f16'));
  const want = new Uint16Array(buf.buffer, buf.byteOffset, values.length);
  for (let i = 0; i < values.length; i++)
    assert.equal(float16Bits(values[i]), want[i], `value ${values[i]}: numpy gives ${want[i].toString(16)}`);
});

test('fp16 export of the demo teacher: float16 weights, half the size, fp32 logits within fp16 rounding, same test accuracy', async () => {
  await tf.setBackend('cpu');
  const { model } = await loadModel(demoTeacherPath());
  const fp32 = await toOnnx(model, { name: 'teacher' });
  const fp16 = toFp16Weights(fp32);
  model.dispose();

  const proto = onnx.ModelProto.decode(fp16);
  const weights = proto.graph!.initializer!.filter((i) => (i.dims ?? []).length > 0);
  assert.ok(weights.length >= 6, 'conv, dense kernels and biases');
  for (const w of weights) assert.equal(w.dataType, onnx.TensorProto.DataType.FLOAT16, w.name!);
  const ratio = fp16.length / fp32.length;
  assert.ok(ratio > 0.49 && ratio < 0.51, `fp16 / fp32 size ${ratio}`);

  // The embedded demo test split, normalised as a run does.
  const data = await loadDataset(dataSchema.parse({ source: 'demo' }), 0);
  const a = await runOnnxOnSplit(fp32, data.test, data.inputShape);
  const b = await runOnnxOnSplit(fp16, data.test, data.inputShape);
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.logits.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a.logits[i] - b.logits[i]));
    maxAbs = Math.max(maxAbs, Math.abs(a.logits[i]));
  }
  // Each weight moves by at most 2^-11 of itself; over this CNN's logits that is a few 1e-3 at most.
  assert.ok(maxDiff > 0, 'the weights were rounded: fp16 logits differ from fp32');
  assert.ok(maxDiff <= 1e-2 * Math.max(1, maxAbs), `max |fp16 - fp32| ${maxDiff} (logits up to ${maxAbs})`);
  assert.ok(Math.abs(a.accuracy - b.accuracy) <= 0.005, `accuracy fp32 ${a.accuracy}, fp16 ${b.accuracy}`);
  assert.ok(a.accuracy > 0.8, `the demo teacher is trained: ${a.accuracy}`);

  if (python) {
    const file = path.join(tempDir('fp16'), 'teacher.fp16.onnx');
    fs.writeFileSync(file, fp16);
    pythonCheck(file);
  }
});

test('export.precisions exports the student at the end of a run; distill export --precision does it on demand, each with its measured test accuracy against fp32', () => {
  const dir = tempDir('precision');
  const file = writeConfig(
    dir,
    'p',
    smallConfig({
      train: { epochs: 1 },
      baseline: false,
      bench: { enabled: false },
      export: { precisions: ['fp16', 'int8'] },
    }),
  );
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const events = parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
  for (const precision of ['fp16', 'int8'] as const) {
    const e = events.find((x) => x.type === 'artifact' && x.kind === `student-onnx-${precision}`);
    assert.ok(e?.type === 'artifact', `an artifact event for ${precision}`);
    assert.equal(e.path, path.join(run, 'artifacts', `student.${precision}.onnx`));
    assert.equal(fs.statSync(e.path).size, e.bytes);
    assert.ok(
      e.precision === precision && e.fp32TestAccuracy! > 0.3 && Math.abs(e.testAccuracy! - e.fp32TestAccuracy!) < 0.05,
      JSON.stringify(e),
    );
    assert.match(
      r.stdout,
      new RegExp(
        `exported .*student\\.${precision}\\.onnx \\(.*; test accuracy ${precision} [\\d.]+%, fp32 [\\d.]+%\\)`,
      ),
    );
    if (python) pythonCheck(e.path);
  }
  fs.rmSync(path.join(run, 'artifacts', 'student.fp16.onnx'));
  fs.rmSync(path.join(run, 'artifacts', 'student.int8.onnx'));
  const ex = runCli(['export', run, '--format', 'onnx', '--precision', 'fp16'], dir);
  assert.equal(ex.code, 0, ex.stderr);
  const out = path.join(run, 'artifacts', 'student.fp16.onnx');
  const fp32Bytes = fs.statSync(path.join(run, 'artifacts', 'student.onnx')).size;
  const bytes = fs.statSync(out).size;
  assert.ok(bytes / fp32Bytes > 0.49 && bytes / fp32Bytes < 0.52, `${bytes} vs ${fp32Bytes}`);
  assert.match(ex.stdout, new RegExp(`wrote ${out.replace(/[.]/g, '\\.')} \\(`));
  const m =
    /test accuracy in onnxruntime over (\d+) examples: fp16 ([\d.]+)%, fp32 ([\d.]+)% \(delta ([+-][\d.]+) points\)/.exec(
      ex.stdout,
    );
  assert.ok(m, ex.stdout);
  assert.ok(Number(m[1]) > 0 && Number(m[3]) > 30, ex.stdout);
  assert.equal(Number(m[4]).toFixed(2), (Number(m[2]) - Number(m[3])).toFixed(2));
  assert.match(ex.stdout, /predicts the fp32 export's class on \d+\.\d+% of them; logits differ by at most/);
  if (python) pythonCheck(out);

  const int8 = runCli(['export', run, '--format', 'onnx', '--precision', 'int8'], dir);
  assert.equal(int8.code, 0, int8.stderr);
  const int8Bytes = fs.statSync(path.join(run, 'artifacts', 'student.int8.onnx')).size;
  assert.ok(int8Bytes / fp32Bytes < 0.3, `${int8Bytes} vs ${fp32Bytes}`);
  assert.match(
    int8.stdout,
    /test accuracy in onnxruntime over \d+ examples: int8 [\d.]+%, fp32 [\d.]+% \(delta [+-][\d.]+ points\)/,
  );
  assert.match(int8.stdout, /activation ranges calibrated \(min-max\) on 512 training examples/);
  if (python) pythonCheck(path.join(run, 'artifacts', 'student.int8.onnx'));

  const bad = runCli(['export', run, '--format', 'onnx', '--precision', 'fp8'], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--precision must be one of fp32, fp16, int8/);
  const tfjs = runCli(['export', run, '--format', 'tfjs', '--precision', 'fp16'], dir);
  assert.equal(tfjs.code, 2);
  assert.match(tfjs.stderr, /--precision applies to --format onnx only/);
});

test('int8 parameters: asymmetric activations hold 0 exactly; weights get one symmetric scale per output channel', () => {
  const unit = activationParams(0, 2.55);
  assert.ok(Math.abs(unit.scale - 0.01) < 1e-12 && unit.zeroPoint === -128, JSON.stringify(unit));
  const p = activationParams(-1, 3);
  assert.ok(Math.abs(p.scale - 4 / 255) < 1e-12 && p.zeroPoint === -64, JSON.stringify(p));
  // A range that does not hold 0 is widened to: 0 stays exactly representable (zero padding, Relu).
  const above = activationParams(0.5, 2);
  assert.ok(Math.abs(above.scale - 2 / 255) < 1e-12 && above.zeroPoint === -128, JSON.stringify(above));
  const below = activationParams(-3, -1);
  assert.ok(Math.abs(below.scale - 3 / 255) < 1e-12 && below.zeroPoint === 127, JSON.stringify(below));
  // Gemm B [in = 2, out = 3], channels on axis 1.
  const { q, scales } = quantizeWeights(Float32Array.from([1, -0.5, 0, -2, 0.25, 0]), [2, 3], 1);
  assert.deepEqual([...scales], [...Float32Array.from([2 / 127, 0.5 / 127, 1])]);
  assert.deepEqual([...q], [64, -127, 0, -127, 64, 0]);
  // Conv W [out = 2, in = 1, 1, 2], channels on axis 0.
  const conv = quantizeWeights(Float32Array.from([4, -1, 0.5, 0.25]), [2, 1, 1, 2], 0);
  assert.deepEqual([...conv.scales], [...Float32Array.from([4 / 127, 0.5 / 127])]);
  assert.deepEqual([...conv.q], [127, -32, 127, 64]);
});

test('int8 QDQ export of the demo teacher: int8 per-channel weights, a quarter of the size, onnxruntime fuses it into QLinearConv and QGemm, test accuracy within 1 point', async () => {
  await tf.setBackend('cpu');
  const { model } = await loadModel(demoTeacherPath());
  const fp32 = await toOnnx(model, { name: 'teacher' });
  model.dispose();
  const data = await loadDataset(dataSchema.parse({ source: 'demo' }), 0);
  const dim = 28 * 28;
  const calibration = { x: data.train.x.subarray(0, 256 * dim), y: data.train.y.subarray(0, 256), n: 256 };
  const int8 = await toInt8Qdq(fp32, calibration, data.inputShape);

  const proto = onnx.ModelProto.decode(int8);
  const byName = new Map(proto.graph!.initializer!.map((t) => [t.name!, t]));
  const weightDq = proto.graph!.node!.filter(
    (n) =>
      n.opType === 'DequantizeLinear' &&
      byName.get(n.input![0])?.dataType === onnx.TensorProto.DataType.INT8 &&
      (byName.get(n.input![0])!.dims ?? []).length > 1,
  );
  assert.equal(weightDq.length, 4, 'two conv kernels and two dense kernels');
  for (const n of weightDq) {
    const channels = byName.get(n.input![1])!.dims!.map(Number);
    const w = byName.get(n.input![0])!.dims!.map(Number);
    const axis = Number(n.attribute!.find((a) => a.name === 'axis')!.i);
    assert.deepEqual(channels, [w[axis]], `${n.name}: one scale per output channel`);
  }
  const ratio = int8.length / fp32.length;
  assert.ok(ratio > 0.24 && ratio < 0.3, `int8 / fp32 size ${ratio}`);

  const dir = tempDir('int8');
  const optimized = path.join(dir, 'optimized.onnx');
  const session = await ort.InferenceSession.create(int8, {
    graphOptimizationLevel: 'extended',
    optimizedModelFilePath: optimized,
  });
  await session.release();
  const ops = onnx.ModelProto.decode(fs.readFileSync(optimized)).graph!.node!.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === 'QLinearConv').length, 2, ops.join(' '));
  assert.equal(ops.filter((o) => o === 'QGemm').length, 2, ops.join(' '));
  assert.ok(!ops.includes('Conv') && !ops.includes('Gemm') && !ops.includes('DequantizeLinear'), ops.join(' '));

  const a = await runOnnxOnSplit(fp32, data.test, data.inputShape);
  const b = await runOnnxOnSplit(int8, data.test, data.inputShape);
  assert.ok(Math.abs(a.accuracy - b.accuracy) <= 0.01, `accuracy fp32 ${a.accuracy}, int8 ${b.accuracy}`);
  if (python) {
    fs.writeFileSync(path.join(dir, 'teacher.int8.onnx'), int8);
    pythonCheck(path.join(dir, 'teacher.int8.onnx'));
  }
});
