/**
 * Activation-boundary transfer against its PyTorch reference, and staged runs (several objectives
 * in sequence for one student: two-stage FitNets, activation-boundary pre-training) end to end on
 * the embedded data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { activationBoundaryLoss } from '../src/core/distill/terms.ts';
import { buildTrainingModel } from '../src/core/distill/studentOutputs.ts';
import { buildModel } from '../src/core/models/build.ts';
import { configSchema } from '../src/core/config/schema.ts';
import { strategyFor } from '../src/core/strategies/index.ts';
import { loadModel } from '../src/core/models/io.ts';
import { mixSeed, seedGlobalRandom } from '../src/core/random.ts';
import {
  parseEvents,
  type RunEvent,
  type RunFinishedEvent,
  type RunStartedEvent,
  type StepEvent,
} from '../src/protocol/events.ts';
import { runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

// Fixtures: /usr/bin/python3 scripts/golden/make_ab_fixtures.py (float64 references after bhheo/AB_distillation).
type Nested = number | Nested[];
interface Case {
  fn: 'loss' | 'connector';
  name: string;
  margin: number;
  student: Nested;
  teacher: Nested;
  kernel?: Nested;
  value: number;
  grad: Nested;
  kernelGrad?: Nested;
}
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'ab-golden.json'), 'utf8')) as {
  cases: Case[];
};

/** float32 kernels against float64 references: |got - want| <= 1e-5 · scale + 1e-6 (scale: |value|, or a gradient's largest element). */
async function assertClose(got: tf.Tensor, want: Nested, what: string): Promise<void> {
  const g = (await got.data()) as Float32Array;
  const w = [want].flat(Infinity as 1) as number[];
  assert.equal(g.length, w.length, `${what}: size`);
  const scale = Math.max(...w.map(Math.abs));
  w.forEach((v, i) => assert.ok(Math.abs(g[i] - v) <= 1e-5 * scale + 1e-6, `${what}[${i}]: ${g[i]} vs ${v}`));
}

for (const c of golden.cases.filter((k) => k.fn === 'loss'))
  test(`activation-boundary loss matches the authors' criterion_alternative_L2: ${c.name}`, async () => {
    const student = tf.tensor(c.student as number[]);
    const teacher = tf.tensor(c.teacher as number[]);
    const value = activationBoundaryLoss(student, teacher, c.margin);
    await assertClose(value, c.value, 'value');
    const grad = tf.grad((s: tf.Tensor) => activationBoundaryLoss(s, teacher, c.margin))(student);
    await assertClose(grad, c.grad, 'gradient');
    // The teacher side is a constant, as the reference's .detach().
    const teacherGrad = tf.grad((t: tf.Tensor) => activationBoundaryLoss(student, t, c.margin))(teacher);
    assert.equal(tf.max(tf.abs(teacherGrad)).dataSync()[0], 0);
    tf.dispose([student, teacher, value, grad, teacherGrad]);
  });

