// The dashboard's pure logic under plain node (no Chromium): the run model and its chart columns,
// the aligned chart data (Aligner), the chart specs, the host-message state and the CSV export,
// on a run recorded by the real CLI.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type RunEvent, type RunFinishedEvent, type StepEvent } from '../src/protocol/events.ts';
import { MESSAGES_VERSION, type HostMessage } from '../src/protocol/messages.ts';
import { foldRun } from '../src/protocol/run.ts';
import {
  applyEvents,
  emptyRun,
  epochColumns,
  modelRows,
  stepColumns,
  summaryCsv,
  type RunModel,
} from '../webview/model.ts';
import { Aligner, chartSpecs, type Line } from '../webview/chartData.ts';
import { createDashboard, receive } from '../webview/state.ts';
import { runCli, tempDir, writeConfig, smallConfig, runFolders } from './helpers/cli.ts';

let run: { dir: string; id: string; events: RunEvent[] };

before(() => {
  const dir = tempDir('webview-model');
  const r = runCli(
    [
      'train',
      writeConfig(
        dir,
        'wm',
        smallConfig({
          backend: 'wasm',
          export: { onnx: false },
          bench: { batchSizes: [1, 4], minRuns: 3, minSeconds: 0.02, warmup: 1 },
          train: { epochs: 3, logEvery: 2 },
          // Annealed from 4 to 1, so that the epochs carry the temperature the dashboard draws.
          distill: { method: 'kd', temperature: 4, finalTemperature: 1, alpha: 0.5 },
        }),
      ),
    ],
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  const [folder] = runFolders(dir);
  run = {
    dir: folder,
    id: path.basename(folder),
    events: parseEvents(fs.readFileSync(path.join(folder, 'events.jsonl'), 'utf8')),
  };
});

/** The bytes these events take in events.jsonl (the trainer writes JSON.stringify and a newline). */
const bytesOf = (events: RunEvent[]) => events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
const model = (events: RunEvent[]) => applyEvents(emptyRun(run.dir, run.id), events);
const plainColumns = (m: RunModel) =>
  [...m.series.values()].map((s) => ({
    phase: s.phase,
    step: { ...stepColumns(s), loss: [...stepColumns(s).loss] },
    epoch: epochColumns(s),
  }));

test('the model: its state is the protocol fold; live events grow the same column arrays; in pieces = at once', () => {
  const whole = model(run.events);
  assert.deepEqual(whole.state, foldRun(run.events));
  assert.equal(whole.state.status, 'finished');
  const steps = run.events.filter((e): e is StepEvent => e.type === 'step');
  const distill = whole.series.get('distill')!;
  assert.deepEqual(
    stepColumns(distill).xs,
    steps.filter((e) => e.phase === 'distill').map((e) => e.step),
  );
  assert.deepEqual([...stepColumns(distill).loss.keys()], Object.keys(steps.find((e) => e.phase === 'distill')!.loss));
  // A loaded teacher has no curves.
  assert.equal(whole.series.has('teacher'), false);

  const live = model([]);
  let xs: number[] | undefined;
  for (let i = 0; i < run.events.length; i += 5) {
    applyEvents(live, run.events.slice(i, i + 5));
    const s = live.series.get('distill');
    if (!s) continue;
    const now = stepColumns(s).xs;
    if (xs && xs.length > 0) assert.equal(now, xs, 'the same array, grown');
    xs = now;
  }
  assert.deepEqual(live.state, whole.state);
  assert.deepEqual(plainColumns(live), plainColumns(whole));
});

test('a re-sent step (a resumed run) rebuilds the columns once: sorted, the last point of a step wins', () => {
  const m = model(run.events);
  const s = m.series.get('distill')!;
  const before = stepColumns(s).xs;
  const first = run.events.find((e): e is StepEvent => e.type === 'step' && e.phase === 'distill')!;
  applyEvents(m, [{ ...first, loss: { ...first.loss, total: 123 } }]);
  const after = stepColumns(s);
  assert.notEqual(after.xs, before, 'new arrays');
  assert.deepEqual(after.xs, before);
  assert.equal(after.loss.get('total')![0], 123);
});

test('the comparison rows: the summary once finished, before it the test evaluations only', () => {
  const summary = (run.events.at(-1) as RunFinishedEvent).summary;
  assert.deepEqual(
    modelRows(model(run.events)).map((r) => r.model),
    ['teacher', 'scratch', 'distilled'],
  );
  assert.deepEqual(
    modelRows(model(run.events)).map((r) => r.accuracy),
    ['teacher', 'scratch', 'distilled'].map((n) => summary.find((r) => r.model === n)!.accuracy),
  );
  const beforeDistillTest = run.events.slice(
    0,
    run.events.findIndex((e) => e.type === 'evaluation' && e.phase === 'distill'),
  );
  const rows = modelRows(model(beforeDistillTest));
  assert.deepEqual(
    rows.map((r) => r.model),
    ['teacher', 'scratch'],
  );
  const scratchTest = run.events.find((e) => e.type === 'evaluation' && e.phase === 'scratch');
  assert.ok(scratchTest?.type === 'evaluation');
  assert.equal(rows[1].accuracy, scratchTest.metrics.accuracy);
  const validationEval: RunEvent = {
    v: 1,
    t: new Date().toISOString(),
    type: 'evaluation',
    phase: 'distill',
    split: 'validation',
    metrics: { accuracy: 0.99, loss: 0.1, examples: 10 },
  };
  assert.deepEqual(
    modelRows(model([...beforeDistillTest, validationEval])).map((r) => r.model),
    ['teacher', 'scratch'],
  );
});

test('summaryCsv: a row per model and latency measurement, RFC 4180 quoting', () => {
  const m = model(run.events);
  const csv = summaryCsv([m]);
  const lines = csv.trimEnd().split('\n');
  assert.equal(
    lines[0],
    'run,model,test_accuracy,agreement,params,bytes_fp32,macs,onnx_bytes,runtime,batch,p50_ms,p99_ms,learned_from',
  );
  const summary = m.state.summary!;
  const measured = (model: string) =>
    m.state.latency.filter((l) => l.model === (model === 'teacher' ? 'teacher' : 'student')).length;
  assert.ok(measured('teacher') > 0);
  assert.equal(
    lines.length - 1,
    summary.reduce((n, r) => n + Math.max(1, measured(r.model)), 0),
  );
  const distilled = summary.find((r) => r.model === 'distilled')!;
  assert.ok(
    lines.some((l) =>
      l.startsWith(
        `${run.id},distilled,${distilled.accuracy},${distilled.agreement},${distilled.params},${distilled.bytes},`,
      ),
    ),
  );
  const quoted = summaryCsv([{ ...m, id: 'a,"b"' }]).split('\n')[1];
  assert.ok(quoted.startsWith('"a,""b""",teacher,'), quoted);
  assert.ok(
    summaryCsv([{ ...m, id: 'a,b' }])
      .split('\n')[1]
      .startsWith('"a,b",teacher,'),
  );
  assert.ok(csv.endsWith('\n'));
});

/** The aligned data computed from scratch, for comparison. */
function aligned(lines: Line[], log = false) {
  const a = new Aligner(log);
  a.update(lines);
  return { xs: a.xs, ys: a.ys };
}

test('the Aligner: the union of the xs; grown lines merge only the new points, and equal a fresh merge', () => {
  const ax = [1, 3, 5];
  const ay: Array<number | null> = [10, 30, 50];
  const bx = [2, 3];
  const by: Array<number | null> = [-1, 3];
  const lines: Line[] = [
    { label: 'a', xs: ax, ys: ay, group: 0, variant: 0 },
    { label: 'b', xs: bx, ys: by, group: 1, variant: 0 },
  ];
  const a = new Aligner(false);
  a.update(lines);
  assert.deepEqual(a.xs, [1, 2, 3, 5]);
  assert.deepEqual(a.ys, [
    [10, null, 30, 50],
    [null, -1, 3, null],
  ]);
  const xs = a.xs;
  // b catches up to an x that a already has (filled in) and both go beyond (appended).
  bx.push(5, 7);
  by.push(5, 7);
  ax.push(6);
  ay.push(60);
  a.update(lines);
  assert.equal(a.xs, xs, 'appended in place');
  assert.deepEqual({ xs: a.xs, ys: a.ys }, aligned(lines));
  assert.deepEqual(a.xs, [1, 2, 3, 5, 6, 7]);
  // Stale columns come as new arrays (model.ts): merged again from scratch.
  lines[1] = { ...lines[1], xs: [0, ...bx], ys: [0, ...by] };
  a.update(lines);
  assert.deepEqual(a.xs, [0, 1, 2, 3, 5, 6, 7]);
  assert.deepEqual({ xs: a.xs, ys: a.ys }, aligned(lines));
  // Log scale: non-positive values are gaps.
  assert.deepEqual(aligned(lines, true).ys[1].slice(0, 3), [null, null, null]);
});

test('the chart specs: every loss term of each phase by step, train and validation by epoch; the teacher takes no colour', () => {
  const m = model(run.events);
  const byStep = chartSpecs([m], 'step', true);
  assert.deepEqual(
    byStep.map((s) => s.id),
    ['loss', 'accuracy', 'agreement', 'lr', 'temperature'],
  );
  assert.equal(byStep[0].log, true);
  const labels = byStep[0].lines.map((l) => l.label);
  for (const term of ['distilled total', 'distilled hard', 'distilled kd', 'scratch total'])
    assert.ok(labels.includes(term), labels.join(', '));
  assert.ok(!labels.some((l) => l.startsWith('teacher')));
  assert.deepEqual([...new Set(byStep[0].lines.map((l) => l.group))], [0, 1]);
  const byEpoch = chartSpecs([m, { ...m, id: 'other' }], 'epoch', false);
  assert.ok(byEpoch[0].lines.some((l) => l.label === `${m.id} distilled validation`));
  assert.ok(byEpoch[0].lines.some((l) => l.label === 'other scratch train'));
  // Every line's ys as long as its xs.
  for (const spec of [...byStep, ...byEpoch])
    for (const l of spec.lines) assert.equal(l.ys.length, l.xs.length, `${spec.id} ${l.label}`);
});

test('an annealed temperature is drawn by epoch, as the epoch events give it; runs without one have no such chart', () => {
  const m = model(run.events);
  const epochs = run.events.filter((e) => e.type === 'epoch' && e.phase === 'distill');
  const logged = epochs.map((e) => (e.type === 'epoch' ? e.temperatures?.kd : undefined));
  assert.equal(logged.length, 3);
  assert.ok(
    logged.every((t) => t !== undefined && t >= 1 && t <= 4),
    String(logged),
  );
  const spec = chartSpecs([m], 'step', false).find((s) => s.id === 'temperature');
  assert.ok(spec, 'a temperature chart');
  assert.equal(spec.xLabel, 'epoch');
  assert.deepEqual(
    spec.lines.map((l) => [l.label, Array.from(l.xs), Array.from(l.ys)]),
    [['distilled kd', [1, 2, 3], logged]],
  );
  const plain = model(
    run.events.map((e) => (e.type === 'epoch' ? { ...e, temperatures: undefined } : e)) as RunEvent[],
  );
  assert.ok(!chartSpecs([plain], 'epoch', false).some((s) => s.id === 'temperature'));
});

test('the state object: init replaces the runs (a new generation), events grow one run, unknown runs are ignored', () => {
  const posted: unknown[] = [];
  let scheduled = 0;
  const d = createDashboard(
    (m) => posted.push(m),
    () => scheduled++,
  );
  const half = Math.floor(run.events.length / 2);
  const at = bytesOf(run.events.slice(0, half));
  const end = bytesOf(run.events);
  const batch = (from: number, to: number, events: RunEvent[], dir = run.dir): HostMessage => ({
    type: 'events',
    v: MESSAGES_VERSION,
    dir,
    from,
    to,
    events,
    problems: [],
    live: true,
  });
  assert.equal(
    receive(d, {
      type: 'init',
      v: MESSAGES_VERSION,
      runs: [{ dir: run.dir, id: run.id, events: run.events.slice(0, half), offset: at, problems: [], live: true }],
    }),
    'init',
  );
  assert.equal(d.generation, 1);
  assert.equal(receive(d, batch(at, end, run.events.slice(half))), 'applied');
  assert.equal(receive(d, batch(0, end, run.events, '/elsewhere')), 'ignored');
  assert.deepEqual([...d.runs.keys()], [run.dir]);
  assert.deepEqual(d.runs.get(run.dir)!.state, foldRun(run.events));
  // The offsets: a batch it already has is dropped (no event twice), one that leaves a hole is a gap.
  assert.equal(receive(d, batch(at, end, run.events.slice(half))), 'ignored');
  assert.equal(receive(d, batch(end + 10, end + 20, run.events.slice(0, 1))), 'gap');
  assert.deepEqual(d.runs.get(run.dir)!.state, foldRun(run.events));
  assert.equal(d.offsets.get(run.dir), end);
  const first = d.runs.get(run.dir);
  receive(d, { type: 'init', v: MESSAGES_VERSION, runs: [{ dir: run.dir, id: run.id, events: run.events }] });
  assert.equal(d.generation, 2);
  assert.notEqual(d.runs.get(run.dir), first, 'new objects');
  assert.deepEqual(posted, []);
  assert.equal(scheduled, 0);
  // Two dashboards share nothing.
  assert.equal(
    createDashboard(
      () => {},
      () => {},
    ).runs.size,
    0,
  );
});
