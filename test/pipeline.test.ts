import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readIdxPair } from '../src/core/data/idx.ts';
import { demoDataDir } from '../src/core/paths.ts';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import { learningRateAt } from '../src/core/train/schedule.ts';
import { runCli, tempDir, writeConfig, smallConfig, runFolders } from './helpers/cli.ts';

/** A real table: the demo images pooled to 7x7 (49 features) with their class names as labels. */
function writeFashionCsv(dir: string, n: number): string {
  const names = ['tshirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'boot'];
  const { images, labels } = readIdxPair(
    path.join(demoDataDir(), 'train-images-idx3-ubyte.gz'),
    path.join(demoDataDir(), 'train-labels-idx1-ubyte.gz'),
  );
  const header = [...Array.from({ length: 49 }, (_, i) => `p${i}`), 'label'].join(',');
  const rows = [header];
  for (let k = 0; k < n; k++) {
    const cells: number[] = [];
    for (let by = 0; by < 7; by++)
      for (let bx = 0; bx < 7; bx++) {
        let sum = 0;
        for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) sum += images[k * 784 + (by * 4 + y) * 28 + bx * 4 + x];
        cells.push(sum / 16);
      }
    rows.push(`${cells.join(',')},${names[labels[k]]}`);
  }
  const file = path.join(dir, 'fashion7x7.csv');
  fs.writeFileSync(file, rows.join('\n'));
  return file;
}

function events(run: string): RunEvent[] {
  return parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
}

test('a CSV dataset with a teacher trained in the run: all three phases, string labels', () => {
  const dir = tempDir('csv-run');
  writeFashionCsv(dir, 1500);
  const file = writeConfig(dir, 'csv', {
    name: 'csv',
    data: { source: 'csv', train: 'fashion7x7.csv', label: 'label', normalize: 'standardize', batchSize: 50 },
    teacher: { source: 'train', architecture: { type: 'mlp', hidden: [128, 64] }, epochs: 6 },
    student: {
      architecture: {
        type: 'layers',
        layers: [
          { type: 'dense', units: 8, activation: 'relu' },
          { type: 'dropout', rate: 0.1 },
        ],
      },
    },
    distill: { method: 'kd', temperature: 3, alpha: 0.3 },
    train: {
      epochs: 4,
      optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9 },
      schedule: { type: 'cosine', warmupEpochs: 0.5 },
    },
    output: { dir: 'runs' },
  });
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 0, r.stderr);
  const es = events(runFolders(dir)[0]);
  const started = es[0];
  assert.ok(started.type === 'run_started');
  assert.deepEqual(started.phases, ['teacher', 'scratch', 'distill']);
  assert.deepEqual(started.data, {
    train: 1080,
    validation: 120,
    test: 300,
    inputShape: [49],
    classes: 10,
    classNames: ['bag', 'boot', 'coat', 'dress', 'pullover', 'sandal', 'shirt', 'sneaker', 'trouser', 'tshirt'],
  });
  const summary = es.at(-1)!;
  assert.ok(summary.type === 'run_finished');
  const teacher = summary.summary.find((s) => s.model === 'teacher')!;
  assert.equal(teacher.params, 49 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
  assert.ok(teacher.accuracy > 0.7, `an MLP teacher on 7x7 Fashion-MNIST should pass 70%, got ${teacher.accuracy}`);
  assert.ok(fs.existsSync(path.join(runFolders(dir)[0], 'artifacts', 'teacher', 'model.json')));
  // Cosine with warm-up: the learning rate rises, peaks at 0.05, then decays toward 0.
  const lrs = es
    .filter((e) => e.type === 'step' && e.phase === 'distill')
    .map((e) => (e.type === 'step' ? e.learningRate : 0));
  assert.ok(lrs[0] < 0.05 && Math.max(...lrs) <= 0.05 + 1e-12 && lrs.at(-1)! < 0.01, lrs.join(' '));
});

test('a teacher whose input does not fit the data is refused at the teacher field', () => {
  const dir = tempDir('mismatch');
  writeFashionCsv(dir, 200);
  const file = writeConfig(
    dir,
    'mismatch',
    smallConfig({ data: { source: 'csv', train: 'fashion7x7.csv', label: 'label', batchSize: 32 } }),
  );
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /mismatch\.distill\.json:\d+:\d+: teacher\.source: the teacher .*model\.json takes input of shape \[28, 28, 1\], but the data has examples of shape \[49\]/,
  );
  assert.deepEqual(runFolders(dir), []);
});

test('a corrupt teacher file is refused with the file named', () => {
  const dir = tempDir('corrupt');
  fs.mkdirSync(path.join(dir, 't'));
  fs.writeFileSync(
    path.join(dir, 't', 'model.json'),
    fs.readFileSync(path.join(demoDataDir(), '..', 'teacher', 'model.json')),
  );
  fs.writeFileSync(path.join(dir, 't', 'weights.bin'), Buffer.alloc(1000));
  const file = writeConfig(dir, 'corrupt', smallConfig({ teacher: { source: 'tfjs', path: 't/model.json' } }));
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /teacher\.path: .*t\/model\.json: its weights files hold 1000 bytes but the manifest describes 1686568; the model is truncated or corrupt/,
  );
});

test('early stopping ends a phase when validation accuracy stops improving, and says so', () => {
  const dir = tempDir('early');
  const file = writeConfig(
    dir,
    'early',
    smallConfig({
      backend: 'wasm',
      baseline: false,
      train: { epochs: 8, earlyStopping: { patience: 1, minDelta: 0.5 } },
    }),
  );
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 0, r.stderr);
  const es = events(runFolders(dir)[0]);
  assert.equal(es.filter((e) => e.type === 'epoch').length, 2);
  const finished = es.find((e) => e.type === 'phase_finished');
  assert.ok(
    finished?.type === 'phase_finished' && finished.stoppedEarly && finished.bestEpoch === 1 && finished.epochs === 2,
  );
  assert.match(r.stdout, /distill stopped early after 2 epochs \(best epoch 1\)/);
});

test('learning-rate schedules', () => {
  assert.equal(learningRateAt({ type: 'constant' }, 0.1, 500, 10, 100), 0.1);
  const step = { type: 'step', everyEpochs: 2, gamma: 0.5 } as const;
  assert.deepEqual(
    [0, 19, 20, 39, 40].map((s) => learningRateAt(step, 0.1, s, 10, 10)),
    [0.1, 0.1, 0.05, 0.05, 0.025],
  );
  const cosine = { type: 'cosine', minLearningRate: 0.01, warmupEpochs: 1 } as const;
  assert.equal(learningRateAt(cosine, 0.1, 0, 10, 5), 0.01);
  assert.equal(learningRateAt(cosine, 0.1, 9, 10, 5), 0.1);
  assert.ok(Math.abs(learningRateAt(cosine, 0.1, 10 + 20, 10, 5) - 0.055) < 1e-12, 'half-way through the decay');
  assert.ok(Math.abs(learningRateAt(cosine, 0.1, 50, 10, 5) - 0.01) < 1e-12);
});