test("the activation-boundary connector (dense without bias, then batch norm in training mode) matches the authors' build_connector", async () => {
  const c = golden.cases.find((k) => k.fn === 'connector')!;
  const x = tf.tensor2d(c.student as number[][]);
  const [n, d] = x.shape;
  const k = (c.teacher as number[][])[0].length;
  // A student whose layer `f` outputs its input unchanged, so the connector reads x itself.
  const input = tf.input({ shape: [d] });
  const f = tf.layers.dense({ name: 'f', units: d, useBias: false, kernelInitializer: 'identity' }).apply(input);
  const logits = tf.layers.dense({ name: 'logits', units: 3 }).apply(f) as tf.SymbolicTensor;
  const student = tf.model({ inputs: input, outputs: logits });
  const training = buildTrainingModel(
    student,
    [{ key: 'connector:0:f', layer: 'f', connectorOf: 'raw:t', term: 0 }],
    new Map([['raw:t', [k]]]),
    'pretrain-1',
  );
  assert.deepEqual(training.projections, ['ab_connector_1', 'ab_connector_1_bn']);
  const connector = training.model.getLayer('ab_connector_1');
  assert.equal(connector.getWeights().length, 1, 'no bias');
  connector.setWeights([tf.tensor2d(c.kernel as number[][])]);
  const teacher = tf.tensor2d(c.teacher as number[][]);
  const loss = (xs: tf.Tensor) =>
    activationBoundaryLoss(training.forward(xs, true).outputs.get('connector:0:f')!, teacher, c.margin);
  await assertClose(loss(x), c.value, 'value');
  await assertClose(tf.grad(loss)(x), c.grad, 'gradient wrt the student feature');
  const kernel = connector.trainableWeights[0].read() as tf.Variable;
  const { grads } = tf.variableGrads(() => loss(x) as tf.Scalar, [kernel]);
  await assertClose(grads[kernel.name], c.kernelGrad!, 'gradient wrt the connector kernel');
  assert.equal(n, (c.teacher as number[][]).length);
});

test('staged stages: each starts from the one before, and one that reads no logits trains up to the deepest layer it reads', () => {
  const config = configSchema.parse({
    data: { source: 'demo' },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp', hidden: [32, 16] } },
    train: { epochs: 7 },
    strategy: {
      type: 'staged',
      stages: [
        {
          epochs: 3,
          terms: [
            { type: 'hint', student: 'dense_1', teacher: 'dense_1' },
            { type: 'activation_boundary', student: 'dense_2', teacher: 'dense_1' },
          ],
        },
        { hardWeight: 0.5, terms: [{ type: 'hint', student: 'dense_1', teacher: 'dense_1' }] },
        { terms: [{ type: 'kd' }] },
        { terms: [{ type: 'rkd' }] },
      ],
    },
  });
  const stages = strategyFor(config).stages();
  assert.deepEqual(
    stages.map((s) => [s.phase, s.epochs, s.initFrom, s.trainsUpTo, s.objective?.at.join('.')]),
    [
      ['pretrain-1', 3, undefined, ['dense_1', 'dense_2'], 'strategy.stages.0'],
      // The hard-label term reads the logits, and so do kd and rkd on its default `logits`.
      ['pretrain-2', 7, 'pretrain-1', undefined, 'strategy.stages.1'],
      ['pretrain-3', 7, 'pretrain-2', undefined, 'strategy.stages.2'],
      ['pretrain-4', 7, 'pretrain-3', undefined, 'strategy.stages.3'],
      ['distill', 7, 'pretrain-4', undefined, undefined],
    ],
  );
  assert.ok(stages.every((s) => s.learnsFrom.join() === 'teacher' && s.role === 'student'));
});

function events(runDir: string): RunEvent[] {
  return parseEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
}
const firstStep = (evs: RunEvent[], phase: string) =>
  evs.find((e): e is StepEvent => e.type === 'step' && e.phase === phase)!;

