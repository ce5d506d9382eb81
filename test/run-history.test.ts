// The Run History: rows from real run.json files (a real trainer run), the sort of every column,
// the view state restored from untrusted input, and the validation of its messages.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';
import {
  HISTORY_COLUMNS,
  HISTORY_VERSION,
  historyRow,
  parseHistoryHostMessage,
  parseHistoryWebviewMessage,
  type HistoryRow,
} from '../src/protocol/history.ts';
import type { RunRecord } from '../src/protocol/run.ts';
import { parseConfigText } from '../src/core/config/load.ts';
import { runSetup } from '../src/core/run/runSetup.ts';
import { cellText, DEFAULT_SORT, nextSort, restoreState, sortRows } from '../webview/history/table.ts';

let runDir: string;
let record: RunRecord;

before(() => {
  // A combined objective (kd + dkd) with a seed of its own, benchmarked: every column has a value.
  const dir = tempDir('history');
  const file = writeConfig(
    dir,
    'history',
    smallConfig({
      name: 'history',
      distill: {
        method: 'combined',
        terms: [
          { type: 'kd', temperature: 2, weight: 0.5 },
          { type: 'dkd', alpha: 0.5 },
        ],
      },
      train: { epochs: 2, logEvery: 5, seed: 7 },
      backend: 'wasm',
      bench: { batchSizes: [1], minRuns: 3, minSeconds: 0.01, warmup: 1 },
    }),
  );
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 0, r.stderr);
  [runDir] = runFolders(dir);
  record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunRecord;
});

test('run.json of a finished run carries its setup and latency, and its row shows them', () => {
  assert.deepEqual(record.setup, { method: 'kd+dkd', strategy: 'single', seed: 7 });
  const row = historyRow(runDir, record);
  const scratch = record.summary!.find((s) => s.model === 'scratch')!;
  const distilled = record.summary!.find((s) => s.model === 'distilled')!;
  assert.equal(row.id, path.basename(runDir));
  assert.equal(row.name, 'history');
  assert.equal(row.status, 'finished');
  assert.equal(row.backend, 'wasm');
  assert.equal(row.accuracy, distilled.accuracy);
  assert.equal(row.accuracySplit, 'test');
  assert.equal(row.gain, distilled.accuracy - scratch.accuracy);
  const latency = record.latency!.find((l) => l.model === 'student' && l.batch === 1 && l.runtime.startsWith('onnx'))!;
  assert.equal(row.latencyMs, latency.p50Ms);
  assert.equal(row.latencyRuntime, latency.runtime);
  assert.equal(row.startedAt, record.startedAt);
  // What the host sends passes the webview's check unchanged.
  const sent = JSON.parse(JSON.stringify({ type: 'rows', v: HISTORY_VERSION, rows: [row] }));
  assert.deepEqual(parseHistoryHostMessage(sent)?.rows, [row]);
});

test('a run still training shows its best validation accuracy so far, and the status the Runs view gives it', () => {
  const running: RunRecord = {
    ...record,
    status: 'running',
    summary: undefined,
    latency: undefined,
    accuracy: { accuracy: 0.61, split: 'validation', phase: 'distill' },
  };
  const row = historyRow(runDir, running, 'stopped');
  assert.equal(row.status, 'stopped');
  assert.equal(row.accuracy, 0.61);
  assert.equal(row.accuracySplit, 'validation');
  assert.equal(row.gain, undefined);
  assert.equal(row.latencyMs, undefined);
  // An older run.json (no setup): its columns are empty, not wrong.
  const old = historyRow(runDir, { ...record, setup: undefined });
  assert.equal(old.method, undefined);
  assert.equal(cellText(old, 'method'), '–');
});

test('runSetup names each method: kd, none with label smoothing, a combined objective by its terms', () => {
  const base = smallConfig();
  const setup = (over: Record<string, unknown>) =>
    runSetup(
      parseConfigText(JSON.stringify({ ...base, ...over }), path.join(tempDir('setup'), 'x.distill.json')).config,
    );
  assert.deepEqual(setup({}), { method: 'kd', strategy: 'single', seed: 0 });
  assert.deepEqual(setup({ distill: { method: 'none', labelSmoothing: 0.1 } }), {
    method: 'none',
    strategy: 'single',
    seed: 0,
    labelSmoothing: 0.1,
  });
  assert.deepEqual(
    setup({
      distill: { method: 'combined', terms: [{ type: 'dkd' }, { type: 'kd' }, { type: 'dkd', alpha: 0.5 }] },
      strategy: { type: 'born_again', generations: 2 },
    }),
    { method: 'dkd+kd', strategy: 'born_again', seed: 0 },
  );
});

