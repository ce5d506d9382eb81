/**
 * The training loop in process, on the cpu backend: a phase leaves no tensor behind (every
 * step's tensors are released; what survives a step is released by the next or at the end), in
 * a whole phase with validation, early stopping with restored best weights and checkpoints, in
 * a phase stopped mid-epoch, in a phase resumed from a checkpoint, and in an augmented phase whose
 * teacher runs online on every batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { configSchema, type DistillConfig, type LossTermSpec } from '../src/core/config/schema.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import { buildTrainingModel } from '../src/core/distill/studentOutputs.ts';
import {
  batchTeacher,
  computeTeacherOutputs,
  disposeTeacherTensors,
  teacherOutputShapes,
} from '../src/core/distill/teacherOutputs.ts';
import { buildModel } from '../src/core/models/build.ts';
import { seedGlobalRandom } from '../src/core/random.ts';
import { latestCheckpoint, writeCheckpoint, type LoadedCheckpoint } from '../src/core/train/checkpoint.ts';
import type { DeviceSplit } from '../src/core/train/evaluate.ts';
import { trainPhase, type PhaseHooks, type PhaseSetup } from '../src/core/train/loop.ts';

const inputShape = [6];
const classes = 3;

function split(n: number, seed: number): DeviceSplit {
  const rng = seedGlobalRandom(seed);
  const x = Float32Array.from({ length: n * inputShape[0] }, () => rng.next() * 2 - 1);
  const y = Int32Array.from(
    { length: n },
    (_, i) => (x[i * inputShape[0]] > 0 ? 1 : 0) + (x[i * inputShape[0] + 1] > 0.5 ? 1 : 0),
  );
  return { x: tf.tensor2d(x, [n, inputShape[0]]), y: tf.tensor1d(y, 'int32'), n };
}

function trainConfig(overrides: Record<string, unknown>): DistillConfig['train'] {
  return configSchema.parse({
    data: { source: 'demo' },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp' } },
    train: overrides,
  }).train;
}

/** A phase of a distilled student with a hint projection and every kind of term, on small random data. */
async function phaseSetup(train: DistillConfig['train'], resumeFrom?: LoadedCheckpoint) {
  const terms: LossTermSpec[] = [
    { type: 'kd', weight: 0.5, temperature: 2, finalTemperature: 1, divergence: 'forward' },
    { type: 'hint', weight: 0.1, student: 'dense_1', teacher: 'dense_1', distance: 'mse' },
    { type: 'rkd', distanceWeight: 1, angleWeight: 2, student: 'logits', teacher: 'logits' },
    { type: 'dkd', alpha: 1, beta: 2, temperature: 4, warmupEpochs: 1 },
    { type: 'teacher_free', weight: 0.1, temperature: 20, correctProbability: 0.9 },
  ];
  const objective = compileObjective({ method: 'combined', hardWeight: 0.5, labelSmoothing: 0.1, terms });
  const data = { train: split(40, 1), validation: split(12, 2), test: split(4, 3) };
  const teacher = buildModel(
    { type: 'mlp', hidden: [12], activation: 'relu', dropout: 0, batchNorm: false },
    inputShape,
    classes,
  );
  const x = { train: data.train.x, validation: data.validation.x, test: data.test.x };
  const teacherOut = await computeTeacherOutputs(
    { kind: 'tfjs', label: 'teacher', model: teacher },
    x,
    { train: new Float32Array(), validation: new Float32Array(), test: new Float32Array() },
    classes,
    objective.teacher,
    16,
  );
  const shapes = await teacherOutputShapes(
    { kind: 'tfjs', label: 'teacher', model: teacher },
    objective.teacher,
    new Float32Array(inputShape[0]),
  );
  const model = buildModel(
    { type: 'mlp', hidden: [5], activation: 'relu', dropout: 0.2, batchNorm: false },
    inputShape,
    classes,
  );
  const training = buildTrainingModel(model, objective.student, shapes, 'distill');
  assert.deepEqual(training.projections, ['hint_projection_1']);
  const setup: PhaseSetup = {
    phase: 'distill',
    model,
    training,
    train: data.train,
    validation: data.validation,
    teacherTrain: { logits: teacherOut.logits.train, outputs: teacherOut.outputs },
    teacherValidation: teacherOut.logits.validation,
    loss: objective.loss,
    epochs: 3,
    learningRate: 0.01,
    batchSize: 8,
    evalBatchSize: 16,
    train_: train,
    resumeFrom,
  };
  const dispose = () => {
    disposeTeacherTensors(teacherOut);
    tf.dispose(Object.values(data).flatMap((d) => [d.x, d.y]));
    training.model.dispose();
    teacher.dispose();
  };
  return { setup, dispose };
}

