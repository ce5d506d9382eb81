// The sweep view's logic outside the browser (webview/sweep/model.ts), the config diff of
// compared runs (webview/configDiff.ts) and the validation of the sweep panel's messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PairedInterval, SweepAggregate, SweepPlan, SweepTaskStatus } from '../src/protocol/sweep.ts';
import {
  parseSweepAggregate,
  parseSweepPlan,
  parseSweepViewMessage,
  parseSweepWebviewMessage,
  SWEEP_VIEW_VERSION,
} from '../src/protocol/sweepView.ts';
import {
  brushed,
  ciScale,
  costPoints,
  gainText,
  meanSdText,
  nextSort,
  parallelAxes,
  paretoFront,
  settingRows,
  sortRows,
} from '../webview/sweep/model.ts';
import { configDiff, valueText } from '../webview/configDiff.ts';

/** A 2 x 2 grid over temperature and learning rate, two seeds: 8 tasks. */
function plan(): SweepPlan {
  const values = [
    { 'distill.temperature': 2, 'train.optimizer.learningRate': 0.001 },
    { 'distill.temperature': 2, 'train.optimizer.learningRate': 0.1 },
    { 'distill.temperature': 4, 'train.optimizer.learningRate': 0.001 },
    { 'distill.temperature': 4, 'train.optimizer.learningRate': 0.1 },
  ];
  const settings = values.map((v, id) => ({
    id,
    values: v,
    label: Object.entries(v)
      .map(([k, x]) => `${k}=${x}`)
      .join(', '),
  }));
  const tasks = settings.flatMap((s) =>
    [0, 1].map((seed) => {
      const index = s.id * 2 + seed;
      return { index, setting: s.id, seed, dir: `tasks/${index}`, config: `configs/${index}.json` };
    }),
  );
  return {
    v: 1,
    sweepId: 'abc',
    name: 'grid',
    createdAt: '2026-01-01T00:00:00.000Z',
    configFile: '/x/a.distill.json',
    mode: 'grid',
    keys: ['distill.temperature', 'train.optimizer.learningRate'],
    seeds: [0, 1],
    settings,
    tasks,
    select: { model: 'distilled', metric: 'validation_accuracy' },
  };
}

const interval = (mean: number, low: number | null, high: number | null, n = 2): PairedInterval => ({
  mean,
  low,
  high,
  level: 0.95,
  n,
  method: 'paired-t',
  includesZero: low === null || high === null || (low <= 0 && high >= 0),
});

function aggregate(): SweepAggregate {
  const val = (mean: number, sd: number | null, n = 2) => ({ mean, sd, n });
  return {
    v: 1,
    sweepId: 'abc',
    computedAt: '2026-01-01T01:00:00.000Z',
    tasks: { total: 8, finished: 7, failed: 1, unfinished: 0 },
    settings: [
      {
        setting: 0,
        values: {},
        label: 's0',
        seeds: [0, 1],
        validation: { distilled: val(0.8, 0.01), scratch: val(0.79, 0.01) },
        validationGain: interval(0.01, -0.02, 0.04),
      },
      {
        setting: 1,
        values: {},
        label: 's1',
        seeds: [0, 1],
        validation: { distilled: val(0.7, 0.02), scratch: val(0.72, 0.02) },
        validationGain: interval(-0.02, -0.05, -0.005),
      },
      {
        setting: 2,
        values: {},
        label: 's2',
        seeds: [0, 1],
        validation: { distilled: val(0.83, 0.005), scratch: val(0.8, 0.01) },
        validationGain: interval(0.03, 0.01, 0.05),
      },
      {
        setting: 3,
        values: {},
        label: 's3',
        seeds: [0],
        validation: { distilled: val(0.75, null, 1), scratch: val(0.74, null, 1) },
        validationGain: interval(0.01, null, null, 1),
      },
    ],
    chosen: 2,
    test: {
      setting: 2,
      models: { scratch: val(0.795, 0.004), distilled: val(0.821, 0.003) },
      gain: interval(0.026, 0.005, 0.047),
      perSeed: [
        { seed: 0, scratch: 0.79, distilled: 0.82 },
        { seed: 1, scratch: 0.8, distilled: 0.822 },
      ],
    },
    points: [
      {
        index: 4,
        setting: 2,
        seed: 0,
        model: 'teacher',
        validationAccuracy: 0.9,
        params: 400000,
        bytes: 1_600_000,
        latencyMs: 2,
      },
      {
        index: 4,
        setting: 2,
        seed: 0,
        model: 'scratch',
        validationAccuracy: 0.8,
        params: 12000,
        bytes: 48_000,
        latencyMs: 0.1,
      },
      {
        index: 4,
        setting: 2,
        seed: 0,
        model: 'distilled',
        validationAccuracy: 0.83,
        params: 12000,
        bytes: 48_000,
        latencyMs: 0.1,
      },
      { index: 2, setting: 1, seed: 0, model: 'distilled', validationAccuracy: 0.7, params: 12000, bytes: 48_000 },
    ],
  };
}

