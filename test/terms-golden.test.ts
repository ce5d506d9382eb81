import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  crossEntropy,
  attentionLoss,
  attentionMap,
  dkdParts,
  hintLoss,
  kdDivergence,
  labelSmoothedCrossEntropy,
  rkdAngleLoss,
  rkdDistanceLoss,
  teacherFreeLoss,
  type Divergence,
} from '../src/core/distill/terms.ts';

// Fixtures: python3 scripts/golden/make_term_fixtures.py (PyTorch, float64 maths on float32 inputs,
// each reference written after the code it cites).
type Nested = number | Nested[];
interface Case {
  fn: string;
  name: string;
  params: {
    temperature?: number;
    divergence?: Divergence;
    epsilon?: number;
    distance?: 'mse' | 'cosine';
    p?: number;
    correctProbability?: number;
  };
  student: Nested;
  teacher?: Nested;
  labels?: number[];
  values: Record<string, number>;
  grads: Record<string, Nested>;
  studentMap?: number[][];
}
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'terms-golden.json'), 'utf8')) as {
  cases: Case[];
};

/**
 * Tolerance for float32 kernels against float64 references: |got - want| <= RTOL * scale + ATOL,
 * the scheme of losses-golden.test.ts. For a loss value the scale is |want|. For a gradient
 * element it is the largest |element| of that gradient: elements far below the largest (softmax
 * tails, the target entry of DKD's masked softmax) carry the absolute rounding error of the larger
 * ones, not a relative one. ATOL only matters where the reference is 0 or nearly (student equals
 * teacher, invariances): there float32 leaves rounding noise up to ~2e-8 (1 − cos(a, a), softmax
 * differences), and 1e-7, ten times below losses-golden's 1e-6, still matters little next to the
 * smallest gradient scale here (~2e-4, attention and RKD: the means over H·W and N² shrink them).
 * Observed elsewhere: 1e-8 to 1e-6 relative (the test prints each case's errors).
 */
const RTOL = 1e-5;
const ATOL = 1e-7;

function within(got: number, want: number, scale: number, what: string): number {
  const err = Math.abs(got - want);
  assert.ok(
    Number.isFinite(got) && err <= RTOL * scale + ATOL,
    `${what}: tfjs ${got}, PyTorch ${want} (error ${err.toExponential(2)}, allowed ${(RTOL * scale + ATOL).toExponential(2)})`,
  );
  return err;
}

const flat = (x: Nested): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x]);
const shapeOf = (x: Nested): number[] => (Array.isArray(x) ? [x.length, ...shapeOf(x[0])] : []);

/** The case's scalar outputs as functions of the student tensor. */
function outputs(
  c: Case,
  teacher: tf.Tensor | null,
  labels: tf.Tensor1D | null,
): Record<string, (s: tf.Tensor) => tf.Scalar> {
  const p = c.params;
  const t = teacher as tf.Tensor2D;
  switch (c.fn) {
    case 'kdDivergence':
      return { loss: (s) => kdDivergence(s as tf.Tensor2D, t, p.temperature!, p.divergence!) };
    case 'labelSmoothedCrossEntropy':
      return { loss: (s) => labelSmoothedCrossEntropy(s as tf.Tensor2D, labels!, p.epsilon!) };
    case 'hintLoss':
      return { loss: (s) => hintLoss(s, teacher!, p.distance!) };
    case 'attentionLoss':
      return { loss: (s) => attentionLoss(s as tf.Tensor4D, teacher as tf.Tensor4D, p.p!) };
    case 'rkdDistanceLoss':
      return { loss: (s) => rkdDistanceLoss(s as tf.Tensor2D, t) };
    case 'rkdAngleLoss':
      return { loss: (s) => rkdAngleLoss(s as tf.Tensor2D, t) };
    case 'dkdParts':
      return {
        target: (s) => dkdParts(s as tf.Tensor2D, t, labels!, p.temperature!).target,
        nonTarget: (s) => {
          const parts = dkdParts(s as tf.Tensor2D, t, labels!, p.temperature!);
          parts.target.dispose();
          return parts.nonTarget;
        },
      };
    case 'teacherFreeLoss':
      return { loss: (s) => teacherFreeLoss(s as tf.Tensor2D, labels!, p.temperature!, p.correctProbability!) };
    default:
      throw new Error(`unknown fixture function ${c.fn}`);
  }
}

