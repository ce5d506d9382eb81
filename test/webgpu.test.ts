// The webgpu backend computes what the cpu backend computes: each loss term's value and gradient,
// an Adam step, a falling CNN loss, and a whole small run through the real CLI. On a machine without
// a GPU these run on Mesa's llvmpipe (a software adapter), so they are kept tiny.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/core/backend.ts';
import { DENSE_TRAINING } from '../src/core/kernels.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import { attentionMap } from '../src/core/distill/terms.ts';
import { Optimizer } from '../src/core/train/optimizer.ts';
import { buildModel } from '../src/core/models/build.ts';
import type { LossTermSpec, OptimizerSpec } from '../src/core/config/schema.ts';
import { SeededRandom } from '../src/core/random.ts';
import { spawnSync } from 'node:child_process';
import { cliPath, root, runCli, tempDir, writeConfig } from './helpers/cli.ts';
import { needsWebGpu } from './helpers/webgpu.ts';

const skip = needsWebGpu();
// float32 on two backends: different reduction orders and exp/log implementations.
const RTOL = 1e-4;
const ATOL = 1e-5;

function assertClose(got: Float32Array | number[], want: Float32Array | number[], what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - (ATOL + RTOL * Math.abs(want[i]));
    assert.ok(Number.isFinite(got[i]), `${what}[${i}] is ${got[i]}`);
    worst = Math.max(worst, excess);
    assert.ok(excess <= 0, `${what}[${i}]: webgpu ${got[i]} vs cpu ${want[i]} (tolerance ${ATOL} + ${RTOL}·|cpu|)`);
  }
}

const random = (n: number, seed: number) => {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 4 - 2);
};

/** Loss terms and their gradients for fixed inputs on the current backend, read back to the host. */
async function termOnBackend(
  terms: LossTermSpec[],
): Promise<{ values: Record<string, number>; grads: Float32Array[] }> {
  const objective = compileObjective({ method: 'combined', hardWeight: 1, labelSmoothing: 0.1, terms });
  const logits = tf.variable(tf.tensor2d(random(6 * 5, 1), [6, 5]));
  const features = tf.variable(tf.tensor4d(random(6 * 3 * 3 * 2, 2), [6, 3, 3, 2]));
  const teacherLogits = tf.tensor2d(random(6 * 5, 3), [6, 5]);
  const teacherFeatures = tf.tensor4d(random(6 * 3 * 3 * 2, 4), [6, 3, 3, 2]);
  const labels = tf.tensor1d([0, 4, 1, 3, 2, 0], 'int32');
  const teacherOutputs = new Map<string, tf.Tensor>(
    objective.teacher.map((r) => [
      r.key,
      r.attentionP === undefined ? teacherFeatures : attentionMap(teacherFeatures, r.attentionP),
    ]),
  );
  const outputs = new Map<string, tf.Tensor>(objective.student.map((r) => [r.key, features]));
  let kept: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const t = objective.loss({ logits, outputs }, { logits: teacherLogits, outputs: teacherOutputs }, labels, {
      epoch: 1,
      fraction: 0.25,
    });
    kept = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, tf.keep(v.clone())]));
    return t.total;
  }, [logits, features]);
  const values: Record<string, number> = {};
  for (const [k, v] of Object.entries(kept)) values[k] = (await v.data())[0];
  const g = [
    await grads[logits.name].data(),
    grads[features.name] ? await grads[features.name].data() : new Float32Array(),
  ] as Float32Array[];
  tf.dispose([
    logits,
    features,
    teacherLogits,
    teacherFeatures,
    labels,
    value,
    ...Object.values(grads),
    ...Object.values(kept),
    ...teacherOutputs.values(),
  ]);
  return { values, grads: g };
}

