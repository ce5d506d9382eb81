/**
 * Multi-teacher KD: the term against its PyTorch reference (after the CA-MKD authors' code), and
 * a real run with three teachers of three kinds (the demo tfjs teacher, the same network as ONNX,
 * an untrained tfjs file), each cached in its own entry and listed in its own summary row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { multiTeacherKd } from '../src/core/distill/terms.ts';
import { buildModel } from '../src/core/models/build.ts';
import { loadModel, saveModel } from '../src/core/models/io.ts';
import { demoTeacherPath } from '../src/core/paths.ts';
import { exportOnnx } from '../src/core/run/deliverables.ts';
import { mixSeed, seedGlobalRandom } from '../src/core/random.ts';
import { parseEvents, type RunEvent, type RunFinishedEvent, type StepEvent } from '../src/protocol/events.ts';
import { runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

// Fixtures: /usr/bin/python3 scripts/golden/make_multi_teacher_fixtures.py (float64 references).
interface Case {
  name: string;
  weighting: 'confidence' | 'fixed';
  temperature: number;
  weights: number[] | null;
  student: number[][];
  teachers: number[][][];
  labels: number[];
  value: number;
  grad: number[][];
}
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'multi-teacher-golden.json'), 'utf8')) as {
  cases: Case[];
};

/** float32 kernels against float64 references: |got - want| <= 1e-5 · scale + 1e-7. */
function assertClose(got: ArrayLike<number>, want: number[], what: string): void {
  const scale = Math.max(...want.map(Math.abs));
  want.forEach((v, i) => assert.ok(Math.abs(got[i] - v) <= 1e-5 * scale + 1e-7, `${what}[${i}]: ${got[i]} vs ${v}`));
}

for (const c of golden.cases)
  test(`multi-teacher KD matches the CA-MKD authors' code: ${c.name}`, async () => {
    const student = tf.tensor2d(c.student);
    const teachers = c.teachers.map((t) => tf.tensor2d(t));
    const labels = tf.tensor1d(c.labels, 'int32');
    const loss = (s: tf.Tensor) =>
      multiTeacherKd(s as tf.Tensor2D, teachers, labels, c.temperature, c.weighting, c.weights ?? undefined);
    assertClose(await loss(student).data(), [c.value], 'value');
    assertClose(await tf.grad(loss)(student).data(), c.grad.flat(), 'gradient');
    // The teachers are constants.
    const teacherGrad = tf.grad((t: tf.Tensor) =>
      multiTeacherKd(student, [t as tf.Tensor2D, ...teachers.slice(1)], labels, c.temperature, c.weighting),
    )(teachers[0]);
    assert.equal((await tf.max(tf.abs(teacherGrad)).data())[0], 0);
  });

function events(runDir: string): RunEvent[] {
  return parseEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
}

test('a run with three teachers (tfjs, ONNX, an untrained tfjs file): one cache entry and one summary row each, the same results from the cache', async () => {
  const dir = tempDir('multi-teacher');
  await tf.setBackend('cpu');
  // The demo teacher's network as ONNX (a second teacher of another kind, with the same predictions) ...
  const { model } = await loadModel(demoTeacherPath());
  await exportOnnx(model, path.join(dir, 'teacher.onnx'), 'teacher');
  model.dispose();
  // ... and an untrained MLP saved as a tfjs file: about chance, so confidence weighting trusts it least.
  seedGlobalRandom(mixSeed(7, 'untrained teacher'));
  const untrained = buildModel(
    { type: 'mlp', hidden: [32], activation: 'relu', dropout: 0, batchNorm: false },
    [28, 28, 1],
    10,
  );
  await saveModel(untrained, path.join(dir, 'untrained'));
  untrained.dispose();

  const config = smallConfig({
    bench: { enabled: false },
    export: { onnx: false },
    data: { source: 'demo', trainLimit: 300, batchSize: 64 },
    distill: { method: 'none' },
    strategy: {
      type: 'multi_teacher',
      teachers: [
        { source: 'onnx', path: 'teacher.onnx' },
        { source: 'tfjs', path: 'untrained/model.json' },
      ],
    },
    train: { epochs: 1, logEvery: 1, optimizer: { type: 'adam', learningRate: 0.005 } },
    cache: { dir: 'cache' },
  });
  const file = writeConfig(dir, 'multi', config);
  const first = runCli(['train', file], dir);
  assert.equal(first.code, 0, first.stderr);
  const [run] = runFolders(dir);
  const evs = events(run);
  const summary = evs.find((e): e is RunFinishedEvent => e.type === 'run_finished')!.summary;
  const row = (m: string) => summary.find((s) => s.model === m)!;
  assert.deepEqual(
    summary.map((s) => s.model),
    ['teacher', 'teacher-2', 'teacher-3', 'scratch', 'distilled'],
  );
  // The ONNX copy predicts as the tfjs teacher does; the untrained one is near chance.
  assert.ok(Math.abs(row('teacher-2').accuracy - row('teacher').accuracy) < 0.005, JSON.stringify(summary));
  assert.ok(row('teacher').accuracy > 0.8 && row('teacher-3').accuracy < 0.3, JSON.stringify(summary));
  assert.ok(row('teacher-3').params < row('teacher').params);
  assert.equal(row('distilled').learnedFrom, 'teacher + teacher-2 + teacher-3');
  const step = evs.find((e): e is StepEvent => e.type === 'step' && e.phase === 'distill')!;
  assert.deepEqual(Object.keys(step.loss).sort(), ['hard', 'multi_kd', 'total']);
  assert.ok(step.loss.multi_kd > 0);

  // One cache entry per teacher, each naming its own file; a second run reads all three.
  const entries = () => fs.readdirSync(path.join(dir, 'cache')).filter((e) => !e.startsWith('.'));
  const named = entries().map((e) =>
    path.basename(
      (
        JSON.parse(fs.readFileSync(path.join(dir, 'cache', e, 'manifest.json'), 'utf8')) as {
          meta: { teacher: string };
        }
      ).meta.teacher,
    ),
  );
  assert.deepEqual(named.sort(), ['model.json', 'model.json', 'teacher.onnx']);
  const second = runCli(['train', file], dir);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(entries().length, 3);
  const again = events(second.stdout.match(/run folder: (.*)/)![1].trim());
  const summary2 = again.find((e): e is RunFinishedEvent => e.type === 'run_finished')!.summary;
  assert.deepEqual(
    summary2.map((s) => [s.model, s.accuracy]),
    summary.map((s) => [s.model, s.accuracy]),
    'the same targets from the cache: the same results',
  );
});

test('multi-teacher config mistakes are reported at their fields before anything is written', () => {
  const dir = tempDir('multi-teacher-bad');
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'a further teacher trained in the run',
      { teachers: [{ source: 'train', architecture: { type: 'mlp' } }] },
      /strategy\.teachers\[0\]\.source.*expected "demo", "tfjs" or "onnx"/,
    ],
    [
      'weights that do not match the teachers',
      { teachers: [{ source: 'demo' }], weighting: 'fixed', weights: [1, 2, 3] },
      /strategy\.weights.*expected 2 weights/,
    ],
  ];
  for (const [name, strategy, message] of cases) {
    const config = smallConfig({ strategy: { type: 'multi_teacher', ...strategy } });
    const r = runCli(['train', writeConfig(dir, 'bad', config)], dir);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, message, name);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
  }
  assert.deepEqual(runFolders(dir), []);
});