function statuses(p: SweepPlan): SweepTaskStatus[] {
  return p.tasks.map((t) => ({
    index: t.index,
    setting: t.setting,
    seed: t.seed,
    state: t.index === 7 ? 'failed' : 'finished',
  }));
}

test('settings rows: each setting with its finished seeds, validation results and the chosen one', () => {
  const p = plan();
  const rows = settingRows(p, statuses(p), aggregate());
  assert.deepEqual(
    rows.map((r) => [r.setting, r.finished, r.planned, r.validation?.mean, r.chosen]),
    [
      [0, 2, 2, 0.8, false],
      [1, 2, 2, 0.7, false],
      [2, 2, 2, 0.83, true],
      [3, 1, 2, 0.75, false],
    ],
  );
  // Before the aggregate: the plan's settings, nothing chosen.
  const bare = settingRows(p, statuses(p));
  assert.ok(bare.every((r) => r.validation === undefined && !r.chosen));
});

test('sort: by validation (best first), by a swept key, reversed by a second click; missing values last', () => {
  const p = plan();
  const rows = settingRows(p, statuses(p), aggregate());
  assert.deepEqual(
    sortRows(rows, { column: 'validation', descending: true }).map((r) => r.setting),
    [2, 0, 3, 1],
  );
  const byLr = nextSort({ column: 'validation', descending: true }, 'key:train.optimizer.learningRate');
  assert.deepEqual(byLr, { column: 'key:train.optimizer.learningRate', descending: false });
  // Ties (same learning rate) keep the setting order.
  assert.deepEqual(
    sortRows(rows, byLr).map((r) => r.setting),
    [0, 2, 1, 3],
  );
  assert.deepEqual(
    sortRows(rows, nextSort(byLr, byLr.column)).map((r) => r.setting),
    [1, 3, 0, 2],
  );
  const partial = rows.map((r) => (r.setting === 0 ? { ...r, gain: undefined } : r));
  for (const descending of [true, false])
    assert.equal(sortRows(partial, { column: 'gain', descending }).at(-1)!.setting, 0);
});

test('parallel axes: numeric keys linear or log (two decades), then validation accuracy and gain; brushing filters', () => {
  const p = plan();
  const rows = settingRows(p, statuses(p), aggregate());
  const axes = parallelAxes(p, rows);
  assert.deepEqual(
    axes.map((a) => [a.id, a.kind]),
    [
      ['key:distill.temperature', 'linear'],
      ['key:train.optimizer.learningRate', 'log'],
      ['validation', 'linear'],
      ['gain', 'linear'],
    ],
  );
  const [temperature, lr, validation] = axes;
  assert.deepEqual(
    rows.map((r) => temperature.position(r)),
    [0, 0, 1, 1],
  );
  assert.deepEqual(
    rows.map((r) => lr.position(r)),
    [0, 1, 0, 1],
  );
  // 0.70 .. 0.83: setting 0 at (0.80 - 0.70) / 0.13.
  assert.ok(Math.abs(validation.position(rows[0])! - 0.1 / 0.13) < 1e-12);
  assert.equal(lr.ticks[1].label, '0.01'); // the log axis's middle: 10^-2
  // Brush the top half of validation accuracy and the low learning rate: settings 0 and 2.
  assert.deepEqual(
    brushed(rows, axes, { validation: [0.5, 1], 'key:train.optimizer.learningRate': [0, 0.2] }).map((r) => r.setting),
    [0, 2],
  );
  assert.deepEqual(brushed(rows, axes, {}).length, 4);
  // A row without a value on a brushed axis is out.
  const noResult = settingRows(p, statuses(p));
  assert.deepEqual(brushed(noResult, parallelAxes(p, noResult), { validation: [0, 1] }), []);
});

test('categorical keys: positions in the order the settings first use them', () => {
  const p = plan();
  p.keys = ['distill.method'];
  p.settings.forEach((s, i) => (s.values = { 'distill.method': ['kd', 'dkd', 'kd', 'none'][i] }));
  const rows = settingRows(p, statuses(p));
  const [axis] = parallelAxes(p, rows);
  assert.equal(axis.kind, 'category');
  assert.deepEqual(
    rows.map((r) => axis.position(r)),
    [0, 0.5, 0, 1],
  );
  assert.deepEqual(
    axis.ticks.map((t) => t.label),
    ['kd', 'dkd', 'none'],
  );
});

test('Pareto front: the points no other point beats on both cost and accuracy', () => {
  const pts = [
    { cost: 1, accuracy: 0.7 },
    { cost: 2, accuracy: 0.75 },
    { cost: 2, accuracy: 0.72 }, // beaten by the one above (same cost, more accurate)
    { cost: 3, accuracy: 0.74 }, // beaten by cost 2, 0.75
    { cost: 10, accuracy: 0.9 },
    { cost: 0.5, accuracy: 0.6 },
    { cost: 5, accuracy: 0.75 }, // as accurate as cost 2, and dearer: beaten
  ];
  assert.deepEqual(paretoFront(pts), [5, 0, 1, 4]);
  assert.deepEqual(paretoFront([]), []);
  // Points without a latency are left out of the latency plot, not of the size plot.
  const a = aggregate();
  assert.equal(costPoints(a.points, 'latency').length, 3);
  assert.equal(costPoints(a.points, 'size').length, 4);
  const front = paretoFront(costPoints(a.points, 'size'));
  assert.deepEqual(
    front.map((i) => a.points[i].model),
    ['distilled', 'teacher'],
  );
});

