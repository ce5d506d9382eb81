/**
 * CRD (`distill.terms[].type: "crd"`): the loss, its gradients, the normalisation constants and
 * the memory updates of two consecutive steps against the authors' code (fixtures: python3
 * scripts/golden/make_crd_fixtures.py), the negative sampling, and real runs of the CLI on the
 * embedded data, including a resume that must end exactly as an uninterrupted run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CrdMemory, defaultNegatives } from '../src/core/distill/crdMemory.ts';
import type { LossTermSpec } from '../src/core/config/schema.ts';
import { parseEvents, type RunEvent, type RunFinishedEvent } from '../src/protocol/events.ts';
import {
  runCli,
  runFolders,
  signalStopped,
  smallConfig,
  startCli,
  stopWhen,
  tempDir,
  writeConfig,
} from './helpers/cli.ts';

type Nested = number | Nested[];
type CrdSpec = Extract<LossTermSpec, { type: 'crd' }>;
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'crd-golden.json'), 'utf8')) as {
  sizes: { student: number; teacher: number; featureDim: number; nData: number; negatives: number; batch: number };
  temperature: number;
  momentum: number;
  memory: [number[][], number[][]];
  heads: Record<string, Nested>;
  steps: Array<{
    rows: number[];
    contrast: number[][];
    student: number[][];
    teacher: number[][];
    loss: number;
    z: [number, number];
    grads: Record<string, Nested>;
    memoryAfter: [number[][], number[][]];
  }>;
};

// float32 kernels against float64 references (terms-golden.test.ts's scheme): relative to the
// largest element. exp(⟨·,·⟩ / 0.07) and Z ~ 7e5 cost float32 a little more than the other terms.
const RTOL = 2e-5;
const ATOL = 1e-7;

function close(got: ArrayLike<number>, want: number[], what: string): void {
  const scale = Math.max(...want.map(Math.abs));
  assert.equal(got.length, want.length, `${what}: length`);
  want.forEach((v, i) =>
    assert.ok(Math.abs(got[i] - v) <= RTOL * scale + ATOL, `${what}[${i}] = ${got[i]}, reference ${v}`),
  );
}

const spec = (overrides: Partial<CrdSpec> = {}): CrdSpec => ({
  type: 'crd',
  weight: 0.8,
  student: 's',
  teacher: 't',
  featureDim: golden.sizes.featureDim,
  negatives: golden.sizes.negatives,
  temperature: golden.temperature,
  momentum: golden.momentum,
  sampling: 'other_classes',
  ...overrides,
});

test("CRD: two steps on one memory bank match the authors' CRDLoss and ContrastMemory (loss, Z, gradients, memory updates)", async () => {
  await tf.setBackend('cpu');
  const { sizes } = golden;
  const labels = new Int32Array(sizes.nData); // sampling is not used here: the contrast rows are the fixture's
  const memory = new CrdMemory(spec(), { phase: 'distill', n: sizes.nData, labels, seed: 0 });
  memory.restore([
    {
      name: 'student_memory',
      shape: [sizes.nData, sizes.featureDim],
      data: Float32Array.from(golden.memory[0].flat()),
    },
    {
      name: 'teacher_memory',
      shape: [sizes.nData, sizes.featureDim],
      data: Float32Array.from(golden.memory[1].flat()),
    },
    { name: 'z', shape: [2], data: Float32Array.of(-1, -1) },
  ]);
  const head = (name: string) =>
    tf.variable(tf.tensor(golden.heads[name] as number[] | number[][]), true, `crd_${name}`);
  const heads = {
    'student/kernel': head('student/kernel'),
    'student/bias': head('student/bias'),
    'teacher/kernel': head('teacher/kernel'),
    'teacher/bias': head('teacher/bias'),
  };
  for (const [i, step] of golden.steps.entries()) {
    const features = tf.variable(tf.tensor2d(step.student), true, `crd_features_${i}`);
    const teacher = tf.tensor2d(step.teacher);
    memory.setStep(Int32Array.from(step.rows), Int32Array.from(step.contrast.flat()));
    const variables = [features, ...Object.values(heads)];
    const { value, grads } = tf.variableGrads(
      () =>
        memory.loss(
          tf.add(tf.matMul(features, heads['student/kernel']), heads['student/bias']),
          tf.add(tf.matMul(teacher, heads['teacher/kernel']), heads['teacher/bias']),
        ),
      variables,
    );
    close(await value.data(), [step.loss], `step ${i + 1}: loss`);
    close(
      await grads[features.name].data(),
      [step.grads.student].flat(2) as number[],
      `step ${i + 1}: d/d student features`,
    );
    for (const name of Object.keys(heads) as Array<keyof typeof heads>)
      close(await grads[heads[name].name].data(), [step.grads[name]].flat(2) as number[], `step ${i + 1}: d/d ${name}`);
    memory.afterStep();
    const [studentMemory, teacherMemory, z] = await memory.arrays();
    close(z.data, step.z, `step ${i + 1}: Z`);
    close(studentMemory.data, step.memoryAfter[0].flat(), `step ${i + 1}: student memory`);
    close(teacherMemory.data, step.memoryAfter[1].flat(), `step ${i + 1}: teacher memory`);
    tf.dispose([features, teacher, value, ...Object.values(grads)]);
  }
  memory.dispose();
  tf.dispose(Object.values(heads));
});

test('CRD negatives: a labeled row draws from the other classes, an unlabeled one from all rows, the same for the same (seed, phase, epoch, step)', async () => {
  await tf.setBackend('cpu');
  // 12 rows: classes 0, 1, 2 four times, then two unlabeled (-1) ones.
  const labels = Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, -1, -1]);
  const rows = { phase: 'distill', n: labels.length, labels, seed: 3 };
  const draw = async (memory: CrdMemory, epoch: number, step: number, batch: number[]) => {
    memory.beforeStep(Int32Array.from(batch), epoch, step);
    // The contrast rows are read back through the loss inputs' gathers: expose them via arrays of a step.
    const contrast = (memory as unknown as { step: { contrast: tf.Tensor2D } }).step.contrast;
    return (await contrast.array()) as number[][];
  };
  const a = new CrdMemory(spec({ negatives: 50, featureDim: 4 }), rows);
  const first = await draw(a, 1, 0, [0, 1, 10]);
  for (const [b, row] of [0, 1, 10].entries()) {
    assert.equal(first[b][0], row, 'the positive comes first');
    const negatives = first[b].slice(1);
    if (labels[row] >= 0)
      assert.ok(
        negatives.every((r) => labels[r] !== labels[row]),
        `row ${row} (class ${labels[row]}): negatives ${negatives.join(',')}`,
      );
    else assert.ok(new Set(negatives.map((r) => labels[r])).size > 2, 'an unlabeled row draws from every class');
  }
  // Deterministic per step, different across steps.
  const b = new CrdMemory(spec({ negatives: 50, featureDim: 4 }), rows);
  assert.deepEqual(await draw(b, 1, 0, [0, 1, 10]), first);
  assert.notDeepEqual(await draw(b, 1, 1, [0, 1, 10]), first);
  // `uniform`: a labeled row may draw its own class.
  const u = new CrdMemory(spec({ negatives: 50, featureDim: 4, sampling: 'uniform' }), rows);
  const uniform = await draw(u, 1, 0, [0]);
  assert.ok(uniform[0].slice(1).some((r) => labels[r] === 0));
  for (const m of [a, b, u]) m.dispose();
  // The paper's 16,384 of 50,000 rows, scaled: the demo job's 2,000 rows draw 655.
  assert.equal(defaultNegatives(2000), 655);
  assert.equal(defaultNegatives(50000), 16384);
  assert.equal(defaultNegatives(200000), 16384);
});

const events = (run: string): RunEvent[] => parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
const summaryOf = (run: string) => {
  const done = events(run).filter((e): e is RunFinishedEvent => e.type === 'run_finished');
  assert.equal(done.length, 1);
  return done[0].summary;
};

const crdRun = smallConfig({
  backend: 'wasm',
  baseline: false,
  bench: { enabled: false },
  export: { onnx: false },
  data: { source: 'demo', trainLimit: 600, batchSize: 16 },
  distill: {
    method: 'combined',
    hardWeight: 1,
    terms: [
      { type: 'kd', weight: 0.9, temperature: 2 },
      { type: 'crd', weight: 0.8, student: 'dense_1', teacher: 'dense_1', featureDim: 32 },
    ],
  },
  train: { epochs: 3, logEvery: 2, checkpointEvery: 1, optimizer: { type: 'adam', learningRate: 0.005 } },
});

test('CRD from a config: the heads train with the student and are not exported; the memory bank is in each checkpoint; a stopped run resumes exactly', async () => {
  const refDir = tempDir('crd-reference');
  const r = runCli(['train', writeConfig(refDir, 'crd', crdRun)], refDir);
  assert.equal(r.code, 0, r.stderr);
  const [refRun] = runFolders(refDir);
  const reference = summaryOf(refRun);
  const evs = events(refRun);
  for (const e of evs)
    if (e.type === 'epoch' && e.phase === 'distill') {
      assert.deepEqual(Object.keys(e.train.loss).sort(), ['crd', 'hard', 'kd', 'total']);
      assert.ok(Number.isFinite(e.train.loss.crd) && e.train.loss.crd > 0);
    }
  const model = fs.readFileSync(path.join(refRun, 'checkpoints', 'distill', 'final', 'model', 'model.json'), 'utf8');
  assert.match(model, /crd_embed_2_student/);
  assert.match(model, /crd_embed_2_teacher/);
  assert.doesNotMatch(fs.readFileSync(path.join(refRun, 'artifacts', 'student', 'model.json'), 'utf8'), /crd_/);
  // The memory bank: one 32-wide row per training row, for the student and the teacher, and Z.
  const started = evs.find((e) => e.type === 'run_started');
  assert.ok(started?.type === 'run_started');
  const epochCheckpoint = path.join(refRun, 'checkpoints', 'distill', 'epoch-0002');
  const header = fs.readFileSync(path.join(epochCheckpoint, 'terms.bin'));
  const names = JSON.parse(header.subarray(4, 4 + header.readUInt32LE(0)).toString()) as Array<{
    name: string;
    shape: number[];
  }>;
  assert.deepEqual(
    names.map((a) => a.name),
    ['term_2/student_memory', 'term_2/teacher_memory', 'term_2/z'],
  );
  assert.deepEqual(names[0].shape, [started.data.train, 32]);

  const dir = tempDir('crd-resume');
  const child = startCli(['train', writeConfig(dir, 'crd', crdRun)], dir);
  const run = await stopWhen(
    child,
    dir,
    (es) => es.some((e) => e.type === 'checkpoint' && e.phase === 'distill') && es.at(-1)?.type === 'step',
  );
  const [code] = await signalStopped(child, 'SIGTERM');
  assert.equal(code, 143, 'stopped by the signal, not finished before it');
  const resumed = runCli(['train', '--resume', run], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(summaryOf(run), reference);
});