/** Largest errors seen per function, relative to the scale of the tolerance (reported at the end). */
const worst: Record<string, { value: number; grad: number }> = {};

test('the fixtures cover the cases the terms must get right', () => {
  const cases = golden.cases;
  const has = (p: (c: Case) => boolean, what: string) => assert.ok(cases.some(p), `no fixture with ${what}`);
  const fns = [
    'kdDivergence',
    'labelSmoothedCrossEntropy',
    'hintLoss',
    'attentionLoss',
    'rkdDistanceLoss',
    'rkdAngleLoss',
    'dkdParts',
    'teacherFreeLoss',
  ];
  for (const fn of fns) assert.ok(cases.filter((c) => c.fn === fn).length >= 5, `fewer than 5 ${fn} cases`);
  for (const div of ['forward', 'reverse'])
    has((c) => c.fn === 'kdDivergence' && c.params.divergence === div && c.params.temperature! < 1, `${div} at T < 1`);
  has((c) => c.fn === 'kdDivergence' && c.name.startsWith('confident teacher'), 'a confident teacher');
  has((c) => c.fn === 'kdDivergence' && Math.max(...flat(c.student).map(Math.abs)) > 50, 'large logits');
  for (const eps of [0, 0.1, 1])
    has((c) => c.fn === 'labelSmoothedCrossEntropy' && c.params.epsilon === eps, `epsilon ${eps}`);
  for (const distance of ['mse', 'cosine']) {
    for (const rank of [2, 4])
      has(
        (c) => c.fn === 'hintLoss' && c.params.distance === distance && shapeOf(c.student).length === rank,
        `${distance} hint of rank ${rank}`,
      );
  }
  has(
    (c) => c.fn === 'attentionLoss' && shapeOf(c.student)[3] !== shapeOf(c.teacher!)[3],
    'attention with different channel counts',
  );
  for (const p of [1, 2, 3]) has((c) => c.fn === 'attentionLoss' && c.params.p === p, `attention with p = ${p}`);
  for (const fn of ['rkdDistanceLoss', 'rkdAngleLoss'])
    has((c) => c.fn === fn && (c.student as number[][]).length >= 64, `${fn} at batch 64`);
  has((c) => c.fn === 'dkdParts' && (c.student as number[][])[0].length === 2, 'binary DKD');
  for (const fn of fns.filter((f) => f !== 'labelSmoothedCrossEntropy' && f !== 'teacherFreeLoss')) {
    has(
      (c) => c.fn === fn && Object.values(c.values).every((v) => Math.abs(v) < 1e-12),
      `${fn} at 0 (student equals teacher, or an invariance)`,
    );
  }
});

