/**
 * The unlabeled transfer set (`data.unlabeled`) and pseudo-labels (`distill.pseudoLabels`): losses
 * that read labels ignore the unlabeled rows, soft-target terms use them, pseudo-labels follow the
 * teacher's confidence, and a real CLI run reports the examples it used and reuses the teacher's
 * cached outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '../src/core/data/dataset.ts';
import { readIdx, readIdxPair } from '../src/core/data/idx.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import { pseudoLabel } from '../src/core/distill/pseudoLabels.ts';
import { mutual, PEER_LOGITS } from '../src/core/strategies/mutual.ts';
import { buildModel } from '../src/core/models/build.ts';
import { seedGlobalRandom } from '../src/core/random.ts';
import { loadModel } from '../src/core/models/io.ts';
import { demoDataDir, demoTeacherPath } from '../src/core/paths.ts';
import type { DataSpec } from '../src/core/config/schema.ts';
import { parseEvents, type EpochEvent, type RunEvent, type TeacherOutputsEvent } from '../src/protocol/events.ts';
import { foldRun } from '../src/protocol/run.ts';
import { examplesText } from '../src/protocol/examples.ts';
import { trainingDataRows } from '../webview/trainingData.ts';
import { runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';
import { writeNpy } from './helpers/npyWriter.ts';

const demo = (name: string) => path.join(demoDataDir(), name);

/** The demo's test images and labels (real Fashion-MNIST), for transfer sets apart from the labeled training rows. */
function demoTest(n: number): { pixels: Uint8Array; labels: Int32Array } {
  const pair = readIdxPair(demo('t10k-images-idx3-ubyte.gz'), demo('t10k-labels-idx1-ubyte.gz'));
  return { pixels: (pair.images as Uint8Array).slice(0, n * 784), labels: pair.labels.slice(0, n) };
}

/** A CSV of images pooled to 7x7 (49 features) with a `label` column. */
function pooledCsv(file: string, pixels: Uint8Array, labels: ArrayLike<number>): void {
  const rows = [[...Array.from({ length: 49 }, (_, i) => `p${i}`), 'label'].join(',')];
  for (let k = 0; k < labels.length; k++) {
    const cells: number[] = [];
    for (let by = 0; by < 7; by++)
      for (let bx = 0; bx < 7; bx++) {
        let sum = 0;
        for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) sum += pixels[k * 784 + (by * 4 + y) * 28 + bx * 4 + x];
        cells.push(sum / 16);
      }
    rows.push(`${cells.join(',')},${labels[k]}`);
  }
  fs.writeFileSync(file, rows.join('\n'));
}

/** Parses a config's data section with the schema's defaults, paths absolute. */
function dataSpec(data: Record<string, unknown>): DataSpec {
  return { validationFraction: 0.1, normalize: 'scale', batchSize: 16, evalBatchSize: 1000, ...data } as DataSpec;
}

/** Gradients of `loss` with respect to the model's weights, as host arrays. */
async function gradsOf(
  model: tf.LayersModel,
  loss: () => tf.Scalar,
): Promise<{ value: number; grads: Float32Array[] }> {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(loss, variables);
  const out = await Promise.all(variables.map((v) => grads[v.name].data() as Promise<Float32Array>));
  const v = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { value: v, grads: out };
}

function assertClose(a: Float32Array[], b: Float32Array[], tol: number, what: string): void {
  assert.equal(a.length, b.length);
  a.forEach((g, i) =>
    g.forEach((v, j) => assert.ok(Math.abs(v - b[i][j]) <= tol, `${what}: weight ${i}[${j}] ${v} vs ${b[i][j]}`)),
  );
}

const maxDiff = (a: Float32Array[], b: Float32Array[]) =>
  Math.max(...a.flatMap((g, i) => Array.from(g, (v, j) => Math.abs(v - b[i][j]))));

