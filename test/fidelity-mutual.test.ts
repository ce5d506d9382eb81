/**
 * Deep mutual learning's training step against PyTorch (scripts/golden/make_mutual_fixtures.py):
 * a student and a peer (linear models), two SGD steps through the real loop, in the paper's
 * alternating form and the joint one; the peer's label loss takes the configured hard-label weight
 * and label smoothing, and its gradient comes from its own terms (its mutual KL to the student).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { configSchema } from '../src/core/config/schema.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import { buildTrainingModel } from '../src/core/distill/studentOutputs.ts';
import { updateMasks } from '../src/core/distill/updateMasks.ts';
import { PEER_LOGITS } from '../src/core/strategies/mutual.ts';
import { STRATEGIES } from '../src/core/strategies/index.ts';
import type { ConfigWith } from '../src/core/strategies/strategy.ts';
import { GroupedOptimizer } from '../src/core/train/groupedOptimizer.ts';
import { trainPhase, type PhaseHooks } from '../src/core/train/loop.ts';

interface Weights {
  kernel: number[][];
  bias: number[];
}
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'mutual-golden.json'), 'utf8')) as {
  hardWeight: number;
  labelSmoothing: number;
  weight: number;
  learningRate: number;
  steps: number;
  x: number[][];
  y: number[];
  init: Record<'student' | 'peer', Weights>;
  alternating: Record<'student' | 'peer', Weights>;
  joint: Record<'student' | 'peer', Weights>;
};

const hooks: PhaseHooks = {
  emitStep: () => {},
  emitEpoch: () => {},
  checkpoint: async () => '',
  stopRequested: () => false,
};

/** A linear model (logits = x W + b) named with `prefix`, from the fixture's initial weights. */
function linear(prefix: string, w: Weights): tf.LayersModel {
  const input = tf.input({ shape: [golden.x[0].length] });
  const out = tf.layers.dense({ name: `${prefix}logits`, units: w.bias.length }).apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  model.setWeights([tf.tensor2d(w.kernel), tf.tensor1d(w.bias)]);
  return model;
}

function config(update: 'alternating' | 'joint') {
  return configSchema.parse({
    data: { source: 'demo' },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp' } },
    // No term reads the teacher (teacher_free at weight 0): the hard weight and smoothing are the peer's too.
    distill: {
      method: 'combined',
      hardWeight: golden.hardWeight,
      labelSmoothing: golden.labelSmoothing,
      terms: [{ type: 'teacher_free', weight: 0 }],
    },
    strategy: { type: 'mutual', weight: golden.weight, update },
    train: {
      epochs: 1,
      optimizer: { type: 'sgd', learningRate: golden.learningRate, momentum: 0 },
      logEvery: 1,
      seed: 0,
    },
  }) as ConfigWith<'mutual'>;
}

/** Trains the pair for the fixture's steps (one epoch of full batches) and returns their weights. */
async function trainPair(update: 'alternating' | 'joint') {
  const cfg = config(update);
  const objective = compileObjective(cfg.distill, STRATEGIES.mutual.terms!(cfg));
  const student = linear('', golden.init.student);
  const peer = linear('peer_', golden.init.peer);
  const companions = [{ key: PEER_LOGITS, model: peer }];
  const training = buildTrainingModel(student, objective.student, new Map(), 'distill', companions);
  // One step per epoch on the whole batch (its order shuffled, which changes no mean): the fixture's steps.
  const n = golden.x.length;
  const x = tf.tensor2d(golden.x);
  const y = tf.tensor1d(golden.y, 'int32');
  const empty = { x: tf.zeros([0, golden.x[0].length]), y: tf.zeros([0], 'int32') as tf.Tensor1D, n: 0 };
  const losses: Array<Record<string, number>> = [];
  await trainPhase(
    {
      phase: 'distill',
      model: student,
      training,
      train: { x, y: y as tf.Tensor1D, n },
      validation: empty,
      loss: objective.loss,
      updates: objective.updates && updateMasks(objective.updates, training.model, companions),
      epochs: golden.steps,
      learningRate: golden.learningRate,
      batchSize: golden.x.length,
      evalBatchSize: 8,
      train_: cfg.train,
    },
    { ...hooks, emitStep: (e) => losses.push(e.loss) },
  );
  const read = async (m: tf.LayersModel): Promise<Weights> => {
    const [k, b] = m.getWeights();
    return { kernel: (await k.array()) as number[][], bias: (await b.array()) as number[] };
  };
  const result = { student: await read(student), peer: await read(peer), objective, losses };
  tf.dispose([x, y, empty.x, empty.y]);
  training.model.dispose();
  return result;
}