const TERMS: Array<[string, LossTermSpec[]]> = [
  ['kd forward', [{ type: 'kd', weight: 0.7, temperature: 4, divergence: 'forward' }]],
  ['kd reverse, annealed', [{ type: 'kd', weight: 0.7, temperature: 4, finalTemperature: 1, divergence: 'reverse' }]],
  ['hint mse', [{ type: 'hint', weight: 1, student: 'f', teacher: 'f', distance: 'mse' }]],
  ['hint cosine', [{ type: 'hint', weight: 1, student: 'f', teacher: 'f', distance: 'cosine' }]],
  ['attention p=2', [{ type: 'attention', weight: 500, pairs: [{ student: 'f', teacher: 'f' }], p: 2 }]],
  ['attention p=3', [{ type: 'attention', weight: 500, pairs: [{ student: 'f', teacher: 'f' }], p: 3 }]],
  ['rkd', [{ type: 'rkd', distanceWeight: 25, angleWeight: 50, student: 'logits', teacher: 'logits' }]],
  ['dkd', [{ type: 'dkd', alpha: 1, beta: 8, temperature: 4, warmupEpochs: 2 }]],
  ['teacher_free', [{ type: 'teacher_free', weight: 1, temperature: 20, correctProbability: 0.9 }]],
];

for (const [name, terms] of TERMS) {
  test(
    `webgpu = cpu for the ${name} term: every logged value and both gradients (rtol ${RTOL}, atol ${ATOL})`,
    { skip },
    async () => {
      await selectBackend('cpu', DENSE_TRAINING);
      const want = await termOnBackend(terms);
      await selectBackend('webgpu', DENSE_TRAINING);
      const got = await termOnBackend(terms);
      assert.deepEqual(Object.keys(got.values), Object.keys(want.values));
      assertClose(Object.values(got.values), Object.values(want.values), `${name} values`);
      assertClose(got.grads[0], want.grads[0], `${name} d/dlogits`);
      assertClose(got.grads[1], want.grads[1], `${name} d/dfeatures`);
      assert.ok(
        want.grads[0].some((g) => g !== 0),
        'the gradient is not trivially zero',
      );
    },
  );
}

async function adamSteps(): Promise<Float32Array> {
  const spec: OptimizerSpec = {
    type: 'adam',
    learningRate: 1e-2,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    weightDecay: 0.01,
  };
  const v = tf.variable(tf.tensor2d(random(12, 5), [3, 4]));
  const optimizer = new Optimizer(spec, [v]);
  for (let step = 0; step < 3; step++) {
    const g = tf.tensor2d(random(12, 10 + step), [3, 4]);
    optimizer.apply([g], 1e-2 * (step + 1));
    g.dispose();
  }
  const out = await v.data();
  optimizer.dispose();
  v.dispose();
  return out as Float32Array;
}

test('an Adam step (with L2 weight decay and a changing learning rate) on webgpu matches cpu', { skip }, async () => {
  await selectBackend('cpu', DENSE_TRAINING);
  const want = await adamSteps();
  await selectBackend('webgpu', DENSE_TRAINING);
  assertClose(await adamSteps(), want, 'weights after 3 Adam steps');
});