test('the hard-label loss of a transfer-set batch ignores the unlabeled rows, whatever labels their file holds', async () => {
  await tf.setBackend('cpu');
  const dir = tempDir('transfer-hard');
  // Unlabeled rows whose file carries adversarial labels: every one is (true class + 5) mod 10.
  const unl = demoTest(40);
  const adversarial = Array.from(unl.labels, (l) => (l + 5) % 10);
  pooledCsv(path.join(dir, 'unlabeled.csv'), unl.pixels, adversarial);
  const train = readIdxPair(demo('train-images-idx3-ubyte.gz'), demo('train-labels-idx1-ubyte.gz'));
  pooledCsv(path.join(dir, 'train.csv'), (train.images as Uint8Array).slice(0, 300 * 784), train.labels.slice(0, 300));
  const data = await loadDataset(
    dataSpec({
      source: 'csv',
      train: path.join(dir, 'train.csv'),
      label: 'label',
      header: 'auto',
      delimiter: ',',
      testFraction: 0.2,
      unlabeled: {
        source: 'csv',
        file: path.join(dir, 'unlabeled.csv'),
        label: 'label',
        header: 'auto',
        delimiter: ',',
      },
    }),
    0,
  );
  const u = data.unlabeled!;
  assert.equal(u.n, 40);
  assert.ok(
    u.y.every((l) => l === -1),
    'the label column of an unlabeled CSV is never read',
  );
  assert.equal(u.x.length, 40 * 49, 'the label column is dropped, the 49 features kept');

  seedGlobalRandom(15);
  const student = buildModel({ type: 'mlp', hidden: [16], activation: 'relu', dropout: 0, batchNorm: false }, [49], 10);
  const nL = 24;
  const labeledX = tf.tensor2d(data.train.x.slice(0, nL * 49), [nL, 49]);
  const labeledY = tf.tensor1d(data.train.y.slice(0, nL), 'int32');
  const mixedX = tf.concat([labeledX, tf.tensor2d(u.x, [40, 49])]);
  const mixedY = tf.tensor1d([...data.train.y.slice(0, nL), ...u.y], 'int32');
  const leakedY = tf.tensor1d([...data.train.y.slice(0, nL), ...adversarial], 'int32');
  const objective = compileObjective({ method: 'kd', temperature: 2, alpha: 0.5, divergence: 'forward' });
  const teacher = (x: tf.Tensor) => ({
    logits: tf.tidy(() => tf.mul(student.apply(x) as tf.Tensor2D, 1.5)) as tf.Tensor2D,
    outputs: new Map(),
  });
  const hardOf = (x: tf.Tensor, y: tf.Tensor1D) => () =>
    objective.loss(
      { logits: tf.mul(student.apply(x, { training: true }) as tf.Tensor2D, 20), outputs: new Map() },
      teacher(x),
      y,
      {
        epoch: 1,
        fraction: 0,
      },
    ).hard;

  const alone = await gradsOf(student, hardOf(labeledX, labeledY));
  const mixed = await gradsOf(student, hardOf(mixedX, mixedY));
  assert.ok(Math.abs(alone.value - mixed.value) < 1e-6, `hard loss ${mixed.value} vs labeled-only ${alone.value}`);
  assertClose(mixed.grads, alone.grads, 1e-6, 'hard-loss gradient with unlabeled rows vs without');
  // Had the file's labels reached the loss, it would differ: the comparison above can tell
  // (the logits are scaled by 20 so that each row's cross-entropy depends strongly on its label).
  const leaked = await gradsOf(student, hardOf(mixedX, leakedY));
  assert.ok(Math.abs(leaked.value - alone.value) > 0.05, 'adversarial labels change the hard loss');
  assert.ok(maxDiff(leaked.grads, alone.grads) > 1e-3, 'adversarial labels change its gradient');

  // A batch of unlabeled rows only: no hard-label signal at all.
  const none = await gradsOf(student, hardOf(tf.tensor2d(u.x, [40, 49]), tf.tensor1d(u.y, 'int32')));
  assert.equal(none.value, 0);
  assert.ok(none.grads.every((g) => g.every((v) => v === 0)));
  student.dispose();
});

