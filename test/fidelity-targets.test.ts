/**
 * What a stage actually trains on, in process: the targets of a chain's stage (the assistant's
 * logits, the mean logits of earlier generations), DKD's warm-up, an annealed KD temperature
 * (used by the loss and logged with each epoch), and BAN-E's prediction (the mean softmax).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { configSchema, type DistillConfig } from '../src/core/config/schema.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import {
  computeTeacherOutputs,
  disposeTeacherTensors,
  type TeacherSource,
} from '../src/core/distill/teacherOutputs.ts';
import { buildTrainingModel } from '../src/core/distill/studentOutputs.ts';
import { kdDivergence } from '../src/core/distill/terms.ts';
import { ensembleLogits } from '../src/core/models/ensemble.ts';
import { stageTeacher } from '../src/core/run/stageTeacher.ts';
import { STRATEGIES } from '../src/core/strategies/index.ts';
import type { ConfigWith } from '../src/core/strategies/strategy.ts';
import { trainPhase } from '../src/core/train/loop.ts';
import type { EpochEvent, EventPayload, Phase } from '../src/protocol/events.ts';

const classes = 3;
const dim = 4;

function parse(overrides: Record<string, unknown>): DistillConfig {
  return configSchema.parse({
    data: { source: 'demo' },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp' } },
    ...overrides,
  });
}

/** A linear model with seeded random weights (`seed` makes each one different). */
function linear(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [dim] });
  const out = tf.layers
    .dense({ units: classes, kernelInitializer: tf.initializers.randomNormal({ seed }) })
    .apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

const x = () =>
  tf.tensor2d(
    Array.from({ length: 8 * dim }, (_, i) => Math.sin(i * 1.7)),
    [8, dim],
  );
const labels = () => tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32');

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.max(tf.abs(tf.sub(a, b)));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

