// How the editor reads runs: one parsing policy for events.jsonl (a bad line is skipped and
// reported with its line number, the rest kept), the async tail with byte offsets, the dashboard
// feed (every event once, nothing while hidden, then only what follows), the Runs view from
// run.json alone (which the trainer fills with what the tree shows), on runs of the real trainer.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import { EventLineReader, readEventsText } from '../src/protocol/eventLines.ts';
import { foldRun, recordView, type RunRecord } from '../src/protocol/run.ts';
import type { HostMessage } from '../src/protocol/messages.ts';
import { EventsTail } from '../src/extension/runs/eventsTail.ts';
import { readRun, RunStore } from '../src/extension/runs/runStore.ts';
import { DashboardFeed } from '../src/extension/dashboard/feed.ts';
import { RunFolder } from '../src/core/run/runFolder.ts';
import { createDashboard, receive, shownStatus } from '../webview/state.ts';
import { runCli, tempDir, writeConfig, smallConfig, runFolders } from './helpers/cli.ts';

let finished: { dir: string; text: string; events: RunEvent[] };
let failed: { dir: string; events: RunEvent[] };

function record(key: string, config: Record<string, unknown>, code: number) {
  const dir = tempDir(`events-${key}`);
  const r = runCli(['train', writeConfig(dir, key, smallConfig({ backend: 'wasm', ...config }))], dir);
  assert.equal(r.code, code, r.stderr);
  const [run] = runFolders(dir);
  const text = fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8');
  return { dir: run, text, events: parseEvents(text) };
}

before(() => {
  finished = record(
    'finished',
    { export: { onnx: false }, bench: { enabled: false }, train: { epochs: 3, logEvery: 2 } },
    0,
  );
  failed = record(
    'failed',
    {
      export: { onnx: false },
      bench: { enabled: false },
      train: { epochs: 3, logEvery: 1, optimizer: { type: 'sgd', learningRate: 1e12, momentum: 0 } },
    },
    1,
  );
});

/** A copy of a run folder whose events.jsonl has `bad` in place of its line `at` (1-based). */
function corrupted(at: number, bad = '{"v":1,"t":"2026-01-01T00:00:00Z","type":"epo'): { dir: string; text: string } {
  const dir = path.join(tempDir('events-corrupt'), path.basename(finished.dir));
  fs.cpSync(finished.dir, dir, { recursive: true });
  const lines = finished.text.split('\n');
  lines.splice(at - 1, 1, bad);
  const text = lines.join('\n');
  fs.writeFileSync(path.join(dir, 'events.jsonl'), text);
  return { dir, text };
}

test('a corrupt line in the middle: every other event is kept, the line is reported with its number', () => {
  const at = Math.floor(finished.events.length / 2);
  const { text } = corrupted(at);
  const { events, problems, offset } = readEventsText(text);
  assert.equal(events.length, finished.events.length - 1);
  assert.deepEqual(events, [...finished.events.slice(0, at - 1), ...finished.events.slice(at)]);
  assert.deepEqual(problems, [{ line: at, message: `events line ${at} is not valid JSON; it was skipped` }]);
  assert.equal(offset, Buffer.byteLength(text));
  // The fold of what was read: the run still reads finished, with its summary.
  assert.equal(foldRun(events).status, 'finished');
  // Another protocol version is skipped the same way, and named.
  const other = readEventsText(`${JSON.stringify(finished.events[0])}\n{"v":99,"t":"x","type":"warning"}\n`);
  assert.equal(other.events.length, 1);
  assert.match(other.problems[0].message, /line 2 has version 99/);
});

test('the line reader: bytes in pieces of any size (UTF-8 split anywhere) read as the whole; a torn last line waits', () => {
  const text = `${finished.text}{"v":1,"t":"x","type":"warning","message":"größer als 1 µs"}\n{"v":1,"t":"x","ty`;
  const bytes = Buffer.from(text);
  const whole = new EventLineReader().push(bytes);
  for (const size of [1, 2, 3, 7, 64, 1000]) {
    const reader = new EventLineReader();
    const events: RunEvent[] = [];
    for (let i = 0; i < bytes.length; i += size) events.push(...reader.push(bytes.subarray(i, i + size)).events);
    assert.deepEqual(events, whole.events, `pieces of ${size}`);
    assert.equal(reader.offset, bytes.length - '{"v":1,"t":"x","ty'.length, 'the torn line is not read');
  }
  assert.equal((whole.events.at(-1) as Extract<RunEvent, { type: 'warning' }>).message, 'größer als 1 µs');
});