/** Hooks that write real checkpoints into `runDir`, and stop when polled more than `stopAfter` times. */
function checkpointHooks(runDir: string, training: PhaseSetup['training'], stopAfter = Infinity) {
  const written: string[] = [];
  let polls = 0;
  const hooks: PhaseHooks = {
    emitStep: () => {},
    emitEpoch: () => {},
    checkpoint: async (progress, optimizer, bestWeights) => {
      written.push(
        await writeCheckpoint(runDir, {
          progress,
          model: training.model,
          optimizerSlots: (await optimizer.getState()).slots,
          bestWeights,
        }),
      );
      return written.at(-1)!;
    },
    stopRequested: () => ++polls > stopAfter,
  };
  return { hooks, written };
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test('a whole phase (validation, early stopping with the best weights restored, checkpoints) leaves no tensor behind', async () => {
  const { setup, dispose } = await phaseSetup(
    trainConfig({
      logEvery: 3,
      checkpointEvery: 1,
      earlyStopping: { patience: 5, restoreBest: true },
      optimizer: { type: 'adam', learningRate: 0.01 },
    }),
  );
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-loop-'));
  const { hooks, written } = checkpointHooks(runDir, setup.training);
  const before = tf.memory().numTensors;
  const outcome = await trainPhase(setup, hooks);
  assert.equal(tf.memory().numTensors, before, 'tensors left by the phase');
  assert.equal(outcome.progress.epochsDone, 3);
  assert.equal(written.length, 2, 'a checkpoint after epochs 1 and 2');
  assert.ok(
    written.every((dir) => fs.existsSync(path.join(dir, 'best.bin'))),
    'checkpoints hold the best weights',
  );
  dispose();
});

test('a phase stopped mid-epoch, then resumed from its checkpoint (optimizer state and best weights), leaves no tensor behind', async () => {
  const train = trainConfig({
    logEvery: 2,
    earlyStopping: { patience: 5, restoreBest: true },
    optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9 },
  });
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-loop-'));
  const first = await phaseSetup(train);
  let before = tf.memory().numTensors;
  const stopped = await trainPhase(first.setup, checkpointHooks(runDir, first.setup.training, 8).hooks); // 5 steps per epoch: stops in the second
  assert.equal(tf.memory().numTensors, before, 'tensors left by the stopped phase');
  assert.ok(
    stopped.stopped && stopped.progress.epochsDone === 1 && stopped.progress.stepInEpoch === 3,
    JSON.stringify(stopped.progress),
  );
  first.dispose();

  const checkpoint = latestCheckpoint(runDir, 'distill')!;
  assert.match(checkpoint.dir, /epoch-0001-step-000003$/);
  const second = await phaseSetup(train, checkpoint);
  before = tf.memory().numTensors;
  const resumed = await trainPhase(second.setup, checkpointHooks(runDir, second.setup.training).hooks);
  assert.equal(tf.memory().numTensors, before, 'tensors left by the resumed phase');
  assert.ok(!resumed.stopped && resumed.progress.epochsDone === 3);
  second.dispose();
});

/** An augmented phase on [6, 6, 1] images whose teacher runs online (logits, a hint layer and an attention map). */
async function onlinePhaseSetup(train: DistillConfig['train'], resumeFrom?: LoadedCheckpoint) {
  const imageShape = [6, 6, 1];
  const images = (n: number, seed: number): DeviceSplit => {
    const rng = seedGlobalRandom(seed);
    const x = Float32Array.from({ length: n * 36 }, () => rng.next());
    return {
      x: tf.tensor4d(x, [n, 6, 6, 1]),
      y: tf.tensor1d(
        Int32Array.from({ length: n }, (_, i) => i % 3),
        'int32',
      ),
      n,
    };
  };
  const conv = (filters: number) =>
    ({ type: 'conv2d', filters, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' }) as const;
  const objective = compileObjective({
    method: 'combined',
    hardWeight: 0.5,
    labelSmoothing: 0,
    terms: [
      { type: 'kd', weight: 0.5, temperature: 2, divergence: 'forward' },
      { type: 'hint', weight: 0.1, student: 'conv2d_1', teacher: 'conv2d_1', distance: 'mse' },
      { type: 'attention', weight: 1, pairs: [{ student: 'conv2d_1', teacher: 'conv2d_1' }], p: 2 },
    ],
  });
  const data = { train: images(40, 1), validation: images(12, 2) };
  const teacher = buildModel({ type: 'layers', layers: [conv(4), { type: 'flatten' }] }, imageShape, classes);
  const source = { kind: 'tfjs', label: 'teacher', model: teacher } as const;
  const shapes = await teacherOutputShapes(source, objective.teacher, new Float32Array(36));
  const model = buildModel({ type: 'layers', layers: [conv(2), { type: 'flatten' }] }, imageShape, classes);
  const training = buildTrainingModel(model, objective.student, shapes, 'distill');
  const setup: PhaseSetup = {
    phase: 'distill',
    model,
    training,
    train: data.train,
    validation: data.validation,
    onlineTeacher: batchTeacher(source, objective.teacher),
    augment: { crop: { padding: 1 }, flip: true, translate: { pixels: 1 } },
    loss: objective.loss,
    epochs: 3,
    learningRate: 0.01,
    batchSize: 8,
    evalBatchSize: 16,
    train_: train,
    resumeFrom,
  };
  const dispose = () => {
    tf.dispose(Object.values(data).flatMap((d) => [d.x, d.y]));
    training.model.dispose();
    teacher.dispose();
  };
  return { setup, dispose };
}

test('an augmented phase with an online teacher, stopped mid-epoch and resumed, leaves no tensor behind', async () => {
  const train = trainConfig({ logEvery: 2, optimizer: { type: 'adam', learningRate: 0.01 } });
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-loop-online-'));
  const first = await onlinePhaseSetup(train);
  let before = tf.memory().numTensors;
  const stopped = await trainPhase(first.setup, checkpointHooks(runDir, first.setup.training, 7).hooks);
  assert.equal(tf.memory().numTensors, before, 'tensors left by the stopped phase');
  assert.ok(stopped.stopped && stopped.progress.epochsDone === 1, JSON.stringify(stopped.progress));
  first.dispose();

  const second = await onlinePhaseSetup(train, latestCheckpoint(runDir, 'distill')!);
  before = tf.memory().numTensors;
  const resumed = await trainPhase(second.setup, checkpointHooks(runDir, second.setup.training).hooks);
  assert.equal(tf.memory().numTensors, before, 'tensors left by the resumed phase');
  assert.ok(!resumed.stopped && resumed.progress.epochsDone === 3);
  second.dispose();
});
