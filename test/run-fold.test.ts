// The protocol's one fold of a run's events (foldRun), on runs recorded by the real CLI: a
// finished run, a failed one and a run killed and resumed (so some epochs are in the file twice).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  parseEvents,
  type EpochEvent,
  type EvaluationEvent,
  type Phase,
  type PhaseFinishedEvent,
  type RunEvent,
  type RunFailedEvent,
  type RunFinishedEvent,
} from '../src/protocol/events.ts';
import { foldRun, runAccuracy, runProgress, type RunState } from '../src/protocol/run.ts';
import { readRun, summarise } from '../src/extension/runs/runStore.ts';
import { snapshot, statusText } from '../src/extension/dashboard/runText.ts';
import {
  runCli,
  startCli,
  tempDir,
  writeConfig,
  smallConfig,
  runFolders,
  stopWhen,
  signalStopped,
} from './helpers/cli.ts';

const readEvents = (run: string): RunEvent[] => parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
const recorded: Record<'finished' | 'failed' | 'resumed', { dir: string; events: RunEvent[] }> = {} as never;

function record(key: keyof typeof recorded, config: Record<string, unknown>, expectCode: number): void {
  const dir = tempDir(`fold-${key}`);
  const r = runCli(['train', writeConfig(dir, key, smallConfig(config))], dir);
  assert.equal(r.code, expectCode, r.stderr);
  const [run] = runFolders(dir);
  recorded[key] = { dir: run, events: readEvents(run) };
}