test('soft-target terms use every row; dkd, teacher-free KD and a mutual peer read labels of labeled rows only', async () => {
  await tf.setBackend('cpu');
  const n = 12;
  const nL = 5;
  const s = tf.randomNormal([n, 4], 0, 2, 'float32', 11) as tf.Tensor2D;
  const t = tf.randomNormal([n, 4], 0, 2, 'float32', 12) as tf.Tensor2D;
  const peer = tf.randomNormal([n, 4], 0, 2, 'float32', 13) as tf.Tensor2D;
  const labels = [2, 0, 3, 1, 1];
  const y = tf.tensor1d([...labels, ...Array(n - nL).fill(-1)], 'int32');
  const yL = tf.tensor1d(labels, 'int32');
  const first = (x: tf.Tensor2D) => x.slice([0, 0], [nL, 4]);
  const objective = compileObjective({
    method: 'combined',
    hardWeight: 1,
    labelSmoothing: 0.1,
    terms: [
      { type: 'kd', weight: 1, temperature: 3, divergence: 'forward' },
      { type: 'dkd', alpha: 1, beta: 8, temperature: 4, warmupEpochs: 0 },
      { type: 'teacher_free', weight: 1, temperature: 20, correctProbability: 0.9 },
    ],
  });
  const at = { epoch: 1, fraction: 0 };
  const all = objective.loss({ logits: s, outputs: new Map() }, { logits: t, outputs: new Map() }, y, at);
  const onlyL = objective.loss(
    { logits: first(s), outputs: new Map() },
    { logits: first(t), outputs: new Map() },
    yL,
    at,
  );
  const v = async (x: tf.Scalar) => (await x.data())[0];
  for (const name of ['hard', 'dkd_target', 'dkd_nontarget', 'teacher_free'])
    assert.ok(Math.abs((await v(all[name])) - (await v(onlyL[name]))) < 1e-5, `${name} is over the labeled rows only`);

  // KD: the batch mean of T² KL(p_t || p_s) over all 12 rows, computed here independently.
  const [sv, tv] = [(await s.data()) as Float32Array, (await t.data()) as Float32Array];
  const softmax = (row: Float32Array, T: number) => {
    const m = Math.max(...row);
    const e = Array.from(row, (z) => Math.exp((z - m) / T));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / sum);
  };
  let kl = 0;
  for (let i = 0; i < n; i++) {
    const p = softmax(tv.slice(i * 4, i * 4 + 4), 3);
    const q = softmax(sv.slice(i * 4, i * 4 + 4), 3);
    kl += p.reduce((acc, pi, k) => acc + pi * Math.log(pi / q[k]), 0);
  }
  assert.ok(Math.abs((await v(all.kd)) - (9 * kl) / n) < 1e-4, 'kd averages over every row, unlabeled too');
  assert.ok(Math.abs((await v(all.kd)) - (await v(onlyL.kd))) > 1e-3, 'and the unlabeled rows change it');

  // Deep mutual learning: the peer's label loss skips unlabeled rows; the mutual KLs use them all.
  const config = {
    strategy: { type: 'mutual', weight: 1, update: 'joint' },
    distill: { method: 'none', labelSmoothing: 0 },
  } as unknown as Parameters<NonNullable<typeof mutual.terms>>[0];
  const ext = mutual.terms!(config);
  const batch = (logits: tf.Tensor2D, p: tf.Tensor2D) => ({ logits, outputs: new Map([[PEER_LOGITS, p]]) });
  const [peerHardAll, mutualAll] = ext.loss(batch(s, peer), undefined, y, at);
  const [peerHardL, mutualL] = ext.loss(batch(first(s), first(peer)), undefined, yL, at);
  assert.ok(Math.abs((await v(peerHardAll[0])) - (await v(peerHardL[0]))) < 1e-5);
  assert.ok(Math.abs((await v(mutualAll[0])) - (await v(mutualL[0]))) > 1e-3);
});