test('a staged run: a hint-only stage trains the student up to the guided layer, an activation-boundary stage then continues from its weights, then KD trains the whole student from those', async () => {
  const dir = tempDir('staged');
  const architecture = { type: 'mlp', hidden: [16] };
  const config = smallConfig({
    bench: { enabled: false },
    export: { onnx: false },
    data: { source: 'demo', trainLimit: 300, batchSize: 64 },
    student: { architecture },
    strategy: {
      type: 'staged',
      stages: [
        { epochs: 1, terms: [{ type: 'hint', weight: 1, student: 'dense_1', teacher: 'dense_1' }] },
        { epochs: 1, terms: [{ type: 'activation_boundary', student: 'dense_1', teacher: 'dense_1' }] },
      ],
    },
    // Weight decay would shrink the layers above the guided one if the hint stage did not freeze them.
    train: { epochs: 1, logEvery: 1, optimizer: { type: 'adamw', learningRate: 0.005, weightDecay: 0.05 } },
  });
  const r = runCli(['train', writeConfig(dir, 'staged', config)], dir);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const evs = events(run);
  const started = evs.find((e): e is RunStartedEvent => e.type === 'run_started')!;
  assert.deepEqual(started.phases, ['scratch', 'pretrain-1', 'pretrain-2', 'distill']);
  // Each stage logs its own terms (the hard-label term with weight 0 is still logged).
  assert.deepEqual(Object.keys(firstStep(evs, 'pretrain-1').loss).sort(), ['hard', 'hint', 'total']);
  assert.deepEqual(Object.keys(firstStep(evs, 'pretrain-2').loss).sort(), ['activation_boundary', 'hard', 'total']);
  assert.deepEqual(Object.keys(firstStep(evs, 'distill').loss).sort(), ['hard', 'kd', 'total']);
  const pretrain1 = firstStep(evs, 'pretrain-1').loss;
  assert.ok(Math.abs(pretrain1.total - pretrain1.hint) < 1e-6 * pretrain1.hint, 'hint only');

  // The hint stage trained dense_1 (and its projection to the teacher's 128 units); the logits
  // layer above it kept the seeded initial weights, the same as the baseline's.
  const checkpoint = async (phase: string) =>
    (await loadModel(path.join(run, 'checkpoints', phase, 'final', 'model', 'model.json'))).model;
  const hinted = await checkpoint('pretrain-1');
  assert.ok(hinted.layers.some((l) => l.name === 'hint_projection_1'));
  seedGlobalRandom(mixSeed(0, 'init', 'student'));
  const seeded = buildModel(architecture as never, [28, 28, 1], 10);
  const weightsOf = (m: tf.LayersModel, layer: string) =>
    m
      .getLayer(layer)
      .getWeights()
      .map((w) => Array.from(w.dataSync()));
  assert.deepEqual(weightsOf(hinted, 'logits'), weightsOf(seeded, 'logits'));
  assert.notDeepEqual(weightsOf(hinted, 'dense_1'), weightsOf(seeded, 'dense_1'));
  // The boundary stage has its connector, which the delivered student does not keep.
  const bounded = await checkpoint('pretrain-2');
  assert.ok(bounded.layers.some((l) => l.name === 'ab_connector_1_bn'));
  assert.doesNotMatch(fs.readFileSync(path.join(run, 'artifacts', 'student', 'model.json'), 'utf8'), /ab_connector/);

  // The baseline and the distilled student see the same first batch; they start from other
  // weights (the seeded ones, and those the stages left), so their first hard-label loss differs.
  assert.notEqual(firstStep(evs, 'distill').loss.hard, firstStep(evs, 'scratch').loss.hard);
  const summary = evs.find((e): e is RunFinishedEvent => e.type === 'run_finished')!.summary;
  assert.deepEqual(
    summary.map((s) => [s.model, s.learnedFrom]),
    [
      ['teacher', undefined],
      ['scratch', undefined],
      ['pretrain-1', 'teacher (hint)'],
      ['pretrain-2', "teacher (activation_boundary), from pretrain-1's weights"],
      ['distilled', "teacher, from pretrain-2's weights"],
    ],
  );
  for (const m of [hinted, bounded, seeded]) m.dispose();
});

test("a pre-training stage's term that names a layer the student lacks is reported at that term, and nothing is written", () => {
  const dir = tempDir('staged-bad');
  const config = smallConfig({
    strategy: {
      type: 'staged',
      stages: [{ terms: [{ type: 'activation_boundary', student: 'dense_9', teacher: 'dense_1' }] }],
    },
  });
  const r = runCli(['train', writeConfig(dir, 'bad', config)], dir);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /strategy\.stages\[0\]\.terms\[0\]\.student/);
  assert.match(r.stderr, /no layer "dense_9"/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(runFolders(dir), []);
});