test('the tail: async reads of what was appended, contiguous byte ranges, line numbers that go on', async () => {
  const dir = tempDir('events-tail');
  const file = path.join(dir, 'events.jsonl');
  const tail = new EventsTail(file);
  assert.deepEqual(await tail.read(), { from: 0, to: 0, events: [], problems: [] }, 'no file yet');
  const lines = finished.text.split('\n').filter(Boolean);
  fs.writeFileSync(file, `${lines.slice(0, 3).join('\n')}\n${lines[3].slice(0, 10)}`);
  const [a, b] = await Promise.all([tail.read(), tail.read()]); // overlapping asks run one after the other
  assert.equal(a.events.length, 3);
  assert.deepEqual({ from: b.from, to: b.to, n: b.events.length }, { from: a.to, to: a.to, n: 0 });
  fs.appendFileSync(file, `${lines[3].slice(10)}\nnot json\n${lines.slice(4).join('\n')}\n`);
  const c = await tail.read();
  assert.equal(c.from, a.to);
  assert.equal(c.to, fs.statSync(file).size);
  assert.deepEqual([...a.events, ...c.events], parseEvents(`${lines.join('\n')}\n`));
  assert.deepEqual(c.problems, [{ line: 5, message: 'events line 5 is not valid JSON; it was skipped' }]);
  assert.deepEqual(tail.problems, c.problems);
});

test('the dashboard feed: events read before and during init are sent once; the webview drops a batch it has', async () => {
  const dir = path.join(tempDir('events-feed'), path.basename(finished.dir));
  fs.cpSync(finished.dir, dir, { recursive: true });
  const file = path.join(dir, 'events.jsonl');
  const lines = finished.text.split('\n').filter(Boolean);
  const warning = (n: number) => JSON.stringify({ v: 1, t: 'x', type: 'warning', message: `warning ${n}` });
  const half = Math.floor(lines.length / 2);
  fs.writeFileSync(file, `${[...lines.slice(0, half), warning(1)].join('\n')}\n`);
  const posted: HostMessage[] = [];
  const feed = new DashboardFeed({ dirs: [dir], post: (m) => posted.push(m), isLive: () => true, batchMs: 10_000 });
  // A live event arrives before the webview is ready (the old host kept it and sent it after the init too).
  feed.notify(dir);
  await feed.init();
  fs.appendFileSync(file, `${[warning(2), ...lines.slice(half)].join('\n')}\n`);
  feed.notify(dir);
  await feed.flush();
  await feed.flush(); // nothing new: nothing sent
  assert.deepEqual(
    posted.map((m) => m.type),
    ['init', 'events'],
  );
  const d = createDashboard(
    () => {},
    () => {},
  );
  for (const m of posted) assert.notEqual(receive(d, m), 'gap');
  // The same batch again (the old attach replayed from byte 0) changes nothing.
  assert.equal(receive(d, posted[1]), 'ignored');
  const expected = parseEvents(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(d.runs.get(dir)!.state, foldRun(expected));
  assert.deepEqual(d.runs.get(dir)!.state.warnings, ['warning 1', 'warning 2']);
  feed.dispose();
});

test('the dashboard feed: nothing while hidden; shown, only the lines after what the webview has', async () => {
  const dir = path.join(tempDir('events-hidden'), path.basename(finished.dir));
  fs.cpSync(finished.dir, dir, { recursive: true });
  const file = path.join(dir, 'events.jsonl');
  const lines = finished.text.split('\n').filter(Boolean);
  fs.writeFileSync(file, `${lines.slice(0, 5).join('\n')}\n`);
  const posted: HostMessage[] = [];
  let live = true;
  const feed = new DashboardFeed({ dirs: [dir], post: (m) => posted.push(m), isLive: () => live, batchMs: 10_000 });
  await feed.init();
  const initOffset = (posted[0] as Extract<HostMessage, { type: 'init' }>).runs[0].offset;
  feed.setVisible(false);
  fs.appendFileSync(file, `${lines.slice(5, 9).join('\n')}\n`);
  feed.notify(dir);
  await feed.flush();
  fs.appendFileSync(file, `${lines.slice(9).join('\n')}\n`);
  feed.notify(dir);
  await feed.flush();
  assert.equal(posted.length, 1, 'nothing is sent to a hidden panel');
  feed.setVisible(true);
  await feed.flush();
  assert.equal(posted.length, 2);
  const batch = posted[1] as Extract<HostMessage, { type: 'events' }>;
  assert.equal(batch.from, initOffset);
  assert.equal(batch.to, fs.statSync(file).size);
  assert.equal(batch.events.length, lines.length - 5);
  // The process ending is sent even without new lines.
  live = false;
  feed.notify(dir);
  await feed.flush();
  assert.deepEqual(
    posted.slice(2).map((m) => m.type === 'events' && [m.from === m.to, m.live]),
    [[true, false]],
  );
  feed.dispose();
});

test('a corrupt middle line in the dashboard: the run is shown with the problem; events stopping short with the process gone read interrupted', async () => {
  const at = Math.floor(finished.events.length / 2);
  const { dir } = corrupted(at);
  const posted: HostMessage[] = [];
  const feed = new DashboardFeed({ dirs: [dir], post: (m) => posted.push(m), isLive: () => false });
  const noted: number[] = [];
  await new DashboardFeed({
    dirs: [dir],
    post: () => {},
    isLive: () => false,
    onProblems: (_d, p) => noted.push(...p.map((x) => x.line)),
  }).init();
  assert.deepEqual(noted, [at]);
  await feed.init();
  feed.dispose();
  const d = createDashboard(
    () => {},
    () => {},
  );
  receive(d, posted[0]);
  const run = d.runs.get(dir)!;
  assert.equal(run.state.events, finished.events.length - 1);
  assert.deepEqual(
    d.problems.get(dir)!.map((p) => p.line),
    [at],
  );
  assert.equal(shownStatus(d, run), 'finished');
  // A run whose events end mid-way: running while its trainer lives, interrupted once it is gone.
  const cut = finished.events.findIndex((e) => e.type === 'epoch') + 1;
  receive(d, {
    type: 'init',
    v: 2,
    runs: [{ dir, id: 'x', events: finished.events.slice(0, cut), offset: 0, problems: [], live: true }],
  });
  assert.equal(shownStatus(d, d.runs.get(dir)!), 'running');
  receive(d, { type: 'events', v: 2, dir, from: 0, to: 0, events: [], problems: [], live: false });
  assert.equal(shownStatus(d, d.runs.get(dir)!), 'interrupted');
});

test('run.json carries what the Runs view shows (progress, accuracy, planned epochs): the tree reads no events', () => {
  const record = JSON.parse(fs.readFileSync(path.join(failed.dir, 'run.json'), 'utf8')) as RunRecord;
  const fold = foldRun(failed.events);
  assert.equal(record.status, 'failed');
  assert.deepEqual(
    JSON.parse(
      JSON.stringify({
        phases: record.phases,
        epochs: record.epochs,
        progress: record.progress,
        accuracy: record.accuracy,
      }),
    ),
    JSON.parse(JSON.stringify(recordView(fold))),
  );
  assert.equal(typeof record.progress, 'number');
  assert.equal(record.epochs, 3);
  // The events file can be unreadable: the tree's numbers come from run.json.
  const dir = path.join(tempDir('events-norecord'), path.basename(failed.dir));
  fs.cpSync(failed.dir, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'events.jsonl'), 'garbage\n');
  const view = readRun(dir)!;
  assert.equal(view.progress, record.progress);
  assert.equal(view.epochs, record.epochs);
});

