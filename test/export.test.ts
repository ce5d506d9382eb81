import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { toOnnx, ExportError } from '../src/core/export/onnx.ts';
import { onnxMaxAbsDiff } from '../src/core/export/verify.ts';
import { buildModel } from '../src/core/models/build.ts';
import { modelCost } from '../src/core/models/cost.ts';
import { loadModel } from '../src/core/models/io.ts';
import { demoTeacherPath } from '../src/core/paths.ts';
import type { ArchitectureSpec } from '../src/core/config/schema.ts';
import { parseEvents } from '../src/protocol/events.ts';
import { runCli, tempDir, writeConfig, smallConfig, runFolders } from './helpers/cli.ts';

const pythonOnnx = spawnSync('python3', ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;

/** onnx.checker.check_model(full_check=True) from the Python onnx package: an independent check. */
function pythonCheck(file: string): void {
  const r = spawnSync(
    'python3',
    ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print("ok")', file],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ok');
}

const architectures: Record<string, ArchitectureSpec> = {
  'mlp with batchnorm, dropout and swish': {
    type: 'mlp',
    hidden: [32, 16],
    activation: 'swish',
    dropout: 0.2,
    batchNorm: true,
  },
  'cnn with batchnorm and average pooling': {
    type: 'cnn',
    channels: [4, 8],
    kernelSize: 3,
    pool: 'avg',
    dense: [16],
    activation: 'elu',
    dropout: 0,
    batchNorm: true,
  },
  'layers: strided same-padded conv, same-padded max pool, relu6, selu, tanh, sigmoid, softplus': {
    type: 'layers',
    layers: [
      { type: 'conv2d', filters: 3, kernelSize: [3, 5], strides: 2, padding: 'same', activation: 'relu6' },
      { type: 'maxpool', poolSize: 3, strides: 2, padding: 'same' },
      { type: 'conv2d', filters: 4, kernelSize: 2, strides: 1, padding: 'valid', activation: 'selu' },
      { type: 'avgpool', poolSize: 3, strides: 2, padding: 'same' },
      { type: 'flatten' },
      { type: 'dense', units: 12, activation: 'tanh' },
      { type: 'activation', fn: 'sigmoid' },
      { type: 'dense', units: 6, activation: 'softplus' },
    ],
  },
};

for (const [name, arch] of Object.entries(architectures)) {
  test(`ONNX export matches tfjs in onnxruntime and passes onnx.checker: ${name}`, async () => {
    await tf.setBackend('cpu');
    const model = buildModel(arch, [28, 28, 1], 10);
    // Give batch norm non-trivial running statistics, as after training.
    model.layers
      .filter((l) => l.getClassName() === 'BatchNormalization')
      .forEach((l, i) => {
        const w = l.getWeights();
        l.setWeights([
          tf.randomUniform(w[0].shape, 0.5, 1.5, 'float32', i),
          tf.randomNormal(w[1].shape, 0, 0.1, 'float32', i),
          tf.randomNormal(w[2].shape, 0, 0.5, 'float32', i),
          tf.randomUniform(w[3].shape, 0.5, 2, 'float32', i),
        ]);
      });
    const bytes = await toOnnx(model, { name });
    const { maxAbsDiff, maxAbsOutput } = await onnxMaxAbsDiff(model, bytes);
    assert.ok(maxAbsDiff <= 1e-5, `max abs diff ${maxAbsDiff} (outputs up to ${maxAbsOutput})`);
    assert.ok(maxAbsOutput > 0.01, 'the outputs are not trivially zero');
    if (pythonOnnx) {
      const file = path.join(tempDir('onnx'), 'm.onnx');
      fs.writeFileSync(file, bytes);
      pythonCheck(file);
    }
  });
}

test('the demo teacher (a trained CNN) exports exactly enough: max abs diff <= 1e-5', async () => {
  await tf.setBackend('cpu');
  const { model } = await loadModel(demoTeacherPath());
  const { maxAbsDiff } = await onnxMaxAbsDiff(model, await toOnnx(model));
  assert.ok(maxAbsDiff <= 1e-5, String(maxAbsDiff));
  // Same input layout as tfjs (NHWC), dynamic batch, named input and output.
  const session = await ort.InferenceSession.create(await toOnnx(model));
  assert.deepEqual(session.inputNames, ['input']);
  assert.deepEqual(session.outputNames, ['logits']);
  const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * 784), [3, 28, 28, 1]) });
  assert.deepEqual(out.logits.dims, [3, 10]);
});