before(async () => {
  record(
    'finished',
    { backend: 'wasm', export: { onnx: false }, bench: { enabled: false }, train: { epochs: 4, logEvery: 5 } },
    0,
  );
  record(
    'failed',
    {
      backend: 'wasm',
      baseline: false,
      export: { onnx: false },
      bench: { enabled: false },
      train: { epochs: 3, logEvery: 1, optimizer: { type: 'sgd', learningRate: 1e12, momentum: 0 } },
    },
    1,
  );
  // Killed after the distillation's third epoch with a checkpoint every second: --resume re-runs epoch 3.
  const config = smallConfig({
    backend: 'wasm',
    baseline: false,
    export: { onnx: false },
    bench: { enabled: false },
    train: { epochs: 5, logEvery: 2, checkpointEvery: 2 },
  });
  const dir = tempDir('fold-resumed');
  const child = startCli(['train', writeConfig(dir, 'resumed', config)], dir);
  const run = await stopWhen(child, dir, (es) =>
    es.some((e) => e.type === 'epoch' && e.phase === 'distill' && e.epoch === 3),
  );
  await signalStopped(child, 'SIGKILL');
  const resumed = runCli(['train', '--resume', run], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  recorded.resumed = { dir: run, events: readEvents(run) };
});

/** Folded in pieces of every size from 1 to 9 events: always the same state as folded at once. */
function assertIncremental(events: RunEvent[]): RunState {
  const whole = foldRun(events);
  for (let size = 1; size <= 9; size++) {
    let s: RunState | undefined;
    for (let i = 0; i < events.length; i += size) {
      const before = s && size === 3 ? structuredClone(s) : undefined;
      const next = foldRun(events.slice(i, i + size), s);
      if (s && size === 3) assert.deepEqual(s, before, 'the previous state is not modified');
      s = next;
    }
    assert.deepEqual(s, whole, `folded ${size} events at a time`);
  }
  return whole;
}

const epochsOf = (events: RunEvent[], phase: Phase) =>
  events.filter((e): e is EpochEvent => e.type === 'epoch' && e.phase === phase);

test('a finished run: test accuracy from its test evaluations, best epoch from phase_finished, progress 1; incremental = whole', () => {
  const { dir, events } = recorded.finished;
  const s = assertIncremental(events);
  assert.equal(s.status, 'finished');
  assert.equal(runProgress(s), 1);
  assert.equal(s.phase, undefined);
  const summary = (events.at(-1) as RunFinishedEvent).summary;
  assert.deepEqual(s.summary, summary);
  for (const e of events.filter((x): x is EvaluationEvent => x.type === 'evaluation'))
    assert.deepEqual(s.byPhase[e.phase]!.test, e.metrics);
  const acc = runAccuracy(s)!;
  assert.deepEqual(acc, {
    accuracy: summary.find((r) => r.model === 'distilled')!.accuracy,
    split: 'test',
    phase: 'distill',
  });
  for (const f of events.filter((x): x is PhaseFinishedEvent => x.type === 'phase_finished')) {
    const p = s.byPhase[f.phase]!;
    assert.equal(p.finished, true);
    assert.equal(p.bestEpoch, f.bestEpoch);
    assert.deepEqual(p.best, epochsOf(events, f.phase).find((e) => e.epoch === f.bestEpoch)!.validation);
    assert.equal(p.epoch, f.epochs);
  }
  // The tree: from run.json alone (finished) and from the events, the same numbers.
  const fromRecord = readRun(dir)!;
  const fromEvents = readRun(dir, events)!;
  assert.equal(fromRecord.bestAccuracy, acc.accuracy);
  assert.equal(fromEvents.bestAccuracy, acc.accuracy);
  assert.equal(fromRecord.progress, 1);
  assert.equal(fromEvents.progress, 1);
});

test('mid-run: the headline is the best validation accuracy of the students (never the teacher, never a test number)', () => {
  const { events } = recorded.finished;
  const cut = events.findIndex((e) => e.type === 'epoch' && e.phase === 'distill' && e.epoch === 2) + 1;
  const s = foldRun(events.slice(0, cut));
  assert.equal(s.status, 'running');
  assert.equal(s.phase, 'distill');
  const students = events
    .slice(0, cut)
    .filter((e): e is EpochEvent => e.type === 'epoch' && e.phase !== 'teacher' && !!e.validation);
  assert.ok(students.length > 0);
  const best = Math.max(...students.map((e) => e.validation!.accuracy));
  assert.deepEqual({ ...runAccuracy(s)!, phase: undefined }, { accuracy: best, split: 'validation', phase: undefined });
  // The distillation's best epoch so far is its highest validation accuracy (the earliest on ties).
  const distill = epochsOf(events.slice(0, cut), 'distill');
  const top = distill.reduce((a, b) => (b.validation!.accuracy > a.validation!.accuracy ? b : a));
  assert.equal(s.byPhase.distill!.bestEpoch, top.epoch);
  assert.equal(s.byPhase.distill!.finished, false);
  const progress = runProgress(s)!;
  assert.ok(progress > 0 && progress < 1, String(progress));
  // A validation-split evaluation is not a test accuracy.
  const validationEval: RunEvent = {
    v: 1,
    t: new Date().toISOString(),
    type: 'evaluation',
    phase: 'distill',
    split: 'validation',
    metrics: { accuracy: 0.99, loss: 0.1, examples: 10 },
  };
  assert.equal(foldRun([validationEval], s).byPhase.distill!.test, undefined);
  assert.equal(
    summarise({ dir: '', id: '', name: '', status: 'running', interrupted: false }, events.slice(0, cut)).bestAccuracy,
    best,
  );
});

test('a resumed run with repeated epochs: the last event of an epoch wins; incremental = whole', () => {
  const { dir, events } = recorded.resumed;
  assert.equal(events.filter((e) => e.type === 'run_started').length, 2);
  const distill = epochsOf(events, 'distill');
  const repeated = distill.filter((e, i) => distill.findIndex((x) => x.epoch === e.epoch) !== i).map((e) => e.epoch);
  assert.ok(repeated.includes(3), `epochs in the file twice: ${repeated.join(', ')}`);
  const s = assertIncremental(events);
  assert.equal(s.status, 'finished');
  assert.equal(s.resumed, true);
  // A resumed run re-computes the same numbers: the last event is told apart by identity and time.
  for (const epoch of new Set(distill.map((e) => e.epoch)))
    assert.equal(
      s.byPhase.distill!.validation[epoch],
      distill.filter((e) => e.epoch === epoch).at(-1)!.validation,
      `epoch ${epoch}`,
    );
  assert.equal(s.byPhase.distill!.epochAt, distill.at(-1)!.t);
  const finished = events.find((e): e is PhaseFinishedEvent => e.type === 'phase_finished' && e.phase === 'distill')!;
  assert.deepEqual(s.byPhase.distill!.best, distill.filter((e) => e.epoch === finished.bestEpoch).at(-1)!.validation);
  assert.equal(
    runAccuracy(s)!.accuracy,
    (events.at(-1) as RunFinishedEvent).summary.find((r) => r.model === 'distilled')!.accuracy,
  );
  assert.equal(readRun(dir)!.bestAccuracy, runAccuracy(s)!.accuracy);
});

test('a failed run: failed with its reason; incremental = whole', () => {
  const { dir, events } = recorded.failed;
  const failed = events.find((e): e is RunFailedEvent => e.type === 'run_failed')!;
  assert.ok(failed);
  const s = assertIncremental(events);
  assert.equal(s.status, 'failed');
  assert.equal(s.error, failed.reason);
  assert.equal(s.summary, undefined);
  const p = runProgress(s)!;
  assert.ok(p < 1, String(p));
  const view = readRun(dir)!;
  assert.equal(view.status, 'failed');
  assert.equal(view.progress, p);
  // A later run_started (a resume) clears the failure.
  const restarted = foldRun([{ ...(events[0] as Extract<RunEvent, { type: 'run_started' }>), resumed: true }], s);
  assert.equal(restarted.status, 'running');
  assert.equal(restarted.error, undefined);
});

test('the status bar and the Active Run view read the same fold: phase, epoch, loss, the latest validation accuracy, the end', () => {
  const { events } = recorded.finished;
  const at = (pred: (e: RunEvent) => boolean) => foldRun(events.slice(0, events.findIndex(pred) + 1));
  const started = at((e) => e.type === 'run_started');
  assert.equal(statusText(started), `$(sync~spin) Distill: starting on ${started.backend!.name}`);
  const distillStart = at((e) => e.type === 'phase_started' && e.phase === 'distill');
  assert.equal(statusText(distillStart), '$(sync~spin) Distill: distill 0/4');
  assert.deepEqual(
    { ...snapshot('r', distillStart), loss: undefined, summary: undefined },
    {
      id: 'r',
      status: 'running',
      phase: 'distill',
      epoch: 0,
      epochs: 4,
      loss: undefined,
      valAccuracy: undefined,
      agreement: undefined,
      summary: undefined,
    },
  );
  const epoch2 = events.find((e): e is EpochEvent => e.type === 'epoch' && e.phase === 'distill' && e.epoch === 2)!;
  const mid = at((e) => e === epoch2);
  assert.match(
    statusText(mid),
    new RegExp(
      `^\\$\\(sync~spin\\) Distill: distill 2/4 · loss ${epoch2.train.loss.total.toFixed(3)} · val ${(epoch2.validation!.accuracy * 100).toFixed(1)}% · ETA \\d+s$`,
    ),
  );
  assert.deepEqual(snapshot('r', mid), {
    id: 'r',
    status: 'running',
    phase: 'distill',
    epoch: 2,
    epochs: 4,
    loss: epoch2.train.loss.total,
    valAccuracy: epoch2.validation!.accuracy,
    agreement: epoch2.validation!.agreement,
    summary: undefined,
  });
  const done = foldRun(events);
  assert.equal(statusText(done), '$(pass) Distill: finished');
  assert.deepEqual(snapshot('r', done).summary, (events.at(-1) as RunFinishedEvent).summary);
  assert.equal(snapshot('r', done).phase, undefined);
  const failed = foldRun(recorded.failed.events);
  assert.equal(statusText(failed), '$(error) Distill: failed');
  assert.equal(snapshot('r', failed).status, `failed: ${failed.error}`);
});