for (const c of golden.cases) {
  test(`${c.fn} matches PyTorch: ${c.name} ${JSON.stringify(c.params)}`, async (t) => {
    await tf.setBackend('cpu');
    const s = tf.tensor(c.student as number[]);
    const teacher = c.teacher === undefined ? null : tf.tensor(c.teacher as number[]);
    const labels = c.labels === undefined ? null : tf.tensor1d(c.labels, 'int32');
    const report: string[] = [];
    const w = (worst[c.fn] ??= { value: 0, grad: 0 });

    for (const [name, f] of Object.entries(outputs(c, teacher, labels))) {
      const want = c.values[name];
      const value = f(s);
      assert.deepEqual(value.shape, []);
      const err = within(value.dataSync()[0], want, Math.abs(want), name);
      value.dispose();
      w.value = Math.max(w.value, err / (RTOL * Math.abs(want) + ATOL));
      report.push(
        `${name} abs ${err.toExponential(1)}${Math.abs(want) > 1e-12 ? ` rel ${(err / Math.abs(want)).toExponential(1)}` : ''}`,
      );

      // Only the student input is differentiated: the teacher is a constant, as in training.
      const grad = tf.grad(f)(s);
      const got = Array.from(grad.dataSync());
      grad.dispose();
      const wantGrad = flat(c.grads[name]);
      assert.equal(got.length, wantGrad.length);
      const scale = Math.max(...wantGrad.map(Math.abs));
      let maxErr = 0;
      got.forEach((g, i) => (maxErr = Math.max(maxErr, within(g, wantGrad[i], scale, `d${name}/ds[flat ${i}]`))));
      w.grad = Math.max(w.grad, maxErr / (RTOL * scale + ATOL));
      report.push(
        `d${name}/ds abs ${maxErr.toExponential(1)}${scale > 1e-12 ? ` rel ${(maxErr / scale).toExponential(1)}` : ''}`,
      );
    }

    if (c.studentMap) {
      const map = attentionMap(s as tf.Tensor4D, c.params.p!);
      const got = (map.arraySync() as number[][]).flat();
      map.dispose();
      const want = c.studentMap.flat();
      assert.equal(got.length, want.length);
      const scale = Math.max(...want.map(Math.abs));
      got.forEach((g, i) => within(g, want[i], scale, `attention map [flat ${i}]`));
    }
    tf.dispose([s, ...(teacher ? [teacher] : []), ...(labels ? [labels] : [])]);
    t.diagnostic(report.join('; '));
  });
}

const byName = (fn: string, name: string) => {
  const c = golden.cases.find((x) => x.fn === fn && x.name === name);
  assert.ok(c, `no fixture ${fn} / ${name}`);
  return c;
};
const scalar = (x: tf.Scalar) => {
  const v = x.dataSync()[0];
  x.dispose();
  return v;
};

test('forward and reverse KL differ on asymmetric inputs, and reverse(s, t) = forward(t, s)', async () => {
  await tf.setBackend('cpu');
  for (const c of golden.cases.filter(
    (x) => x.fn === 'kdDivergence' && x.params.divergence === 'forward' && !x.name.startsWith('student equals'),
  )) {
    const [s, teacher] = [tf.tensor2d(c.student as number[][]), tf.tensor2d(c.teacher as number[][])];
    const T = c.params.temperature!;
    const forward = scalar(kdDivergence(s, teacher, T, 'forward'));
    const reverse = scalar(kdDivergence(s, teacher, T, 'reverse'));
    assert.ok(
      Math.abs(forward - reverse) > 1e-3 * Math.abs(forward),
      `${c.name}: forward ${forward} and reverse ${reverse} should differ`,
    );
    // Swapping the roles turns one into the other (the value only; gradients are w.r.t. the student).
    within(
      scalar(kdDivergence(teacher, s, T, 'reverse')),
      forward,
      Math.abs(forward),
      `${c.name}: reverse with roles swapped`,
    );
    tf.dispose([s, teacher]);
  }
});