test('pseudo-labels: confident unlabeled rows take the teacher argmax, the count kept matches an independent count', async () => {
  await tf.setBackend('cpu');
  const n = 400;
  const logits = tf.randomNormal([n, 10], 0, 3, 'float32', 7) as tf.Tensor2D;
  const own = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i % 10 : -1));
  const labels = tf.tensor1d(own, 'int32');
  const values = await logits.data();
  for (const threshold of [0, 0.5, 0.9, 1]) {
    const got = pseudoLabel(logits, labels, threshold);
    const out = await got.labels.data();
    let expectedKept = 0;
    for (let i = 0; i < n; i++) {
      const row = Array.from(values.slice(i * 10, i * 10 + 10));
      const m = Math.max(...row);
      const e = row.map((z) => Math.exp(z - m));
      const top = Math.max(...e) / e.reduce((a, b) => a + b, 0);
      const arg = row.indexOf(m);
      if (own[i] >= 0) assert.equal(out[i], own[i], 'a labeled row keeps its label');
      else if (top >= threshold) {
        expectedKept++;
        assert.equal(out[i], arg, `row ${i} takes the teacher's class`);
      } else assert.equal(out[i], -1, `row ${i} (confidence ${top}) stays unlabeled at ${threshold}`);
    }
    assert.equal((await got.kept.data())[0], expectedKept, `kept at threshold ${threshold}`);
    if (threshold === 0) assert.equal(expectedKept, own.filter((l) => l < 0).length);
    if (threshold === 0.5) assert.ok(expectedKept > 0 && expectedKept < 266, `a strict subset kept (${expectedKept})`);
    tf.dispose([got.labels, got.kept]);
  }
});

function events(run: string): RunEvent[] {
  return parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
}

test('distill train with an unlabeled NumPy transfer set: counts in the events, the fold and the CLI; the teacher cache hit on the second run', async () => {
  const dir = tempDir('transfer-run');
  const nU = 500;
  const unl = demoTest(nU);
  writeNpy(path.join(dir, 'unlabeled.npy'), unl.pixels, [nU, 28, 28]);
  const threshold = 0.8;
  const config = smallConfig({
    data: { source: 'demo', trainLimit: 300, batchSize: 64, unlabeled: { source: 'npy', x: 'unlabeled.npy' } },
    distill: { method: 'kd', temperature: 2, alpha: 0.5, pseudoLabels: { threshold } },
    train: { epochs: 2, logEvery: 5 },
    cache: { dir: 'cache' },
    bench: { enabled: false },
    export: { onnx: false },
  });
  const file = writeConfig(dir, 'transfer', config);
  const first = runCli(['train', file], dir);
  assert.equal(first.code, 0, first.stderr);
  const [run] = runFolders(dir);
  const evs = events(run);
  const started = evs.find((e) => e.type === 'run_started')!;
  assert.equal(started.type === 'run_started' && started.data.unlabeled?.examples, nU);
  const epochs = evs.filter((e): e is EpochEvent => e.type === 'epoch');

  // The demo teacher's confidence on the unlabeled images, computed here in its own pass.
  await tf.setBackend('cpu');
  const teacher = (await loadModel(demoTeacherPath())).model;
  const probs = tf.tidy(() =>
    tf.max(
      tf.softmax(teacher.predict(tf.div(tf.tensor4d(unl.pixels, [nU, 28, 28, 1], 'float32'), 255)) as tf.Tensor2D),
      1,
    ),
  );
  const confident = Array.from(await probs.data()).filter((p) => p >= threshold).length;
  teacher.dispose();
  probs.dispose();

  for (const e of epochs.filter((x) => x.phase === 'scratch'))
    assert.deepEqual(e.examples, { labeled: 300, unlabeled: 0 });
  const distilled = epochs.filter((x) => x.phase === 'distill');
  assert.equal(distilled.length, 2);
  for (const e of distilled) {
    assert.equal(e.examples?.labeled, 300);
    assert.equal(e.examples?.unlabeled, nU);
    // The teacher's outputs came through the run's backend: allow a row at the threshold to differ.
    assert.ok(
      Math.abs(e.examples!.pseudoLabeled! - confident) <= 2,
      `${e.examples!.pseudoLabeled} vs ${confident} confident rows`,
    );
  }
  const phaseStarted = evs.find((e) => e.type === 'phase_started' && e.phase === 'distill');
  assert.equal(phaseStarted?.type === 'phase_started' && phaseStarted.stepsPerEpoch, Math.ceil((300 + nU) / 64));
  const teacherOut = evs.find((e): e is TeacherOutputsEvent => e.type === 'teacher_outputs')!;
  assert.equal(teacherOut.cache?.hit, false);
  const validation = started.type === 'run_started' ? started.data.validation + started.data.test : 0;
  assert.equal(teacherOut.examples, 300 + nU + validation, 'the teacher ran on the transfer set too');

  // The fold keeps each phase's examples; the dashboard's rows and the CLI print them.
  const state = foldRun(evs);
  assert.deepEqual(state.byPhase.distill?.examples, distilled[1].examples);
  assert.deepEqual(
    trainingDataRows(state).map((r) => [r.phase, r.labeled, r.unlabeled, r.pseudoLabeled]),
    [
      ['scratch', 300, 0, undefined],
      ['distill', 300, nU, distilled[1].examples!.pseudoLabeled],
    ],
  );
  assert.match(first.stdout, /transfer set: 500 unlabeled from npy /);
  assert.ok(first.stdout.includes(examplesText(distilled[1].examples!)), first.stdout);

  // The same teacher on the same inputs: its outputs come from the cache.
  const second = runCli(['train', file], dir);
  assert.equal(second.code, 0, second.stderr);
  const run2 = runFolders(dir).find((r) => r !== run)!;
  const evs2 = events(run2);
  assert.equal(evs2.find((e): e is TeacherOutputsEvent => e.type === 'teacher_outputs')!.cache?.hit, true);
  assert.deepEqual(
    evs2.filter((e): e is EpochEvent => e.type === 'epoch' && e.phase === 'distill').map((e) => e.examples),
    distilled.map((e) => e.examples),
  );
  // As many other unlabeled images are other inputs: the cache key covers them.
  const other = demoTest(2 * nU).pixels.slice(nU * 784);
  writeNpy(path.join(dir, 'other.npy'), other, [nU, 28, 28]);
  writeConfig(dir, 'transfer', { ...config, data: { ...config.data, unlabeled: { source: 'npy', x: 'other.npy' } } });
  const third = runCli(['train', file], dir);
  assert.equal(third.code, 0, third.stderr);
  const run3 = runFolders(dir).find((r) => r !== run && r !== run2)!;
  assert.equal(events(run3).find((e): e is TeacherOutputsEvent => e.type === 'teacher_outputs')!.cache?.hit, false);
});