test('gain wording: the interval, and plainly (in the words of the CLI) when it includes zero or cannot be computed', () => {
  const established = gainText(interval(0.026, 0.005, 0.047, 3));
  assert.equal(established.text, '+2.60 points, 95% CI +0.50 to +4.70 (paired t, n = 3)');
  assert.equal(established.established, true);
  const unsure = gainText(interval(0.01, -0.02, 0.04, 3));
  assert.equal(unsure.established, false);
  assert.equal(unsure.verdict, 'the interval includes zero: this gain is not established with 3 seeds');
  assert.equal(gainText(interval(0.01, null, null, 1)).text, '+1.00 points (no interval: 1 seed)');
  assert.match(gainText(interval(0.01, null, null, 1)).verdict, /with 1 seed there is no interval/);
  assert.match(gainText(interval(-0.02, -0.05, -0.005)).verdict, /excludes zero: a loss over 2 seeds/);
  assert.equal(meanSdText({ mean: 0.8123, sd: 0.0041, n: 3 }), '81.23% ± 0.41 (n = 3)');
  assert.equal(meanSdText({ mean: 0.8, sd: null, n: 1 }), '80.00% (n = 1)');
  // CI bars on one scale that holds zero.
  const scale = ciScale([interval(0.01, -0.02, 0.04), interval(0.03, 0.01, 0.05)]);
  const bar = scale(interval(0.03, 0.01, 0.05));
  for (const [k, v] of Object.entries({ low: 3 / 7, mean: 5 / 7, high: 1, zero: 2 / 7 }))
    assert.ok(Math.abs(bar[k as keyof typeof bar] - v) < 1e-12, `${k}: ${bar[k as keyof typeof bar]} vs ${v}`);
});

test("config diff: changed leaves as dotted paths with every run's value; arrays compared whole", () => {
  const a = {
    name: 'a',
    distill: { temperature: 2, alpha: 0.5 },
    student: { architecture: { hidden: [16] } },
    train: { seed: 0 },
  };
  const b = {
    name: 'a',
    distill: { temperature: 4, alpha: 0.5 },
    student: { architecture: { hidden: [16, 8] } },
    train: { seed: 0, extra: true },
  };
  assert.deepEqual(configDiff([a, b]), [
    { path: 'distill.temperature', values: [2, 4] },
    { path: 'student.architecture.hidden', values: [[16], [16, 8]] },
    { path: 'train.extra', values: [undefined, true] },
  ]);
  assert.deepEqual(configDiff([a, structuredClone(a)]), []);
  // Key order does not make a difference.
  assert.deepEqual(configDiff([{ x: { p: 1, q: 2 } }, { x: { q: 2, p: 1 } }]), []);
  assert.deepEqual(
    configDiff([{ layers: [{ type: 'dense', units: 8 }] }, { layers: [{ units: 8, type: 'dense' }] }]),
    [],
  );
  assert.equal(valueText(undefined), '(absent)');
  // Three runs: a key that differs in one of them.
  assert.deepEqual(configDiff([{ s: 1 }, { s: 1 }, { s: 2 }]), [{ path: 's', values: [1, 1, 2] }]);
});

test('sweep panel messages are validated: a malformed plan, aggregate or request is refused', () => {
  const p = plan();
  const m = { type: 'sweep', v: SWEEP_VIEW_VERSION, dir: '/s', plan: p, statuses: statuses(p), aggregate: aggregate() };
  assert.ok(parseSweepViewMessage(m));
  assert.ok(parseSweepViewMessage({ ...m, aggregate: undefined }));
  assert.equal(parseSweepViewMessage({ ...m, v: 99 }), undefined);
  assert.equal(
    parseSweepViewMessage({ ...m, statuses: [{ index: 0, setting: 0, seed: 0, state: 'exploded' }] }),
    undefined,
  );
  assert.equal(parseSweepPlan({ ...p, tasks: [{ index: -1, setting: 0, seed: 0, dir: 'x' }] }), undefined);
  assert.equal(parseSweepPlan({ ...p, mode: 'bayes' }), undefined);
  const bad = aggregate();
  (bad.points[0] as unknown as Record<string, unknown>).validationAccuracy = 'high';
  assert.equal(parseSweepAggregate(bad), undefined);
  assert.equal(parseSweepViewMessage({ ...m, aggregate: bad }), undefined);
  assert.deepEqual(parseSweepWebviewMessage({ type: 'openTasks', indices: [3, 3, 1] }), {
    type: 'openTasks',
    indices: [3, 1],
  });
  assert.equal(parseSweepWebviewMessage({ type: 'openTasks', indices: [] }), undefined);
  assert.equal(parseSweepWebviewMessage({ type: 'openTasks', indices: ['../x'] }), undefined);
  assert.equal(parseSweepWebviewMessage({ type: 'delete' }), undefined);
});