test('DKD: per sample KD = TCKD + (1 - p_t) NCKD, so alpha = beta = 1 is not plain KD', async () => {
  // Zhao et al. 2022 eq. 1-4. With alpha = beta = 1 the batch sum of the parts exceeds KD by
  // mean_i p_t,i * NCKD_i > 0 whenever the teacher puts mass on the target; a DKD that merely
  // re-split KD (or forgot NCKD's renormalisation over the non-target classes) would not.
  await tf.setBackend('cpu');
  for (const name of ['T4 (mdistiller CIFAR setting)', 'T1', '100 classes']) {
    const c = byName('dkdParts', name);
    const T = c.params.temperature!;
    const rows = (c.student as number[][]).length;
    let sumParts = 0;
    let kdBatch = 0;
    let coupling = 0;
    for (let i = 0; i < rows; i++) {
      const s = tf.tensor2d([(c.student as number[][])[i]]);
      const teacher = tf.tensor2d([(c.teacher as number[][])[i]]);
      const y = tf.tensor1d([c.labels![i]], 'int32');
      const { target, nonTarget } = dkdParts(s, teacher, y, T);
      const [tckd, nckd] = [scalar(target), scalar(nonTarget)];
      const kd = scalar(kdDivergence(s, teacher, T, 'forward'));
      const pt = tf.tidy(() => tf.softmax(tf.div(teacher, T)).arraySync() as number[][])[0][c.labels![i]];
      within(tckd + (1 - pt) * nckd, kd, kd, `${name} row ${i}: TCKD + (1 - p_t) NCKD against KD`);
      sumParts += (tckd + nckd) / rows;
      kdBatch += kd / rows;
      coupling += (pt * nckd) / rows;
      tf.dispose([s, teacher, y]);
    }
    assert.ok(coupling > 1e-3 * kdBatch, `${name}: coupling ${coupling} too small to tell`);
    within(sumParts - kdBatch, coupling, coupling, `${name}: TCKD + NCKD - KD`);
  }
});

test('label smoothing 0 is the plain cross-entropy; Tf-KD_reg is forward KD against softmax(u/T) at T = 1', async () => {
  await tf.setBackend('cpu');
  const ce = byName('labelSmoothedCrossEntropy', 'eps 0 (plain CE)');
  const [logits, y] = [tf.tensor2d(ce.student as number[][]), tf.tensor1d(ce.labels!, 'int32')];
  within(
    scalar(labelSmoothedCrossEntropy(logits, y, 0)),
    scalar(crossEntropy(logits, y)),
    ce.values.loss,
    'eps 0 against crossEntropy',
  );
  tf.dispose([logits, y]);

  for (const c of golden.cases.filter((x) => x.fn === 'teacherFreeLoss')) {
    const { temperature: T, correctProbability: q } = c.params as { temperature: number; correctProbability: number };
    const rows = c.student as number[][];
    const K = rows[0].length;
    const u = c.labels!.map((label) => Array.from({ length: K }, (_, k) => (k === label ? q : (1 - q) / (K - 1)) / T));
    const [s, virtualTeacher, labels] = [tf.tensor2d(rows), tf.tensor2d(u), tf.tensor1d(c.labels!, 'int32')];
    const want = scalar(kdDivergence(s, virtualTeacher, 1, 'forward'));
    within(scalar(teacherFreeLoss(s, labels, T, q)), want, want, `${c.name}: against kdDivergence`);
    tf.dispose([s, virtualTeacher, labels]);
  }
});

test('RKD is invariant to translating, scaling and reflecting the embeddings', async () => {
  await tf.setBackend('cpu');
  const e = tf.randomNormal([12, 6], 0, 1, 'float32', 11) as tf.Tensor2D;
  const moved = tf.tidy(() => tf.add(tf.mul(e, -2.5), 7) as tf.Tensor2D);
  for (const f of [rkdDistanceLoss, rkdAngleLoss]) {
    assert.ok(Math.abs(scalar(f(moved, e))) <= ATOL, `${f.name}(-2.5 e + 7, e) should be 0`);
    const other = tf.randomNormal([12, 6], 0, 1, 'float32', 12) as tf.Tensor2D;
    assert.ok(scalar(f(other, e)) > 1e-3, `${f.name} of unrelated embeddings should be positive`);
    other.dispose();
  }
  tf.dispose([e, moved]);
});