test('a tiny CNN trained on webgpu: the loss falls over a few steps', { skip }, async () => {
  await selectBackend('webgpu', DENSE_TRAINING);
  const model = buildModel(
    {
      type: 'cnn',
      channels: [4],
      kernelSize: 3,
      dense: [8],
      pool: 'max',
      activation: 'relu',
      batchNorm: false,
      dropout: 0,
    },
    [8, 8, 1],
    3,
  );
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = new Optimizer(
    { type: 'adam', learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    variables,
  );
  // Class c lights row band c of the image: learnable in a few steps.
  const pixels = random(16 * 64, 7).map(
    (v, j) => (v + 2) / 8 + (Math.floor((j % 64) / 8 / 3) === Math.floor(j / 64) % 3 ? 0.5 : 0),
  );
  const x = tf.tensor4d(pixels, [16, 8, 8, 1]);
  const y = tf.tensor1d(
    Array.from({ length: 16 }, (_, i) => i % 3),
    'int32',
  );
  const objective = compileObjective({ method: 'none', labelSmoothing: 0 });
  const losses: number[] = [];
  for (let step = 0; step < 8; step++) {
    const { value, grads } = tf.variableGrads(
      () =>
        objective.loss(
          { logits: model.apply(x, { training: true }) as tf.Tensor2D, outputs: new Map() },
          undefined,
          y,
          { epoch: 1, fraction: 0 },
        ).total,
      variables,
    );
    optimizer.apply(
      variables.map((v) => grads[v.name]),
      1e-2,
    );
    losses.push((await value.data())[0]);
    tf.dispose([value, ...Object.values(grads)]);
  }
  assert.equal(tf.getBackend(), 'webgpu');
  assert.ok(losses.every(Number.isFinite), losses.join(', '));
  assert.ok(losses.at(-1)! < losses[0] * 0.9, `loss ${losses[0]} -> ${losses.at(-1)}`);
  optimizer.dispose();
  tf.dispose([x, y]);
  model.dispose();
});

const tinyRun = (dir: string) => ({
  name: 'webgpu-tiny',
  data: { source: 'demo', trainLimit: 256, batchSize: 64 },
  teacher: { source: 'train', architecture: { type: 'cnn', channels: [4], dense: [16] }, epochs: 1 },
  student: { architecture: { type: 'mlp', hidden: [16] } },
  distill: { method: 'kd', temperature: 2, alpha: 0.5 },
  train: { epochs: 2, seed: 0 },
  bench: { batchSizes: [1], warmup: 1, minRuns: 3, minSeconds: 0.01 },
  cache: { teacherOutputs: false },
  output: { dir: path.join(dir, 'runs') },
});

test(
  'a small run with --backend webgpu: conv teacher trained in the run, MLP student, events, run.json, checked ONNX export',
  { skip },
  () => {
    const dir = tempDir('webgpu-run');
    const config = writeConfig(dir, 'tiny', tinyRun(dir));
    const r = runCli(['train', config, '--backend', 'webgpu']);
    assert.equal(r.code, 0, r.stderr);
    const runDir = /run folder: (.+)/.exec(r.stdout)![1].trim();
    const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    assert.equal(record.status, 'finished');
    assert.equal(record.backend.name, 'webgpu');
    assert.equal(typeof record.backend.adapter.description, 'string');
    const events = fs
      .readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const started = events.find((e) => e.type === 'run_started');
    assert.deepEqual(started.backend.adapter, record.backend.adapter);
    assert.deepEqual(started.phases, ['teacher', 'scratch', 'distill']);
    if (record.backend.adapter.software)
      assert.ok(
        events.some((e) => e.type === 'warning' && /software adapter/.test(e.message)),
        'a software adapter is announced',
      );
    for (const phase of ['teacher', 'scratch', 'distill'])
      assert.ok(
        events.some((e) => e.type === 'phase_finished' && e.phase === phase),
        `${phase} finished`,
      );
    const summary = record.summary as Array<{ model: string; accuracy: number }>;
    assert.deepEqual(
      summary.map((s) => s.model),
      ['teacher', 'scratch', 'distilled'],
    );
    for (const row of summary) assert.ok(row.accuracy > 0.15, `${row.model} learned something: ${row.accuracy}`);
    assert.ok(fs.existsSync(path.join(runDir, 'artifacts', 'student.onnx')));
    assert.match(r.stdout, /exported .*student\.onnx .*onnxruntime matches tfjs within/);
    assert.match(r.stdout, /tfjs webgpu/);
  },
);

test('--backend webgpu where no adapter exists: one clear message, exit 2, no stack, no run folder', () => {
  const dir = tempDir('webgpu-none');
  const config = writeConfig(dir, 'tiny', tinyRun(dir));
  // The Vulkan loader reads only this ICD list: an empty one means no Vulkan device at all.
  const r = runCliEnv(['train', config, '--backend', 'webgpu'], {
    VK_ICD_FILENAMES: path.join(dir, 'none.json'),
    VK_DRIVER_FILES: path.join(dir, 'none.json'),
  });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /^distill: backend "webgpu" is not available: (no WebGPU adapter: Dawn found no Vulkan, Metal or D3D12 device|the webgpu package \(Dawn\) is not installed|Dawn)/m,
  );
  // Dawn itself logs the Vulkan failure (with a C++ source line); no JavaScript stack follows.
  assert.doesNotMatch(r.stderr, /\n\s+at .*\.(c?js|ts):\d+:\d+/, 'no stack trace');
  assert.ok(!fs.existsSync(path.join(dir, 'runs')), 'no run folder');
});

function runCliEnv(args: string[], env: Record<string, string>): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
