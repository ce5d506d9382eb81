// The written-out dense step (src/core/train/denseStep.ts) against tfjs's tape on the same runs of
// the real CLI on the tensorflow backend: the same losses and metrics to float32 rounding, for each
// optimizer and activation it takes; the phases record which step ran and why; a stop and
// --resume of a dense-step run ends exactly as the uninterrupted one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import {
  runCli,
  runFolders,
  signalStopped,
  smallConfig,
  startCli,
  stopWhen,
  tempDir,
  tensorflowAvailable,
  writeConfig,
} from './helpers/cli.ts';

const skip = tensorflowAvailable()
  ? false
  : 'the native tensorflow backend is not installed (scripts/setup-native-tfjs.sh)';

function events(run: string): RunEvent[] {
  return parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
}

function config(step: 'auto' | 'tape', overrides: { student?: unknown; optimizer?: unknown; epochs?: number } = {}) {
  return smallConfig({
    backend: 'tensorflow',
    data: { source: 'demo', trainLimit: 1000, batchSize: 64 },
    student: overrides.student ?? { architecture: { type: 'mlp', hidden: [32, 16] } },
    distill: { method: 'kd', temperature: 4, alpha: 0.5 },
    train: {
      epochs: overrides.epochs ?? 2,
      logEvery: 3,
      step,
      optimizer: overrides.optimizer ?? { type: 'adam', learningRate: 0.005 },
    },
    export: { onnx: false },
    bench: { enabled: false },
  });
}

function trained(name: string, cfg: unknown): RunEvent[] {
  const dir = tempDir(`dense-${name}`);
  const r = runCli(['train', writeConfig(dir, name, cfg)], dir);
  assert.equal(r.code, 0, r.stderr);
  return events(runFolders(dir)[0]);
}

function stepsOf(es: RunEvent[]) {
  return Object.fromEntries(es.flatMap((e) => (e.type === 'phase_finished' ? [[e.phase, e.step]] : []))) as Record<
    string,
    unknown
  >;
}

/** The largest relative difference between the two runs' logged step losses, and their training and validation accuracies. */
function compare(dense: RunEvent[], tape: RunEvent[]) {
  const steps = (es: RunEvent[]) => es.flatMap((e) => (e.type === 'step' ? [e] : []));
  const [a, b] = [steps(dense), steps(tape)];
  assert.equal(a.length, b.length);
  let worst = 0;
  a.forEach((e, i) => {
    assert.deepEqual(Object.keys(e.loss).sort(), Object.keys(b[i].loss).sort());
    for (const k of Object.keys(e.loss))
      worst = Math.max(worst, Math.abs(e.loss[k] - b[i].loss[k]) / Math.max(1e-6, Math.abs(b[i].loss[k])));
  });
  // Each epoch's training accuracy (read from the step's own counts) and validation accuracy.
  const accuracies = (es: RunEvent[]) =>
    es.flatMap((e) => (e.type === 'epoch' ? [e.train.accuracy, e.validation!.accuracy] : []));
  return { worst, dense: accuracies(dense), tape: accuracies(tape) };
}

const variants: Array<[string, Parameters<typeof config>[1]]> = [
  ['adam, relu', {}],
  [
    'adam with L2 weight decay, tanh',
    {
      student: { architecture: { type: 'mlp', hidden: [24], activation: 'tanh' } },
      optimizer: { type: 'adam', learningRate: 0.005, weightDecay: 0.01 },
    },
  ],
  [
    'adamw, sigmoid',
    {
      student: { architecture: { type: 'mlp', hidden: [24], activation: 'sigmoid' } },
      optimizer: { type: 'adamw', learningRate: 0.01, weightDecay: 0.05 },
    },
  ],
  ['sgd with momentum, relu', { optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9 } }],
  ['plain sgd, relu', { optimizer: { type: 'sgd', learningRate: 0.1, momentum: 0 } }],
];

for (const [name, overrides] of variants)
  test(`${name}: the dense step and the tape give the same losses and accuracies (float32 rounding)`, { skip }, () => {
    const dense = trained('auto', config('auto', overrides));
    const tape = trained('tape', config('tape', overrides));
    assert.deepEqual(stepsOf(dense), { scratch: { kind: 'dense' }, distill: { kind: 'dense' } });
    assert.deepEqual(stepsOf(tape), {
      scratch: { kind: 'tape', reason: 'train.step is "tape"' },
      distill: { kind: 'tape', reason: 'train.step is "tape"' },
    });
    const c = compare(dense, tape);
    assert.ok(c.worst < 1e-4, `the step losses differ by up to ${c.worst} (relative)`);
    c.dense.forEach((acc, i) => assert.ok(Math.abs(acc - c.tape[i]) <= 0.01, `accuracy ${i}: ${acc} vs ${c.tape[i]}`));
  });

test('a student the dense step does not fit trains on the tape, and the phase says why', { skip }, () => {
  const es = trained(
    'dropout',
    config('auto', { student: { architecture: { type: 'mlp', hidden: [16], dropout: 0.2 } }, epochs: 1 }),
  );
  assert.deepEqual(stepsOf(es), {
    scratch: { kind: 'tape', reason: 'dropout' },
    distill: { kind: 'tape', reason: 'dropout' },
  });
});

test(
  'SIGTERM mid-phase of a dense-step run, then --resume: it ends exactly as the uninterrupted run',
  { skip },
  async () => {
    const cfg = {
      ...config('auto', { epochs: 4 }),
      train: { ...config('auto', { epochs: 4 }).train, checkpointEvery: 1 },
    };
    const reference = trained('reference', cfg).find((e) => e.type === 'run_finished');
    assert.ok(reference?.type === 'run_finished');
    const dir = tempDir('dense-resume');
    const child = startCli(['train', writeConfig(dir, 'resume', cfg)], dir);
    const run = await stopWhen(
      child,
      dir,
      (es) => es.some((e) => e.type === 'checkpoint' && e.phase === 'distill') && es.at(-1)?.type === 'step',
    );
    const [code] = await signalStopped(child, 'SIGTERM');
    assert.equal(code, 143);
    const resumed = runCli(['train', '--resume', run], dir);
    assert.equal(resumed.code, 0, resumed.stderr);
    const finished = events(run).find((e) => e.type === 'run_finished');
    assert.ok(finished?.type === 'run_finished');
    assert.deepEqual(finished.summary, reference.summary);
  },
);