/** The training-split logits a stage learns from, as the run computes them (computeTeacherOutputs). */
async function targetsOf(source: TeacherSource, input: tf.Tensor): Promise<tf.Tensor2D> {
  const out = await computeTeacherOutputs(
    source,
    { train: input, validation: input, test: input },
    { train: new Float32Array(), validation: new Float32Array(), test: new Float32Array() },
    classes,
    [],
    4,
  );
  const train = out.logits.train.clone();
  disposeTeacherTensors(out);
  return train;
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test("a chain's stage trains on its assistant's logits, a later generation on the mean logits of the earlier ones, not the teacher's", async () => {
  const teacher = linear(1);
  const reference: TeacherSource = { kind: 'tfjs', label: 'teacher', model: teacher };
  const trained = new Map<Phase, tf.LayersModel>([
    ['assistant-1', linear(2)],
    ['generation-1', linear(3)],
    ['generation-2', linear(4)],
  ]);
  const input = x();
  const logitsOf = (p: Phase) => trained.get(p)!.predict(input) as tf.Tensor2D;
  const teacherLogits = teacher.predict(input) as tf.Tensor2D;

  // The assistants strategy: the student's stage names assistant-1; its targets are that model's logits.
  const chain = parse({
    strategy: { type: 'assistants', assistants: [{ architecture: { type: 'mlp', hidden: [8] } }] },
  }) as ConfigWith<'assistants'>;
  const [assistantStage, studentStage] = STRATEGIES.assistants.stages(chain);
  assert.deepEqual(assistantStage.learnsFrom, ['teacher']);
  assert.equal(stageTeacher(assistantStage.learnsFrom, trained, reference), reference);
  const fromAssistant = await targetsOf(stageTeacher(studentStage.learnsFrom, trained, reference), input);
  assert.ok((await maxAbsDiff(fromAssistant, logitsOf('assistant-1'))) < 1e-6);
  assert.ok((await maxAbsDiff(fromAssistant, teacherLogits)) > 1e-2, 'not the teacher');

  // Born-again with mean-of-earlier: generation 3 (the distilled student) learns from the mean of 1 and 2.
  const ban = parse({
    strategy: { type: 'born_again', generations: 3, generationTeacher: 'mean-of-earlier' },
  }) as ConfigWith<'born_again'>;
  const stages = STRATEGIES.born_again.stages(ban);
  const previous = await targetsOf(stageTeacher(stages[1].learnsFrom, trained, reference), input);
  assert.ok((await maxAbsDiff(previous, logitsOf('generation-1'))) < 1e-6, 'generation 2 learns from generation 1');
  const mean = await targetsOf(stageTeacher(stages[2].learnsFrom, trained, reference), input);
  const expected = tf.div(tf.add(logitsOf('generation-1'), logitsOf('generation-2')), 2);
  assert.ok((await maxAbsDiff(mean, expected)) < 1e-6, 'the mean logits of generations 1 and 2');
  assert.ok((await maxAbsDiff(mean, logitsOf('generation-2'))) > 1e-2, 'not the last generation alone');
  // The default (the paper's sequence): generation 3 learns from generation 2 alone.
  const sequence = STRATEGIES.born_again.stages(
    parse({ strategy: { type: 'born_again', generations: 3 } }) as ConfigWith<'born_again'>,
  );
  const last = await targetsOf(stageTeacher(sequence[2].learnsFrom, trained, reference), input);
  assert.ok((await maxAbsDiff(last, logitsOf('generation-2'))) < 1e-6);
  tf.dispose([input, teacherLogits, fromAssistant, previous, mean, expected, last]);
});

test("BAN-E's prediction is the mean of its members' softmax outputs, in batches", async () => {
  const members = [linear(5), linear(6), linear(7)];
  const input = x();
  const logits = ensembleLogits(members, input, 3);
  const expected = tf.div(tf.addN(members.map((m) => tf.softmax(m.predict(input) as tf.Tensor2D))), 3);
  assert.ok((await maxAbsDiff(tf.softmax(logits), expected)) < 1e-6);
  // Not the softmax of the mean logits (a different ensemble).
  const ofMeanLogits = tf.softmax(tf.div(tf.addN(members.map((m) => m.predict(input) as tf.Tensor2D)), 3));
  assert.ok((await maxAbsDiff(tf.softmax(logits), ofMeanLogits)) > 1e-4);
  tf.dispose([input, logits, expected, ofMeanLogits]);
});

test("DKD's warm-up scales the whole term by min(epoch / warmupEpochs, 1); the default is 5 epochs", async () => {
  const objective = compileObjective({
    method: 'combined',
    hardWeight: 1,
    labelSmoothing: 0,
    terms: [{ type: 'dkd', alpha: 1, beta: 8, temperature: 4, warmupEpochs: 4 }],
  });
  const student = { logits: tf.randomNormal([8, classes], 0, 1, 'float32', 1) as tf.Tensor2D, outputs: new Map() };
  const teacher = { logits: tf.randomNormal([8, classes], 0, 2, 'float32', 2) as tf.Tensor2D, outputs: new Map() };
  const y = labels();
  for (const [epoch, ramp] of [
    [1, 0.25],
    [2, 0.5],
    [4, 1],
    [9, 1],
  ]) {
    const l = objective.loss(student, teacher, y, { epoch, fraction: 0 });
    const [total, hard, target, nonTarget] = await Promise.all(
      [l.total, l.hard, l.dkd_target, l.dkd_nontarget].map(async (t) => (await t.data())[0]),
    );
    assert.ok(target > 0 && nonTarget > 0);
    const expected = hard + ramp * (target + 8 * nonTarget);
    assert.ok(Math.abs(total - expected) < 1e-5, `epoch ${epoch}: total ${total}, expected ${expected}`);
    tf.dispose(Object.values(l));
  }
  const defaults = parse({ distill: { method: 'combined', terms: [{ type: 'dkd' }] } });
  assert.deepEqual(defaults.distill.method === 'combined' && defaults.distill.terms[0], {
    type: 'dkd',
    alpha: 1,
    beta: 8,
    temperature: 4,
    warmupEpochs: 5,
  });
  tf.dispose([student.logits, teacher.logits, y]);
});

test('an annealed KD temperature is the one the loss uses, and each epoch logs it', async () => {
  const config = parse({
    distill: { method: 'kd', temperature: 4, finalTemperature: 1, alpha: 0.5 },
    train: { epochs: 2, logEvery: 1, optimizer: { type: 'sgd', learningRate: 0.1, momentum: 0 } },
  });
  const objective = compileObjective(config.distill);
  assert.ok(objective.temperatures);
  assert.deepEqual(objective.temperatures({ epoch: 1, fraction: 0 }), { kd: 4 });
  assert.deepEqual(objective.temperatures({ epoch: 2, fraction: 0.5 }), { kd: 2.5 });
  // The loss at half-way is KD at T = 2.5 (scaled by T²), not at the starting T.
  const student = { logits: tf.randomNormal([8, classes], 0, 1, 'float32', 3) as tf.Tensor2D, outputs: new Map() };
  const teacher = { logits: tf.randomNormal([8, classes], 0, 2, 'float32', 4) as tf.Tensor2D, outputs: new Map() };
  const y = labels();
  const l = objective.loss(student, teacher, y, { epoch: 2, fraction: 0.5 });
  const direct = kdDivergence(student.logits, teacher.logits, 2.5, 'forward');
  assert.ok((await maxAbsDiff(l.kd, direct)) < 1e-6);
  tf.dispose([...Object.values(l), direct, student.logits, teacher.logits]);

  // Through the loop: 2 epochs of one step each; the epoch's T is its last step's (fractions 0, 1/2).
  const model = linear(8);
  const input = x();
  const teacherLogits = linear(9).predict(input) as tf.Tensor2D;
  const epochs: Array<EventPayload<EpochEvent>> = [];
  const empty = { x: tf.zeros([0, dim]), y: tf.zeros([0], 'int32') as tf.Tensor1D, n: 0 };
  await trainPhase(
    {
      phase: 'distill',
      model,
      training: buildTrainingModel(model, [], new Map(), 'distill'),
      train: { x: input, y, n: 8 },
      validation: empty,
      teacherTrain: { logits: teacherLogits, outputs: new Map() },
      loss: objective.loss,
      temperatures: objective.temperatures,
      epochs: 2,
      learningRate: 0.1,
      batchSize: 8,
      evalBatchSize: 8,
      train_: config.train,
    },
    {
      emitStep: () => {},
      emitEpoch: (e) => epochs.push(e),
      checkpoint: async () => '',
      stopRequested: () => false,
    },
  );
  assert.deepEqual(
    epochs.map((e) => e.temperatures),
    [{ kd: 4 }, { kd: 2.5 }],
  );
  tf.dispose([input, y, teacherLogits, empty.x, empty.y]);
  model.dispose();
});

test("born-again's old `ensemble` option is refused, saying what replaced it", () => {
  const r = configSchema.safeParse({
    data: { source: 'demo' },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp' } },
    strategy: { type: 'born_again', ensemble: true },
  });
  assert.ok(!r.success);
  assert.deepEqual(r.error.issues[0].path, ['strategy', 'ensemble']);
  assert.match(r.error.issues[0].message, /now `generationTeacher`: "mean-of-earlier"/);
});