function assertClose(actual: Weights, expected: Weights, what: string) {
  const a = [...actual.kernel.flat(), ...actual.bias];
  const e = [...expected.kernel.flat(), ...expected.bias];
  const worst = Math.max(...a.map((v, i) => Math.abs(v - e[i])));
  assert.ok(worst < 2e-5, `${what}: max |tfjs - PyTorch| = ${worst}`);
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test("alternating (the paper's algorithm): student update, fresh forward pass, peer update against the updated student, as in PyTorch", async () => {
  const r = await trainPair('alternating');
  assert.deepEqual(
    r.objective.updates?.map((u) => u.trains),
    ['student', { companion: PEER_LOGITS }],
  );
  assertClose(r.student, golden.alternating.student, 'student');
  assertClose(r.peer, golden.alternating.peer, 'peer');
  // Each update logs its own terms; the step's total is the sum of both updates' totals.
  for (const l of r.losses) {
    assert.deepEqual(Object.keys(l).sort(), ['hard', 'mutual', 'peer_hard', 'peer_mutual', 'teacher_free', 'total']);
    const expected = golden.hardWeight * (l.hard + l.peer_hard) + golden.weight * (l.mutual + l.peer_mutual);
    assert.ok(Math.abs(l.total - expected) < 1e-5, `total ${l.total}, weighted sum ${expected}`);
  }
});

test('joint: one forward pass, one summed loss updates both, as in PyTorch', async () => {
  const r = await trainPair('joint');
  assert.equal(r.objective.updates, undefined);
  assertClose(r.student, golden.joint.student, 'student');
  assertClose(r.peer, golden.joint.peer, 'peer');
});

test("the peer's gradient comes from its own terms: its mutual KL to the student, and its label loss with the configured weight", async () => {
  const cfg = config('joint');
  const objective = compileObjective(cfg.distill, STRATEGIES.mutual.terms!(cfg));
  const student = linear('', golden.init.student);
  const peer = linear('peer_', golden.init.peer);
  const training = buildTrainingModel(student, [], new Map(), 'distill', [{ key: PEER_LOGITS, model: peer }]);
  const x = tf.tensor2d(golden.x);
  const y = tf.tensor1d(golden.y, 'int32');
  const at = { epoch: 1, fraction: 0 };
  const peerKernel = peer.trainableWeights[0].read() as tf.Variable;
  const studentKernel = student.trainableWeights[0].read() as tf.Variable;
  // The gradient of one logged term with respect to the peer's and the student's kernels.
  const gradOf = async (name: string) => {
    const { grads } = tf.variableGrads(
      () => objective.loss(training.forward(x, true), undefined, y, at)[name],
      [peerKernel, studentKernel],
    );
    // A variable the term does not reach has no gradient at all.
    const norms = [peerKernel, studentKernel].map((v) => (grads[v.name] ? tf.norm(grads[v.name]) : tf.scalar(0)));
    const [p, s] = await Promise.all(norms.map((t) => t.data()));
    tf.dispose([...Object.values(grads), ...norms]);
    return { peer: p[0], student: s[0] };
  };
  const peerMutual = await gradOf('peer_mutual');
  assert.ok(peerMutual.peer > 1e-3 && peerMutual.student === 0, JSON.stringify(peerMutual));
  const mutual = await gradOf('mutual');
  assert.ok(mutual.student > 1e-3 && mutual.peer === 0, JSON.stringify(mutual));
  const peerHard = await gradOf('peer_hard');
  assert.ok(peerHard.peer > 1e-3 && peerHard.student === 0, JSON.stringify(peerHard));
  // The total weighs the peer's label loss by the hard weight and its KL by `weight`.
  const terms = objective.loss(training.forward(x, false), undefined, y, at);
  const [total, hard, peerHardV, mutualV, peerMutualV] = await Promise.all(
    ['total', 'hard', 'peer_hard', 'mutual', 'peer_mutual'].map(async (k) => (await terms[k].data())[0]),
  );
  const expected = golden.hardWeight * (hard + peerHardV) + golden.weight * (mutualV + peerMutualV);
  assert.ok(Math.abs(total - expected) < 1e-5, `total ${total}, expected ${expected}`);
  tf.dispose([x, y, ...Object.values(terms)]);
  training.model.dispose();
});

test("the alternating form's optimizer state (one per update) checkpoints as one and restores exactly, and refuses another model's", async () => {
  const sgd = { type: 'sgd' as const, learningRate: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 };
  const make = (): tf.Variable[] => [tf.variable(tf.tensor1d([1, 2, 3])), tf.variable(tf.tensor2d([[4, 5]]))];
  const names = ['dense_1/kernel', 'peer_dense_1/kernel'];
  const grads = [tf.tensor1d([0.1, -0.2, 0.3]), tf.tensor2d([[0.5, -0.5]])];
  const a = make();
  const first = new GroupedOptimizer(sgd, a, names, [[0], [1]]);
  first.apply(0, [grads[0]], 0.1);
  first.apply(1, [grads[1]], 0.1);
  const state = await first.getState();
  assert.equal(state.step, 1);
  assert.deepEqual(
    state.slots.map((s) => s.name),
    ['dense_1/kernel/momentum', 'peer_dense_1/kernel/momentum'],
  );
  const b = make();
  a.forEach((v, i) => b[i].assign(v));
  const second = new GroupedOptimizer(sgd, b, names, [[0], [1]]);
  second.setState(state);
  for (const opt of [first, second]) {
    opt.apply(0, [grads[0]], 0.1);
    opt.apply(1, [grads[1]], 0.1);
  }
  for (let i = 0; i < 2; i++) assert.deepEqual(await a[i].data(), await b[i].data());
  const other = { step: 1, slots: [{ ...state.slots[0], name: 'dense_9/kernel/momentum' }, state.slots[1]] };
  assert.throws(() => second.setState(other), /dense_9\/kernel\/momentum.*does not have|none for dense_1/);
  first.dispose();
  second.dispose();
  tf.dispose([...a, ...b, ...grads]);
});
