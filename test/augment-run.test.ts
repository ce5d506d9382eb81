/**
 * Augmentation end to end, with the real trainer process: a run killed by SIGTERM and resumed
 * ends exactly as an uninterrupted one (the augmented batches are seeded by seed, epoch and step),
 * the run says that the teacher runs online, the teacher-output cache is not used for training
 * batches when augmenting (and is when not), and augmentation of tabular data is a located
 * config error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { parseEvents, type RunEvent, type RunFinishedEvent, type SummaryRow } from '../src/protocol/events.ts';
import { readTeacherCache, writeTeacherCache } from '../src/core/distill/teacherCache.ts';
import { runCli, startCli, tempDir, writeConfig, smallConfig } from './helpers/cli.ts';

const AUGMENT = { crop: { padding: 2 }, flip: true, translate: { pixels: 1 } };

const config = (augment: boolean, runs: string) =>
  smallConfig({
    backend: 'wasm',
    data: { source: 'demo', trainLimit: 600, batchSize: 64, ...(augment ? { augment: AUGMENT } : {}) },
    student: { architecture: { type: 'mlp', hidden: [16], dropout: 0.2 } },
    train: { epochs: 3, logEvery: 2, checkpointEvery: 1, optimizer: { type: 'adam', learningRate: 0.005 } },
    bench: { enabled: false },
    export: { onnx: false },
    output: { dir: runs },
  });

const runsIn = (dir: string, runs: string) =>
  fs.existsSync(path.join(dir, runs))
    ? fs
        .readdirSync(path.join(dir, runs))
        .sort()
        .map((r) => path.join(dir, runs, r))
    : [];

function events(run: string): RunEvent[] {
  return parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
}

function summaryOf(run: string): SummaryRow[] {
  const done = events(run).filter((e): e is RunFinishedEvent => e.type === 'run_finished');
  assert.equal(done.length, 1);
  return done[0].summary;
}

/** Trains `config` in `dir` (its runs under `runs`); returns the run folder and the CLI's output. */
function train(dir: string, runs: string, augment: boolean) {
  const r = runCli(['train', writeConfig(dir, runs, config(augment, runs))], dir);
  return { ...r, run: runsIn(dir, runs).at(-1)! };
}

const cacheHit = (run: string) => {
  const e = events(run).find((x) => x.type === 'teacher_outputs');
  return e?.type === 'teacher_outputs' ? e.cache?.hit : undefined;
};
const row = (summary: SummaryRow[], model: string) => summary.find((s) => s.model === model)!;

const shared = tempDir('augment-run');
let reference: SummaryRow[];

test('an augmented run: every phase trains on augmented batches, the teacher runs online, and the run says so', () => {
  const augmented = train(shared, 'runs-augmented', true);
  assert.equal(augmented.code, 0, augmented.stderr);
  assert.match(
    augmented.stdout,
    /warning: data\.augment is on: the teacher runs online on every augmented training batch \(\d+ per epoch\); its precomputed outputs serve validation and test only, not training batches/,
  );
  assert.equal(cacheHit(augmented.run), false, 'the cache was written');
  reference = summaryOf(augmented.run);

  // The same run without augmentation reads that cache and trains differently, the baseline too.
  const plain = train(shared, 'runs-plain', false);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(cacheHit(plain.run), true);
  assert.doesNotMatch(plain.stdout, /data\.augment is on/);
  const plainSummary = summaryOf(plain.run);
  assert.equal(row(plainSummary, 'teacher').accuracy, row(reference, 'teacher').accuracy, 'the same teacher');
  for (const model of ['scratch', 'distilled'])
    assert.notDeepEqual(row(plainSummary, model), row(reference, model), `${model} trained on other batches`);
});

test('the cache gives validation and test outputs only when augmenting: poisoned training-split logits change nothing; without augmentation they are used', () => {
  const cacheDir = path.join(shared, '.distill', 'cache');
  const keys = fs.readdirSync(cacheDir).filter((k) => !k.startsWith('.'));
  assert.equal(keys.length, 1, keys.join(', '));
  const entry = readTeacherCache(cacheDir, keys[0])!;
  entry.logits.train.fill(NaN);
  // A complete entry is kept by a later writer (two runs may race to write it): replace it by hand.
  fs.rmSync(path.join(cacheDir, keys[0]), { recursive: true });
  writeTeacherCache(cacheDir, keys[0], entry, undefined, { poisoned: 'train logits' });

  const augmented = train(shared, 'runs-augmented-poisoned', true);
  assert.equal(augmented.code, 0, augmented.stderr);
  assert.equal(cacheHit(augmented.run), true);
  assert.match(augmented.stdout, /its cached outputs serve validation and test only/);
  assert.deepEqual(summaryOf(augmented.run), reference);

  const plain = train(shared, 'runs-plain-poisoned', false);
  assert.notEqual(plain.code, 0, 'the NaN training logits reach the loss');
  assert.match(plain.stderr, /loss became NaN .*at distill step|loss became NaN .*up to distill step/);
});

test('SIGTERM in the middle of an augmented distillation, then --resume: the run ends exactly as the uninterrupted one', async () => {
  const dir = tempDir('augment-resume');
  const child = startCli(['train', writeConfig(dir, 'aug', config(true, 'runs'))], dir);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let exited = false;
  const exit = once(child, 'exit').then((r) => ((exited = true), r));
  let run: string | undefined;
  for (const deadline = Date.now() + 300_000; !run && !exited && Date.now() < deadline;) {
    const [candidate] = runsIn(dir, 'runs');
    if (candidate && fs.existsSync(path.join(candidate, 'events.jsonl'))) {
      const es = events(candidate);
      if (es.some((e) => e.type === 'checkpoint' && e.phase === 'distill') && es.at(-1)?.type === 'step')
        run = candidate;
    }
    if (!run) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(run, `the run reached the distillation phase: ${stderr}`);
  child.kill('SIGTERM');
  const [code] = await exit;
  assert.equal(code, 143, `stopped by the signal, not finished before it: ${stderr}`);
  assert.equal(events(run).at(-1)!.type, 'run_stopped');

  const resumed = runCli(['train', '--resume', run], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /\(resumed\)/);
  assert.deepEqual(summaryOf(run), reference);
});

test('data.augment on tabular (CSV) data is one located config error, exit 2, nothing written', () => {
  const dir = tempDir('augment-csv');
  const rows = Array.from({ length: 200 }, (_, i) => `${(i % 7) / 7},${(i % 5) / 5},${i % 2}`);
  fs.writeFileSync(path.join(dir, 'table.csv'), `a,b,label\n${rows.join('\n')}\n`);
  const file = writeConfig(dir, 'table', {
    data: { source: 'csv', train: 'table.csv', batchSize: 16, augment: { flip: true } },
    teacher: { source: 'train', architecture: { type: 'mlp', hidden: [8] } },
    student: { architecture: { type: 'mlp', hidden: [4] } },
    output: { dir: 'runs' },
  });
  for (const command of ['validate', 'train']) {
    const r = runCli([command, file], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /table\.distill\.json:\d+:\d+: data\.augment: augments images, but the examples have shape \[2\] \(a vector each\); expected image data/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.ok(!fs.existsSync(path.join(dir, 'runs')), 'no run folder');
});