test('the run store: async refresh of run.json files; changed only when what the tree shows changed', async () => {
  const runsDir = tempDir('events-store');
  const a = path.join(runsDir, 'a');
  const b = path.join(runsDir, 'b');
  fs.cpSync(finished.dir, a, { recursive: true });
  fs.cpSync(failed.dir, b, { recursive: true });
  fs.mkdirSync(path.join(runsDir, 'not-a-run'));
  const store = new RunStore(() => [runsDir]);
  assert.equal(store.runs.length, 0);
  assert.equal(await store.refresh(), true);
  assert.deepEqual(store.runs.map((r) => [path.basename(r.dir), r.status]).sort(), [
    ['a', 'finished'],
    ['b', 'failed'],
  ]);
  assert.equal(await store.refresh(), false, 'nothing changed');
  const [x, y] = await Promise.all([store.refresh(), store.refresh()]);
  assert.deepEqual([x, y], [false, false]);
  const rec = JSON.parse(fs.readFileSync(path.join(b, 'run.json'), 'utf8')) as RunRecord;
  fs.writeFileSync(path.join(b, 'run.json'), JSON.stringify({ ...rec, error: 'another reason' }));
  assert.equal(await store.refresh(), true);
  assert.equal(store.runs.find((r) => r.dir === b)!.error, 'another reason');
  assert.equal(store.noteProblems(a, [{ line: 3, message: 'events line 3 is not valid JSON; it was skipped' }]), true);
  assert.equal(store.noteProblems(a, [{ line: 3, message: 'again' }]), false, 'known already');
  assert.deepEqual(
    store.runs.find((r) => r.dir === a)!.problems!.map((p) => p.line),
    [3],
  );
  fs.rmSync(a, { recursive: true });
  assert.equal(await store.refresh(), true);
  assert.deepEqual(
    store.runs.map((r) => r.dir),
    [b],
  );
});

test('a run folder reopened after a torn write (a crash mid-line): the next event is a line of its own', () => {
  const dir = tempDir('events-torn');
  const file = path.join(dir, 'events.jsonl');
  const first = JSON.stringify(finished.events[0]);
  fs.writeFileSync(file, `${first}\n{"v":1,"t":"x","type":"epo`);
  const folder = new RunFolder(dir);
  folder.append({ type: 'warning', message: 'resumed' });
  folder.close();
  const { events, problems } = readEventsText(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(
    events.map((e) => e.type),
    ['run_started', 'warning'],
  );
  assert.deepEqual(
    problems.map((p) => p.line),
    [2],
  );
  // An intact file gets no extra line.
  const again = new RunFolder(dir);
  again.close();
  assert.equal(
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l === '').length,
    1,
  );
});