test('an unsupported layer is refused by name', async () => {
  await tf.setBackend('cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.conv2dTranspose({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, name: 'my_deconv' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2 }),
    ],
  });
  await assert.rejects(
    toOnnx(model),
    (err: unknown) =>
      err instanceof ExportError &&
      /layer "my_deconv" \(Conv2DTranspose\) has no ONNX mapping; supported: Dense, Conv2D/.test(err.message),
  );
});

test('model cost: parameters, fp32 bytes and multiply-adds from the architecture', async () => {
  await tf.setBackend('cpu');
  const { model } = await loadModel(demoTeacherPath());
  // conv1 28*28*32*9*1 + conv2 14*14*64*9*32 + dense 3136*128 + 128*10
  assert.deepEqual(modelCost(model), {
    params: 421642,
    bytes: 1686568,
    macs: 28 * 28 * 32 * 9 + 14 * 14 * 64 * 9 * 32 + 3136 * 128 + 1280,
  });
  const mlp = buildModel(
    { type: 'mlp', hidden: [64], activation: 'relu', dropout: 0, batchNorm: false },
    [28, 28, 1],
    10,
  );
  assert.deepEqual(modelCost(mlp), { params: 50890, bytes: 203560, macs: 784 * 64 + 64 * 10 });
});

test('a run exports its student to ONNX and benchmarks teacher and student; export and bench also run on demand', () => {
  const dir = tempDir('deliver');
  const file = writeConfig(
    dir,
    'deliver',
    smallConfig({
      train: { epochs: 1 },
      baseline: false,
      bench: { batchSizes: [1, 8], minRuns: 5, minSeconds: 0.05, warmup: 1 },
    }),
  );
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const events = parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
  const onnxArtifact = events.find((e) => e.type === 'artifact' && e.kind === 'student-onnx');
  assert.ok(
    onnxArtifact?.type === 'artifact' &&
      onnxArtifact.maxAbsDiff! <= 1e-5 &&
      fs.statSync(onnxArtifact.path).size === onnxArtifact.bytes,
  );
  if (pythonOnnx) pythonCheck(onnxArtifact.path);
  const benches = events.filter((e) => e.type === 'benchmark');
  assert.equal(benches.length, 8, 'teacher and student x onnxruntime and tfjs x batch 1 and 8');
  const bench = JSON.parse(fs.readFileSync(path.join(run, 'bench.json'), 'utf8'));
  assert.ok(bench.machine.cores >= 1 && bench.machine.onnxruntime === '1.30.0');
  for (const l of bench.results)
    assert.ok(
      l.runs >= 5 && l.p50Ms > 0 && l.p50Ms <= l.p90Ms && l.p90Ms <= l.p99Ms && l.samplesPerSecond > 0,
      JSON.stringify(l),
    );
  assert.match(r.stdout, /student vs teacher: 8\.3x|student vs teacher: \d+x fewer parameters/);
  assert.match(r.stdout, /teacher\s+fp32\s+onnxruntime cpu\s+default\s+1\s/);

  const ex = runCli(
    ['export', run, '--format', 'onnx', '--model', 'teacher', '--out', path.join(dir, 'teacher.onnx')],
    dir,
  );
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stdout, /onnxruntime matches tfjs within/);
  if (pythonOnnx) pythonCheck(path.join(dir, 'teacher.onnx'));
  const tfjsOut = runCli(['export', run, '--format', 'tfjs', '--out', path.join(dir, 'student-tfjs')], dir);
  assert.equal(tfjsOut.code, 0, tfjsOut.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'student-tfjs', 'weights.bin')));
  const b = runCli(['bench', run, '--batch', '2', '--seconds', '0.05', '--threads', '1'], dir);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /student\s+fp32\s+onnxruntime cpu\s+1\s+2\s/);
  // `distill bench` also times the student where a web page runs it.
  assert.match(b.stdout, /student\s+fp32\s+onnxruntime-web wasm\s+1\s+2\s/);
  assert.equal(runCli(['export', run, '--format', 'pdf'], dir).code, 2);
  assert.equal(runCli(['bench', dir], dir).code, 2);
});