test('the teacher gets no gradient; each term leaves no tensors behind', async () => {
  await tf.setBackend('cpu');
  const s = tf.randomNormal([6, 5], 0, 2, 'float32', 1) as tf.Tensor2D;
  const t = tf.randomNormal([6, 5], 0, 2, 'float32', 2) as tf.Tensor2D;
  const fs4 = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
  const ft4 = tf.randomNormal([2, 3, 3, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');
  const pairs: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Scalar, tf.Tensor, tf.Tensor]> = [
    ['kd forward', (a, b) => kdDivergence(a as tf.Tensor2D, b as tf.Tensor2D, 2, 'forward'), s, t],
    ['kd reverse', (a, b) => kdDivergence(a as tf.Tensor2D, b as tf.Tensor2D, 2, 'reverse'), s, t],
    ['hint mse', (a, b) => hintLoss(a, b, 'mse'), s, t],
    ['hint cosine', (a, b) => hintLoss(a, b, 'cosine'), s, t],
    ['attention', (a, b) => attentionLoss(a as tf.Tensor4D, b as tf.Tensor4D, 2), fs4, ft4],
    ['rkd distance', (a, b) => rkdDistanceLoss(a as tf.Tensor2D, b as tf.Tensor2D), s, t],
    ['rkd angle', (a, b) => rkdAngleLoss(a as tf.Tensor2D, b as tf.Tensor2D), s, t],
    [
      'dkd',
      (a, b) =>
        tf.tidy(() => {
          const parts = dkdParts(a as tf.Tensor2D, b as tf.Tensor2D, y, 4);
          return tf.add(parts.target, parts.nonTarget) as tf.Scalar;
        }),
      s,
      t,
    ],
  ];
  for (const [name, f, a, b] of pairs) {
    const [ga, gb] = tf.grads((x, z) => f(x, z))([a, b]);
    assert.ok(tf.tidy(() => tf.abs(ga).max().dataSync()[0]) > 0, `${name}: student gradient is 0`);
    assert.equal(
      tf.tidy(() => tf.abs(gb).max().dataSync()[0]),
      0,
      `${name}: teacher gradient is not 0`,
    );
    tf.dispose([ga, gb]);
    const before = tf.memory().numTensors;
    const v = f(a, b);
    assert.equal(tf.memory().numTensors, before + 1, `${name} keeps intermediate tensors`);
    v.dispose();
  }
  const before = tf.memory().numTensors;
  const parts = dkdParts(s, t, y, 4);
  assert.equal(tf.memory().numTensors, before + 2, 'dkdParts keeps intermediate tensors');
  tf.dispose([parts.target, parts.nonTarget]);
  const single = [
    labelSmoothedCrossEntropy(s, y, 0.1),
    teacherFreeLoss(s, y, 4, 0.9),
    attentionMap(fs4, 2) as tf.Tensor,
  ];
  assert.equal(
    tf.memory().numTensors,
    before + single.length,
    'labelSmoothedCrossEntropy, teacherFreeLoss or attentionMap keep intermediate tensors',
  );
  tf.dispose([...single, s, t, fs4, ft4, y]);
});

test('shape errors name both shapes', async () => {
  await tf.setBackend('cpu');
  const a = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
  const b = tf.zeros([2, 4, 5, 3]) as tf.Tensor4D;
  assert.throws(() => attentionLoss(a, b, 2), /\[2, 4, 4, 3\].*\[2, 4, 5, 3\]/);
  assert.throws(() => hintLoss(a, b, 'mse'), /\[2, 4, 4, 3\].*\[2, 4, 5, 3\]/);
  const c = tf.zeros([3, 5]) as tf.Tensor2D;
  const d = tf.zeros([3, 6]) as tf.Tensor2D;
  assert.throws(() => kdDivergence(c, d, 1, 'forward'), /\[3, 5\].*\[3, 6\]/);
  tf.dispose([a, b, c, d]);
});

test('largest errors per function (fraction of the allowed tolerance)', (t) => {
  for (const [fn, e] of Object.entries(worst))
    t.diagnostic(`${fn}: value ${e.value.toFixed(3)}, gradient ${e.grad.toFixed(3)} of the tolerance`);
});
