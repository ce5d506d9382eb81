import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import { loadModel } from '../src/core/models/io.ts';
import { loadDataset } from '../src/core/data/dataset.ts';
import { evaluate } from '../src/core/train/evaluate.ts';
import { runCli, root, tempDir, writeConfig, smallConfig, runFolders } from './helpers/cli.ts';

test('validate accepts the demo config and reports the data it would use', () => {
  const r = runCli(['validate', 'media/demo/demo.distill.json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /valid \(2000 train, 400 validation, 2000 test examples of shape \[28, 28, 1\], 10 classes; backend \w+\)/,
  );
});

test('a bad config exits 2 with every problem located, no stack trace, and no run folder', () => {
  const dir = tempDir('bad');
  const file = writeConfig(dir, 'bad', {
    ...smallConfig(),
    distill: { method: 'kd', temperature: -1, alpha: 2 },
    train: { epochs: 0 },
  });
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 3, r.stderr);
  assert.match(r.stderr, /bad\.distill\.json:\d+:\d+: distill\.temperature: expected a number > 0, found number -1/);
  assert.match(r.stderr, /distill\.alpha: expected a number <= 1, found number 2/);
  assert.match(r.stderr, /train\.epochs: expected a number > 0, found number 0/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.deepEqual(runFolders(dir), []);
});

test('an architecture that does not fit the data is reported at its layer, before any run folder exists', () => {
  const dir = tempDir('arch');
  const file = writeConfig(
    dir,
    'arch',
    smallConfig({
      student: { architecture: { type: 'layers', layers: [{ type: 'flatten' }, { type: 'conv2d', filters: 4 }] } },
    }),
  );
  const r = runCli(['validate', file], dir);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /arch\.distill\.json:\d+:\d+: student\.architecture\.layers\[1\]: a conv2d layer needs an image-shaped input/,
  );
  assert.deepEqual(runFolders(dir), []);
});

test('init writes a starter config that validates, and refuses to overwrite without --force', () => {
  const dir = tempDir('init');
  const r = runCli(['init', dir]);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(dir, 'kd.distill.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(config.teacher.source, 'demo');
  assert.ok(
    fs.existsSync(path.resolve(dir, config.$schema)),
    `$schema ${config.$schema} should point at the shipped schema`,
  );
  assert.equal(runCli(['validate', file]).code, 0);
  const again = runCli(['init', file]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists; pass --force/);
  assert.equal(runCli(['init', file, '--force']).code, 0);
});

test('unknown commands and options exit 2 with the usage', () => {
  const r = runCli(['trian']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "trian"[\s\S]*usage:/);
  assert.equal(runCli(['train', '--bogus']).code, 2);
});

test('train runs the whole job on the embedded data and leaves a complete run folder', async () => {
  const dir = tempDir('train');
  const file = writeConfig(dir, 'small', smallConfig({ backend: 'wasm' }));
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /backend: wasm/);
  assert.match(r.stdout, /teacher\s+\d+\.\d\d%\s+-\s+421,642/);
  assert.match(r.stdout, /scratch\s+\d+\.\d\d%\s+\d+\.\d\d%\s+12,730/);
  assert.match(r.stdout, /distilled\s+\d+\.\d\d%\s+\d+\.\d\d%\s+12,730/);
  assert.match(r.stdout, /distillation vs scratch: [+-]\d+\.\d\d points/);
  const [run] = runFolders(dir);
  const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
  assert.equal(record.status, 'finished');
  assert.equal(record.backend.name, 'wasm');
  const events: RunEvent[] = parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'run_started');
  assert.equal(types.at(-1), 'run_finished');
  for (const phase of ['scratch', 'distill']) {
    const epochs = events.filter((e) => e.type === 'epoch' && e.phase === phase);
    assert.equal(epochs.length, 4);
    const steps = events.filter((e) => e.type === 'step' && e.phase === phase);
    assert.ok(steps.length >= 2);
  }
  const kdStep = events.find((e) => e.type === 'step' && e.phase === 'distill');
  assert.ok(kdStep && kdStep.type === 'step');
  assert.deepEqual(Object.keys(kdStep.loss).sort(), ['hard', 'kd', 'total']);
  // The total is the weighted sum of the logged terms (alpha = 0.5).
  assert.ok(Math.abs(kdStep.loss.total - (0.5 * kdStep.loss.hard + 0.5 * kdStep.loss.kd)) < 1e-4);
  const finished = events.at(-1)!;
  assert.ok(finished.type === 'run_finished');
  const distilled = finished.summary.find((s) => s.model === 'distilled')!;
  assert.ok(distilled.accuracy > 0.55, `a 16-unit MLP on 600 images should beat 55%, got ${distilled.accuracy}`);
  assert.ok(distilled.agreement! > 0.5);
  // The saved student is a loadable tfjs model that reproduces the reported test accuracy.
  const { model } = await loadModel(path.join(run, 'artifacts', 'student', 'model.json'));
  assert.equal(model.countParams(), 12730);
  // Evaluated here (tfjs cpu) on the run's test split, loaded again from its config.json.
  const saved = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
  const data = await loadDataset(saved.data, saved.train.seed);
  const testSplit = {
    x: tf.tensor(data.test.x, [data.test.n, ...data.inputShape]),
    y: tf.tensor1d(data.test.y, 'int32'),
    n: data.test.n,
  };
  const { accuracy } = await evaluate(model, testSplit, 256);
  tf.dispose([testSplit.x, testSplit.y]);
  // The backends' float differences may flip one borderline example, no more.
  assert.ok(
    Math.abs(accuracy - distilled.accuracy) <= 1 / data.test.n + 1e-9,
    `saved student ${accuracy}, reported ${distilled.accuracy}`,
  );
  tf.dispose(model.weights.map((w) => w.read()));
  assert.ok(fs.existsSync(path.join(run, 'checkpoints', 'distill', 'final', 'state.json')));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')).data.trainLimit, 600);
});

test('two runs of the same config get distinct folders', () => {
  const dir = tempDir('twice');
  const file = writeConfig(dir, 'twice', smallConfig({ train: { epochs: 1 }, baseline: false }));
  assert.equal(runCli(['train', file], dir).code, 0);
  assert.equal(runCli(['train', file], dir).code, 0);
  const runs = runFolders(dir);
  assert.equal(runs.length, 2);
  assert.notEqual(runs[0], runs[1]);
});

void root;