test('an IDX transfer set of another image size, or pseudo-labels without a teacher, are config problems at their JSON path', () => {
  const dir = tempDir('transfer-problems');
  // 14x14 images: half the size of the labeled 28x28 ones.
  const header = Buffer.from([0, 0, 8, 3, 0, 0, 0, 20, 0, 0, 0, 14, 0, 0, 0, 14]);
  fs.writeFileSync(path.join(dir, 'small.gz'), zlib.gzipSync(Buffer.concat([header, Buffer.alloc(20 * 196, 7)])));
  assert.deepEqual(readIdx(path.join(dir, 'small.gz')).dims, [20, 14, 14]);
  const shape = writeConfig(
    dir,
    'shape',
    smallConfig({ data: { source: 'demo', trainLimit: 300, unlabeled: { source: 'idx', images: 'small.gz' } } }),
  );
  const r = runCli(['validate', shape], dir);
  assert.equal(r.code, 2, r.stdout);
  assert.match(
    r.stderr,
    /data\.unlabeled\.images: .*small\.gz: holds unlabeled examples of shape \[14, 14, 1\]; expected \[28, 28, 1\]/,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');

  const noTeacher = writeConfig(
    dir,
    'none',
    smallConfig({
      data: {
        source: 'demo',
        trainLimit: 300,
        unlabeled: { source: 'idx', images: demo('t10k-images-idx3-ubyte.gz') },
      },
      distill: { method: 'none', pseudoLabels: { threshold: 0.9 } },
    }),
  );
  const r2 = runCli(['validate', noTeacher], dir);
  assert.equal(r2.code, 2);
  assert.match(
    r2.stderr,
    /distill\.pseudoLabels: pseudo-labels are the teacher's classes, but no loss term reads a teacher/,
  );
  assert.match(r2.stderr, /data\.unlabeled: unlabeled examples are learned from a teacher's outputs/);

  const noSet = writeConfig(dir, 'noset', smallConfig({ distill: { method: 'kd', pseudoLabels: { threshold: 0.9 } } }));
  const r3 = runCli(['validate', noSet], dir);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /distill\.pseudoLabels: .*expected data\.unlabeled/);
  assert.equal(runFolders(dir).length, 0, 'nothing written');
});

test('an unlabeled CSV without a label column uses every column; one with a label column drops it unread', async () => {
  const dir = tempDir('transfer-csv');
  const train = path.join(dir, 'train.csv');
  fs.writeFileSync(train, ['a,b,label', ...Array.from({ length: 40 }, (_, i) => `${i},${2 * i},${i % 2}`)].join('\n'));
  const features = path.join(dir, 'features.csv');
  fs.writeFileSync(features, ['a,b', '100,200', '-4,8'].join('\n'));
  const withLabel = path.join(dir, 'with-label.csv');
  // The label column may hold anything, even nothing: it is not read.
  fs.writeFileSync(withLabel, ['label,a,b', 'cat,100,200', ',-4,8'].join('\n'));
  const spec = (unlabeled: Record<string, unknown>) =>
    dataSpec({
      source: 'csv',
      train,
      label: 'label',
      header: 'auto',
      delimiter: ',',
      testFraction: 0.2,
      normalize: 'none',
      unlabeled: { header: 'auto', delimiter: ',', ...unlabeled },
    });
  for (const u of [
    { source: 'csv', file: features },
    { source: 'csv', file: withLabel, label: 'label' },
  ]) {
    const data = await loadDataset(spec(u), 0);
    assert.deepEqual(Array.from(data.unlabeled!.x), [100, 200, -4, 8]);
    assert.deepEqual(Array.from(data.unlabeled!.y), [-1, -1]);
  }
  // Normalised with the labeled training split's statistics, not its own.
  const scaled = await loadDataset({ ...spec({ source: 'csv', file: features }), normalize: 'standardize' }, 0);
  const xs = Array.from({ length: scaled.train.n }, (_, i) => scaled.train.x[i * 2]);
  assert.ok(Math.abs(xs.reduce((a, b) => a + b, 0) / xs.length) < 1e-4, 'the labeled split is centred');
  assert.ok(scaled.unlabeled!.x[0] > 3, `100 is far above the labeled mean: ${scaled.unlabeled!.x[0]}`);
});

test('with augmentation the teacher runs online and pseudo-labels each augmented batch: the count is reported per epoch', async () => {
  const dir = tempDir('transfer-online');
  const nU = 400;
  const unl = demoTest(nU);
  writeNpy(path.join(dir, 'unlabeled.npy'), unl.pixels, [nU, 28, 28]);
  const config = smallConfig({
    data: {
      source: 'demo',
      trainLimit: 300,
      batchSize: 64,
      augment: { crop: { padding: 1 } },
      unlabeled: { source: 'npy', x: 'unlabeled.npy' },
    },
    distill: { method: 'kd', temperature: 2, alpha: 0.5, pseudoLabels: { threshold: 0.8 } },
    train: { epochs: 2, logEvery: 5 },
    bench: { enabled: false },
    export: { onnx: false },
  });
  const r = runCli(['train', writeConfig(dir, 'online', config)], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /the teacher runs online/);
  const [run] = runFolders(dir);
  const distilled = events(run).filter((e): e is EpochEvent => e.type === 'epoch' && e.phase === 'distill');
  assert.equal(distilled.length, 2);
  for (const e of distilled) {
    assert.equal(e.examples?.labeled, 300);
    assert.equal(e.examples?.unlabeled, nU);
    // The demo teacher is confident on most shifted-by-one Fashion-MNIST images; none of the labeled rows count.
    const kept = e.examples?.pseudoLabeled;
    assert.ok(kept !== undefined && kept > nU / 4 && kept <= nU, `pseudo-labeled ${kept} of ${nU}`);
  }
});