const rows: HistoryRow[] = [
  {
    dir: '/r/a',
    id: 'a',
    name: 'alpha',
    status: 'finished',
    method: 'kd',
    strategy: 'single',
    seed: 2,
    backend: 'wasm',
    accuracy: 0.81,
    accuracySplit: 'test',
    gain: 0.01,
    latencyMs: 0.2,
    startedAt: '2026-12-01T10:00:00.000Z',
  },
  {
    dir: '/r/b',
    id: 'b',
    name: 'Beta',
    status: 'running',
    method: 'hint+kd',
    strategy: 'mutual',
    seed: 10,
    backend: 'webgpu',
    accuracy: 0.7,
    accuracySplit: 'validation',
    startedAt: '2026-12-01T12:00:00.000Z',
  },
  { dir: '/r/c', id: 'c', name: 'gamma', status: 'failed', startedAt: '2026-12-01T11:00:00.000Z' },
  {
    dir: '/r/d',
    id: 'd',
    name: 'delta',
    status: 'finished',
    method: 'dkd',
    strategy: 'single',
    seed: 1,
    backend: 'tensorflow',
    accuracy: 0.83,
    accuracySplit: 'test',
    gain: -0.004,
    latencyMs: 0.15,
    startedAt: '2026-12-01T09:00:00.000Z',
  },
];
const ids = (list: HistoryRow[]) => list.map((r) => r.id).join('');

test('every column sorts both ways; rows without a value go last either way', () => {
  // Worked out by hand from the rows above; ties (and rows without a value) newest first.
  const expected: Record<(typeof HISTORY_COLUMNS)[number], [ascending: string, descending: string]> = {
    name: ['abdc', 'cdba'],
    method: ['dbac', 'abdc'],
    strategy: ['badc', 'adbc'],
    seed: ['dabc', 'badc'],
    backend: ['dabc', 'badc'],
    status: ['cadb', 'badc'],
    accuracy: ['badc', 'dabc'],
    gain: ['dabc', 'adbc'],
    latency: ['dabc', 'adbc'],
    started: ['dacb', 'bcad'],
  };
  for (const column of HISTORY_COLUMNS) {
    const [ascending, descending] = expected[column];
    assert.equal(ids(sortRows(rows, { column, descending: false })), ascending, `${column} ascending`);
    assert.equal(ids(sortRows(rows, { column, descending: true })), descending, `${column} descending`);
  }
  // The input order does not matter.
  assert.equal(ids(sortRows([...rows].reverse(), DEFAULT_SORT)), 'bcad');
});

test('a header click flips the direction of its column; a new column starts best first for numbers that rank', () => {
  assert.deepEqual(nextSort(DEFAULT_SORT, 'started'), { column: 'started', descending: false });
  assert.deepEqual(nextSort(DEFAULT_SORT, 'accuracy'), { column: 'accuracy', descending: true });
  assert.deepEqual(nextSort(DEFAULT_SORT, 'name'), { column: 'name', descending: false });
  assert.equal(cellText(rows[3], 'gain'), '-0.40');
  assert.equal(cellText(rows[0], 'gain'), '+1.00');
  assert.equal(cellText(rows[0], 'accuracy'), '81.00%');
});

test('the saved view state is read back defensively', () => {
  assert.deepEqual(restoreState(undefined), { sort: DEFAULT_SORT, selected: [] });
  assert.deepEqual(restoreState({ sort: { column: 'gain', descending: true }, selected: ['/r/a', 3] }), {
    sort: { column: 'gain', descending: true },
    selected: ['/r/a'],
  });
  assert.deepEqual(restoreState({ sort: { column: 'constructor' } }).sort, DEFAULT_SORT);
});

test('messages are validated on both sides', () => {
  assert.deepEqual(parseHistoryWebviewMessage({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseHistoryWebviewMessage({ type: 'open', dirs: ['/r/a', '/r/a', '/r/b'] }), {
    type: 'open',
    dirs: ['/r/a', '/r/b'],
  });
  for (const bad of [
    null,
    'ready',
    { type: 'open', dirs: [] },
    { type: 'open', dirs: ['/r/a', 4] },
    { type: 'open', dirs: '/r/a' },
    { type: 'open', dirs: Array.from({ length: 51 }, (_, i) => `/r/${i}`) },
    { type: 'reveal' },
    { type: 'delete', dir: '/r/a' },
  ])
    assert.equal(parseHistoryWebviewMessage(bad), undefined, JSON.stringify(bad));
  const good = { type: 'rows', v: HISTORY_VERSION, rows };
  assert.deepEqual(parseHistoryHostMessage(good)?.rows, rows);
  for (const bad of [
    { ...good, v: HISTORY_VERSION + 1 },
    { ...good, rows: [{ ...rows[0], accuracy: 'high' }] },
    { ...good, rows: [{ ...rows[0], accuracy: Number.NaN }] },
    { ...good, rows: [{ ...rows[0], accuracySplit: 'train' }] },
    { ...good, rows: [{ id: 'x', name: 'x', status: 'finished' }] },
  ])
    assert.equal(parseHistoryHostMessage(bad), undefined, JSON.stringify(bad).slice(0, 80));
});
