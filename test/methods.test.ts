/**
 * KD methods and strategies end to end: real runs of the built CLI on the embedded data, with the
 * demo teacher, read back from their events and run folders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type RunEvent, type RunFinishedEvent, type StepEvent } from '../src/protocol/events.ts';
import { root, runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';
import { loadModel } from '../src/core/models/io.ts';
import { demoTeacherPath } from '../src/core/paths.ts';
import { exportOnnx } from '../src/core/run/deliverables.ts';
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '../src/core/data/dataset.ts';
import { ensembleLogits } from '../src/core/models/ensemble.ts';
import { evaluateLogits } from '../src/core/train/evaluate.ts';

function events(runDir: string): RunEvent[] {
  return parseEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
}
const finished = (evs: RunEvent[]) => evs.find((e): e is RunFinishedEvent => e.type === 'run_finished')!;
const fast = { bench: { enabled: false }, export: { onnx: false } };

test('combined loss terms on a CNN student: every term is logged, hints get a projection the exported student does not keep', () => {
  const dir = tempDir('terms');
  const config = smallConfig({
    ...fast,
    student: { architecture: { type: 'cnn', channels: [4], dense: [16] } },
    distill: {
      method: 'combined',
      hardWeight: 0.5,
      terms: [
        { type: 'kd', weight: 0.5, temperature: 4, finalTemperature: 1, divergence: 'reverse' },
        { type: 'hint', weight: 0.1, student: 'dense_1', teacher: 'dense_1' },
        { type: 'attention', pairs: [{ student: 'conv2d_1', teacher: 'conv2d_1' }] },
        { type: 'rkd', distanceWeight: 1, angleWeight: 2 },
        { type: 'dkd', alpha: 1, beta: 2, temperature: 4, warmupEpochs: 2 },
        { type: 'teacher_free', weight: 0.1 },
      ],
    },
    train: { epochs: 2, logEvery: 5, optimizer: { type: 'adam', learningRate: 0.003 } },
  });
  const r = runCli(['train', writeConfig(dir, 'terms', config)], dir);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const evs = events(run);
  const step = evs.find((e): e is StepEvent => e.type === 'step' && e.phase === 'distill')!;
  assert.deepEqual(
    Object.keys(step.loss).sort(),
    [
      'attention',
      'dkd_nontarget',
      'dkd_target',
      'hard',
      'hint',
      'kd',
      'rkd_angle',
      'rkd_distance',
      'teacher_free',
      'total',
    ].sort(),
  );
  for (const [name, value] of Object.entries(step.loss))
    assert.ok(Number.isFinite(value) && value >= 0, `${name} = ${value}`);
  // The scratch baseline logs the hard-label loss only.
  const scratchStep = evs.find((e): e is StepEvent => e.type === 'step' && e.phase === 'scratch')!;
  assert.deepEqual(Object.keys(scratchStep.loss).sort(), ['hard', 'total']);
  // Student dense_1 has 16 units, the teacher's 128: a learned projection, trained and checkpointed with the student ...
  const checkpointModel = fs.readFileSync(
    path.join(run, 'checkpoints', 'distill', 'final', 'model', 'model.json'),
    'utf8',
  );
  assert.match(checkpointModel, /hint_projection_1/);
  // ... but not part of the student that is delivered.
  const student = fs.readFileSync(path.join(run, 'artifacts', 'student', 'model.json'), 'utf8');
  assert.doesNotMatch(student, /hint_projection/);
  // The total is the configured weighted sum of the logged terms (DKD ramps up over 2 epochs).
  for (const e of evs) {
    if (e.type !== 'epoch' || e.phase !== 'distill') continue;
    const l = e.train.loss;
    const ramp = Math.min(e.epoch / 2, 1);
    const expected =
      0.5 * l.hard +
      0.5 * l.kd +
      0.1 * l.hint +
      500 * l.attention +
      l.rkd_distance +
      2 * l.rkd_angle +
      ramp * (l.dkd_target + 2 * l.dkd_nontarget) +
      0.1 * l.teacher_free;
    assert.ok(
      Math.abs(l.total - expected) <= 1e-4 * expected,
      `epoch ${e.epoch}: total ${l.total}, weighted sum ${expected}`,
    );
  }
  assert.deepEqual(
    finished(evs).summary.map((s) => s.model),
    ['teacher', 'scratch', 'distilled'],
  );
});

test('born-again generations with a mean-of-earlier teacher: each generation trained, evaluated and listed with whom it learned from; BAN-E evaluated, sized and timed', async () => {
  const dir = tempDir('born-again');
  const config = smallConfig({
    ...fast,
    strategy: { type: 'born_again', generations: 3, generationTeacher: 'mean-of-earlier' },
    train: { epochs: 2, logEvery: 5 },
    // Timed briefly: the BAN-E row's latency is every generation's.
    bench: { enabled: true, batchSizes: [1], warmup: 1, minRuns: 3, minSeconds: 0.01 },
  });
  const r = runCli(['train', writeConfig(dir, 'ban', config)], dir);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const evs = events(run);
  const started = evs.find((e) => e.type === 'run_started');
  assert.deepEqual(started?.type === 'run_started' && started.phases, [
    'scratch',
    'generation-1',
    'generation-2',
    'distill',
  ]);
  const summary = finished(evs).summary;
  assert.deepEqual(
    summary.map((s) => [s.model, s.learnedFrom]),
    [
      ['teacher', undefined],
      ['scratch', undefined],
      ['generation-1', 'teacher'],
      ['generation-2', 'generation-1'],
      ['distilled', 'ensemble of generation-1, generation-2'],
      ['ban-ensemble', 'mean softmax of generation-1, generation-2, distilled'],
    ],
  );
  for (const phase of ['generation-1', 'generation-2', 'distill'])
    assert.ok(
      evs.some((e) => e.type === 'evaluation' && e.phase === phase && e.split === 'test'),
      `${phase} evaluated`,
    );
  // BAN-E: the mean softmax of the three generations, recomputed here from their final checkpoints.
  const ban = summary[5];
  const generations = await Promise.all(
    ['generation-1', 'generation-2', 'distill'].map(
      async (p) => (await loadModel(path.join(run, 'checkpoints', p, 'final', 'model', 'model.json'))).model,
    ),
  );
  const saved = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
  const data = await loadDataset(saved.data, saved.train.seed);
  const testX = tf.tensor(data.test.x, [data.test.n, ...data.inputShape]);
  const testY = tf.tensor1d(data.test.y, 'int32');
  const logits = ensembleLogits(generations, testX, 256);
  const { accuracy } = await evaluateLogits(logits, testY);
  tf.dispose([testX, testY, logits]);
  assert.ok(
    Math.abs(accuracy - ban.accuracy) <= 1 / data.test.n + 1e-9,
    `BAN-E ${ban.accuracy}, recomputed ${accuracy}`,
  );
  assert.equal(ban.params, 3 * summary[4].params);
  assert.equal(ban.bytes, 3 * summary[4].bytes);
  // Timed running all three generations, in onnxruntime and tfjs, and shown in the table.
  const runtimes = (finished(evs).latency ?? []).filter((l) => l.model === 'ban-ensemble').map((l) => l.runtime);
  assert.ok(runtimes.includes('onnxruntime cpu') && runtimes.some((rt) => rt.startsWith('tfjs')), runtimes.join());
  assert.match(r.stdout, /^ban-ensemble\s.*mean softmax of generation-1, generation-2, distilled.*\d+\.\d+ \/ \d/m);
  assert.match(r.stdout, /learned from/);
});

test('a teacher-assistant chain: teacher -> assistant -> student, the assistant sized from the config', () => {
  const dir = tempDir('assistants');
  const config = smallConfig({
    ...fast,
    baseline: false,
    strategy: { type: 'assistants', assistants: [{ architecture: { type: 'mlp', hidden: [48] }, epochs: 1 }] },
    train: { epochs: 2, logEvery: 5 },
  });
  const r = runCli(['train', writeConfig(dir, 'ta', config)], dir);
  assert.equal(r.code, 0, r.stderr);
  const evs = events(runFolders(dir)[0]);
  const summary = finished(evs).summary;
  assert.deepEqual(
    summary.map((s) => [s.model, s.learnedFrom]),
    [
      ['teacher', undefined],
      ['assistant-1', 'teacher'],
      ['distilled', 'assistant-1'],
    ],
  );
  // MLP 784-48-10 and 784-16-10.
  assert.equal(summary[1].params, 784 * 48 + 48 + 48 * 10 + 10);
  assert.equal(summary[2].params, 784 * 16 + 16 + 16 * 10 + 10);
  const assistantEpochs = evs.filter((e) => e.type === 'epoch' && e.phase === 'assistant-1').length;
  assert.equal(assistantEpochs, 1);
});

test('methods that cannot work are refused before anything is written, at the field that is wrong', () => {
  const dir = tempDir('method-errors');
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'unknown-layer',
      { distill: { method: 'combined', terms: [{ type: 'hint', student: 'dense_9', teacher: 'dense_1' }] } },
      /distill\.terms\[0\]\.student.*has no layer "dense_9"; its layers are flatten_1, dense_1, logits/,
    ],
    [
      'teacher-layer',
      { distill: { method: 'combined', terms: [{ type: 'hint', student: 'dense_1', teacher: 'conv9' }] } },
      /distill\.terms\[0\]\.teacher.*teacher has no layer "conv9"; its layers are conv2d_1, maxpool_1/,
    ],
    [
      'attention-shape',
      {
        distill: {
          method: 'combined',
          terms: [{ type: 'attention', pairs: [{ student: 'dense_1', teacher: 'conv2d_1' }] }],
        },
      },
      /distill\.terms\[0\]\.pairs.*same height and width.*"dense_1" outputs \[16\]/,
    ],
    [
      'ensemble-hint',
      {
        strategy: { type: 'born_again', generations: 3, generationTeacher: 'mean-of-earlier' },
        distill: { method: 'combined', terms: [{ type: 'hint', student: 'dense_1', teacher: 'dense_1' }] },
      },
      /strategy\.generationTeacher.*logits only/,
    ],
    [
      'chain-without-teacher',
      { strategy: { type: 'born_again' }, distill: { method: 'none' } },
      /strategy\.type.*no loss term reads a teacher/,
    ],
  ];
  for (const [name, overrides, message] of cases) {
    const r = runCli(['train', writeConfig(dir, name, smallConfig(overrides))], dir);
    assert.equal(r.code, 2, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message, name);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
  }
  assert.deepEqual(runFolders(dir), []);
});

test("an ONNX teacher gives the tfjs teacher's results, and its outputs are cached on disk and reused only for the same teacher and data", async () => {
  const dir = tempDir('onnx-teacher');
  // The demo teacher as ONNX, through our exporter (checked against tfjs when written).
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const { model } = await loadModel(demoTeacherPath());
  const onnxFile = path.join(dir, 'teacher.onnx');
  await exportOnnx(model, onnxFile, 'teacher');
  model.dispose();

  const base = smallConfig({ ...fast, baseline: false, train: { epochs: 2, logEvery: 5 } });
  const tfjsRun = runCli(['train', writeConfig(dir, 'tfjs', { ...base, name: 'tfjs' })], dir);
  assert.equal(tfjsRun.code, 0, tfjsRun.stderr);
  const onnxConfig = { ...base, name: 'onnx', teacher: { source: 'onnx', path: 'teacher.onnx' } };
  const first = runCli(['train', writeConfig(dir, 'onnx', onnxConfig)], dir);
  assert.equal(first.code, 0, first.stderr);
  const second = runCli(['train', writeConfig(dir, 'onnx', onnxConfig)], dir);
  assert.equal(second.code, 0, second.stderr);
  const other = runCli(
    [
      'train',
      writeConfig(dir, 'onnx-more', { ...onnxConfig, name: 'onnx-more', data: { ...base.data, trainLimit: 700 } }),
    ],
    dir,
  );
  assert.equal(other.code, 0, other.stderr);

  // Each run's folder as the CLI reports it (two runs started in the same second get suffixed names).
  const eventsOf = (r: { stdout: string }) => events(r.stdout.match(/run folder: (.*)/)![1].trim());
  const [tfjsEvents, firstEvents, secondEvents, otherEvents] = [tfjsRun, first, second, other].map(eventsOf);
  const teacherRow = (evs: RunEvent[]) => finished(evs).summary.find((s) => s.model === 'teacher')!;
  assert.equal(teacherRow(firstEvents).accuracy, teacherRow(tfjsEvents).accuracy);
  assert.equal(teacherRow(firstEvents).params, teacherRow(tfjsEvents).params);
  const cacheOf = (evs: RunEvent[]) => evs.find((e) => e.type === 'teacher_outputs')!;
  assert.equal(cacheOf(firstEvents).type === 'teacher_outputs' && cacheOf(firstEvents).cache?.hit, false);
  assert.equal(cacheOf(secondEvents).type === 'teacher_outputs' && cacheOf(secondEvents).cache?.hit, true);
  assert.equal(
    cacheOf(otherEvents).type === 'teacher_outputs' && cacheOf(otherEvents).cache?.hit,
    false,
    'a different training set must not reuse the cache',
  );
  // Outputs read from the cache train exactly the same student.
  assert.deepEqual(finished(secondEvents).summary, finished(firstEvents).summary);
  // Same data, same teacher maths, other runtime: the students agree to float rounding.
  const distilled = (evs: RunEvent[]) => finished(evs).summary.find((s) => s.model === 'distilled')!.accuracy;
  assert.ok(
    Math.abs(distilled(firstEvents) - distilled(tfjsEvents)) <= 0.01,
    `${distilled(firstEvents)} vs ${distilled(tfjsEvents)}`,
  );
  assert.equal(fs.readdirSync(path.join(dir, '.distill', 'cache')).length, 3); // tfjs teacher, ONNX teacher, ONNX teacher on other data
});

test('a PyTorch-exported NCHW ONNX teacher: hint and attention read its intermediate values, channels-last', () => {
  const dir = tempDir('onnx-hint');
  fs.copyFileSync(path.join(root, 'test', 'fixtures', 'onnx', 'tiny-cnn.onnx'), path.join(dir, 'tiny-cnn.onnx'));
  const config = smallConfig({
    ...fast,
    baseline: false,
    teacher: { source: 'onnx', path: 'tiny-cnn.onnx' },
    student: { architecture: { type: 'cnn', channels: [4], dense: [16] } },
    distill: {
      method: 'combined',
      terms: [
        { type: 'kd', weight: 0.5, temperature: 2 },
        { type: 'hint', student: 'maxpool_1', teacher: '/relu2/Relu_output_0' },
        { type: 'attention', pairs: [{ student: 'maxpool_1', teacher: '/relu2/Relu_output_0' }] },
      ],
    },
    train: { epochs: 1, logEvery: 5 },
  });
  const r = runCli(['train', writeConfig(dir, 'hint', config)], dir);
  assert.equal(r.code, 0, r.stderr);
  const evs = events(runFolders(dir)[0]);
  const step = evs.find((e): e is StepEvent => e.type === 'step' && e.phase === 'distill')!;
  assert.ok(step.loss.hint > 0 && step.loss.attention > 0, JSON.stringify(step.loss));
  // maxpool_1 is [14, 14, 4]; the teacher's value [8, 14, 14] in NCHW comes back [14, 14, 8]: a 1x1 conv projection.
  const ckpt = JSON.parse(
    fs.readFileSync(path.join(runFolders(dir)[0], 'checkpoints', 'distill', 'final', 'model', 'model.json'), 'utf8'),
  );
  const projection = JSON.stringify(ckpt).match(/"name":"hint_projection_1"[^}]*"filters":(\d+)/);
  assert.ok(projection, 'hint projection saved');
  assert.equal(projection[1], '8');
  // A value the graph does not have is refused with suggestions.
  const bad = runCli(
    [
      'train',
      writeConfig(dir, 'bad', {
        ...config,
        distill: { method: 'combined', terms: [{ type: 'hint', student: 'maxpool_1', teacher: '/relu2/Relu' }] },
      }),
    ],
    dir,
  );
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /distill\.terms\[0\]\.teacher: .*tiny-cnn\.onnx: .*"\/relu2\/Relu".*closest.*"\/relu2\/Relu_output_0"/,
  );
});

test('deep mutual learning: the student and a peer train together, each learning from the other, both evaluated', () => {
  const dir = tempDir('mutual');
  const config = smallConfig({
    ...fast,
    distill: { method: 'none' },
    strategy: { type: 'mutual', peer: { type: 'mlp', hidden: [32] }, weight: 0.5 },
    train: { epochs: 2, logEvery: 5 },
  });
  const r = runCli(['train', writeConfig(dir, 'dml', config)], dir);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const evs = events(run);
  for (const e of evs) {
    if (e.type !== 'epoch' || e.phase !== 'distill') continue;
    const l = e.train.loss;
    assert.deepEqual(Object.keys(l).sort(), ['hard', 'mutual', 'peer_hard', 'peer_mutual', 'total']);
    const expected = l.hard + l.peer_hard + 0.5 * (l.mutual + l.peer_mutual);
    assert.ok(Math.abs(l.total - expected) <= 1e-4 * expected, `total ${l.total}, weighted sum ${expected}`);
    assert.ok(l.mutual > 0 && l.peer_mutual > 0);
  }
  const summary = finished(evs).summary;
  assert.deepEqual(
    summary.map((s) => [s.model, s.learnedFrom]),
    [
      ['teacher', undefined],
      ['scratch', undefined],
      ['distilled', 'peer (mutual)'],
      ['peer', 'distilled (mutual)'],
    ],
  );
  assert.equal(summary[3].params, 784 * 32 + 32 + 32 * 10 + 10);
  assert.ok(summary[3].accuracy > 0.5, `peer accuracy ${summary[3].accuracy}`);
  // The peer trains and is checkpointed with the student, but is not part of the delivered student.
  assert.match(
    fs.readFileSync(path.join(run, 'checkpoints', 'distill', 'final', 'model', 'model.json'), 'utf8'),
    /peer_dense_1/,
  );
  assert.doesNotMatch(fs.readFileSync(path.join(run, 'artifacts', 'student', 'model.json'), 'utf8'), /peer_/);
});
