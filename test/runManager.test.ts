import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { DequeuedError, RunManager, type RunOutcome } from '../src/extension/runs/runManager.ts';
import { readRun, isAlive } from '../src/extension/runs/runStore.ts';
import type { RunEvent } from '../src/protocol/events.ts';
import type { RunRecord } from '../src/protocol/run.ts';
import { processStamp, trainerLiveness } from '../src/core/run/processIdentity.ts';
import { requestStop, stopFileOf } from '../src/core/run/stopRequest.ts';
import { cliPath, runCli, startCli, tempDir, writeConfig, smallConfig } from './helpers/cli.ts';

// The extension's run manager with the real trainer process (node here; VS Code's runtime in the editor).
function manager(maxConcurrentRuns = 1) {
  return new RunManager({
    trainerPath: cliPath,
    nodePath: process.execPath,
    maxConcurrentRuns,
    pollMs: 100,
    env: { TF_CPP_MIN_LOG_LEVEL: '3' },
  });
}

function exited(m: RunManager, dir: string): Promise<number | null> {
  return ended(m, dir).then((e) => e.code);
}

/** The manager's account of a trainer's end: its exit code (null when not our child), message and outcome. */
function ended(
  m: RunManager,
  dir: string,
): Promise<{ code: number | null; message: string | undefined; outcome: RunOutcome }> {
  return new Promise((resolve) => {
    const on = (d: string, code: number | null, message: string | undefined, outcome: RunOutcome) => {
      if (d !== dir) return;
      m.off('exited', on);
      resolve({ code, message, outcome });
    };
    m.on('exited', on);
  });
}

const epochReached = (m: RunManager, dir: string, epoch: number) =>
  new Promise<void>((resolve) => {
    const on = (d: string, e: RunEvent) => {
      if (d !== dir || e.type !== 'epoch' || e.epoch < epoch) return;
      m.off('event', on);
      resolve();
    };
    m.on('event', on);
  });

const record = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;

const fast = (dir: string, name: string, overrides: Record<string, unknown> = {}) =>
  writeConfig(
    dir,
    name,
    smallConfig({
      backend: 'wasm',
      baseline: false,
      export: { onnx: false },
      bench: { enabled: false },
      name,
      ...overrides,
    }),
  );

test('a run started by the manager trains in the real trainer; its events arrive as they are written', async () => {
  const dir = tempDir('rm-start');
  const m = manager();
  const events: RunEvent[] = [];
  m.on('event', (_d, e) => events.push(e));
  const runDir = await m.start({ configFile: fast(dir, 'one'), runsDir: path.join(dir, 'runs'), name: 'one' });
  assert.equal(await exited(m, runDir), 0);
  assert.equal(events[0].type, 'run_started');
  assert.equal(events.at(-1)!.type, 'run_finished');
  assert.ok(events.some((e) => e.type === 'epoch'));
  const view = readRun(runDir)!;
  assert.equal(view.status, 'finished');
  assert.equal(view.progress, 1);
  assert.ok(view.bestAccuracy! > 0.4);
  assert.match(fs.readFileSync(path.join(runDir, 'trainer.log'), 'utf8'), /distilled/);
  // The trainer recorded which process it was: its pid and that pid's start stamp.
  const { pid, pidStart } = record(runDir);
  assert.equal(pid, (events[0] as Extract<RunEvent, { type: 'run_started' }>).pid);
  assert.match(pidStart ?? '', /^proc:[0-9a-f-]{36}:\d+$/);
  m.dispose();
});

test('maxConcurrentRuns queues the second run until the first ends', async () => {
  const dir = tempDir('rm-queue');
  const m = manager(1);
  const first = await m.start({ configFile: fast(dir, 'a'), runsDir: path.join(dir, 'runs'), name: 'a' });
  const second = m.start({ configFile: fast(dir, 'b'), runsDir: path.join(dir, 'runs'), name: 'b' });
  assert.equal(m.queued.length, 1, 'the second waits');
  assert.deepEqual(m.runningDirs, [first]);
  assert.equal(await exited(m, first), 0);
  const secondDir = await second;
  assert.equal(await exited(m, secondDir), 0);
  assert.equal(readRun(secondDir)!.status, 'finished');
  m.dispose();
});

test('stop writes stop.request: the trainer checkpoints and stops (no signal); a second stop changes nothing; resume queues behind maxConcurrentRuns', async () => {
  const dir = tempDir('rm-stop');
  const m = manager(1);
  const runDir = await m.start({
    configFile: fast(dir, 'long', { train: { epochs: 40, logEvery: 2 } }),
    runsDir: path.join(dir, 'runs'),
    name: 'long',
  });
  const events: RunEvent[] = [];
  m.on('event', (d, e) => d === runDir && events.push(e));
  await epochReached(m, runDir, 2);
  const done = ended(m, runDir);
  assert.equal(m.stop(runDir), 'requested');
  assert.ok(fs.existsSync(stopFileOf(runDir)), 'the request is a file in the run folder');
  assert.equal(m.isStopping(runDir), true);
  // A second click: no second signal that would make the trainer exit without its checkpoint.
  assert.equal(m.stop(runDir), 'already-stopping');
  const end = await done;
  assert.equal(end.outcome, 'stopped');
  assert.equal(end.code, 143);
  assert.equal(m.isStopping(runDir), false);
  const stopped = events.find((e) => e.type === 'run_stopped');
  assert.equal(
    stopped && stopped.type === 'run_stopped' && stopped.signal,
    'stop.request',
    'served from the stop file',
  );
  assert.equal(readRun(runDir)!.status, 'stopped');
  assert.ok(fs.readdirSync(path.join(runDir, 'checkpoints', 'distill')).some((n) => n.startsWith('epoch-')));
  assert.ok(!fs.existsSync(stopFileOf(runDir)), 'the trainer removed the served request');

  // Resume goes through the queue: with a run training, it waits for the slot.
  const other = await m.start({ configFile: fast(dir, 'other'), runsDir: path.join(dir, 'runs'), name: 'other' });
  const otherDone = exited(m, other);
  const dropped = m.resume(runDir);
  assert.deepEqual(m.runningDirs, [other]);
  assert.deepEqual(
    m.queued.map((q) => q.resumeDir),
    [runDir],
  );
  await assert.rejects(m.resume(runDir), /already queued/);
  // Stop on the queued resume takes it off the queue; the running run is untouched.
  assert.equal(m.stop(runDir), 'dequeued');
  await assert.rejects(dropped, DequeuedError);
  assert.equal(m.queued.length, 0);
  assert.ok(!fs.existsSync(stopFileOf(other)));
  const resumed = m.resume(runDir);
  assert.equal(m.queued.length, 1);
  assert.equal(await otherDone, 0);
  assert.equal(await resumed, runDir);
  const resumedEnd = ended(m, runDir);
  await assert.rejects(m.resume(runDir), /already running/);
  assert.equal((await resumedEnd).outcome, 'finished');
  assert.equal(readRun(runDir)!.status, 'finished');
  m.dispose();
});

test('a queued run is dequeued by its queue id; the running run goes on', async () => {
  const dir = tempDir('rm-dequeue');
  const m = manager(1);
  const first = await m.start({
    configFile: fast(dir, 'first', { train: { epochs: 8 } }),
    runsDir: path.join(dir, 'runs'),
    name: 'first',
  });
  const firstEnd = ended(m, first);
  const second = m.start({ configFile: fast(dir, 'second'), runsDir: path.join(dir, 'runs'), name: 'second' });
  const [queued] = m.queued;
  assert.equal(queued.name, 'second');
  assert.match(queued.id, /\S/);
  assert.equal(m.dequeue('no-such-entry'), false);
  assert.equal(m.dequeue(queued.id), true);
  await assert.rejects(second, DequeuedError);
  assert.equal(m.queued.length, 0);
  assert.deepEqual(m.runningDirs, [first]);
  assert.ok(!fs.existsSync(stopFileOf(first)), 'no stop was asked of the running run');
  assert.equal((await firstEnd).outcome, 'finished');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'runs')), [path.basename(first)], 'the dequeued run made no folder');
  m.dispose();
});

test('distill.nodePath: a queued run starts with the value current at its launch; the running one keeps its own', async () => {
  const dir = tempDir('rm-node');
  const m = manager(1);
  const first = await m.start({ configFile: fast(dir, 'first'), runsDir: path.join(dir, 'runs'), name: 'first' });
  const firstEnd = ended(m, first);
  const second = m.start({ configFile: fast(dir, 'second'), runsDir: path.join(dir, 'runs'), name: 'second' });
  const missing = path.join(dir, 'no-such-node');
  m.setNodePath(missing);
  assert.equal((await firstEnd).outcome, 'finished', 'the running trainer kept the Node it started with');
  const secondDir = await second;
  const secondEnd = await ended(m, secondDir);
  assert.equal(secondEnd.outcome, 'failed');
  assert.match(fs.readFileSync(path.join(secondDir, 'trainer.log'), 'utf8'), /failed to start the trainer: .*ENOENT/);
  assert.match(secondEnd.message ?? '', /no-such-node/);
  m.dispose();
});

test('a run outlives its manager (a window reload) and a new manager re-attaches without a second trainer', async () => {
  const dir = tempDir('rm-reload');
  const first = manager();
  const runDir = await first.start({
    configFile: fast(dir, 'survivor', { train: { epochs: 12 } }),
    runsDir: path.join(dir, 'runs'),
    name: 'survivor',
  });
  await new Promise<void>((resolve) => first.on('event', (d, e) => d === runDir && e.type === 'epoch' && resolve()));
  first.dispose(); // the extension host goes away; the detached trainer keeps going
  const pid = readRun(runDir)!.pid!;
  assert.ok(isAlive(pid));
  const second = manager();
  const seen: RunEvent[] = [];
  second.on('event', (_d, e) => seen.push(e));
  assert.equal(second.attach(runDir), true);
  assert.equal(second.attach(runDir), true, 'attaching twice is a no-op');
  assert.deepEqual(second.runningDirs, [runDir]);
  // Not our child: no exit code, and the outcome comes from what the run recorded.
  const end = await ended(second, runDir);
  assert.equal(end.code, null);
  assert.equal(end.outcome, 'finished');
  assert.equal(end.message, undefined);
  assert.equal(readRun(runDir)!.status, 'finished');
  assert.ok(seen.some((e) => e.type === 'run_finished'));
  assert.ok(!isAlive(pid));
  second.dispose();
});

test('bad input: the trainer refuses, the message comes back, and no run folder is left', async () => {
  const dir = tempDir('rm-bad');
  const m = manager();
  const runDir = await m.start({
    configFile: fast(dir, 'bad', { data: { source: 'demo', trainLimit: 40, batchSize: 64 } }),
    runsDir: path.join(dir, 'runs'),
    name: 'bad',
  });
  const [, code, message, outcome] = (await once(m, 'exited')) as [string, number, string, RunOutcome];
  assert.equal(code, 2);
  assert.equal(outcome, 'refused');
  assert.match(message, /leaves 40 training examples, fewer than one batch/);
  assert.ok(!fs.existsSync(runDir));
  m.dispose();
});

/** A process that is not a trainer (our own child, so the test can end it). */
function bystander() {
  const p = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
  return p;
}

/** A run folder whose run.json says `running` with the given process. */
function fakeRunning(dir: string, pid: number, pidStart: string | undefined): string {
  const runDir = path.join(dir, 'runs', 'phantom');
  fs.mkdirSync(runDir, { recursive: true });
  const now = new Date().toISOString();
  const rec: RunRecord = {
    runId: 'phantom',
    name: 'phantom',
    status: 'running',
    pid,
    pidStart,
    configFile: path.join(dir, 'phantom.distill.json'),
    startedAt: now,
    updatedAt: now,
  };
  fs.writeFileSync(path.join(runDir, 'run.json'), JSON.stringify(rec));
  return runDir;
}

test('a pid reused by another process (a reboot, a container restart) is no running run: not attached, never signalled', async () => {
  const dir = tempDir('rm-pid-reuse');
  const other = bystander();
  try {
    const pid = other.pid!;
    const stamp = processStamp(pid)!;
    assert.match(stamp, /^proc:/);
    // The trainer that wrote run.json had this pid in an earlier boot: the same pid, another stamp.
    const runDir = fakeRunning(dir, pid, stamp.replace(/:\d+$/, ':1'));
    assert.equal(trainerLiveness(readRun(runDir)!), 'gone');
    const view = readRun(runDir)!;
    assert.equal(view.status, 'stopped');
    assert.equal(view.interrupted, true);
    const m = manager();
    assert.equal(m.attach(runDir), false, 'not re-attached');
    assert.equal(m.stop(runDir), 'not-running');
    assert.equal(m.kill(runDir), false);
    assert.ok(!fs.existsSync(stopFileOf(runDir)));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(isAlive(pid), 'the unrelated process was not signalled');
    assert.equal(other.exitCode, null);
    // Another boot: the same start ticks under another boot id.
    const otherBoot = fakeRunning(
      dir,
      pid,
      stamp.replace(/^proc:[^:]+:/, 'proc:00000000-0000-0000-0000-000000000000:'),
    );
    assert.equal(readRun(otherBoot)!.status, 'stopped');
    m.dispose();
  } finally {
    other.kill('SIGKILL');
  }
});

test('the same process (pid and start stamp) is re-attached; ps start times identify it too; Kill Now ends it and reads "killed"', async () => {
  const dir = tempDir('rm-pid-same');
  const other = bystander();
  try {
    const pid = other.pid!;
    // The stamp macOS and other Unixes use (ps lstart): read here with Linux's ps.
    const ps = processStamp(pid, 'ps');
    assert.match(ps ?? '', /^ps:\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}$/);
    assert.equal(trainerLiveness({ pid, pidStart: ps }), 'alive');
    assert.equal(trainerLiveness({ pid, pidStart: ps!.replace(/\d{4}$/, '1999') }, { fresh: true }), 'gone');
    assert.equal(trainerLiveness({ pid }), 'pid-only', 'an older run.json without a stamp');
    const runDir = fakeRunning(dir, pid, processStamp(pid));
    assert.equal(readRun(runDir)!.status, 'running');
    const m = manager();
    assert.equal(m.attach(runDir), true);
    const end = ended(m, runDir);
    assert.equal(m.kill(runDir), true, 'a proven trainer may be killed (Kill Now)');
    assert.equal((await end).outcome, 'killed');
    m.dispose();
  } finally {
    other.kill('SIGKILL');
  }
});

test('the trainer polls its run folder for stop.request (the stop that works on Windows): checkpoint, stopped, exit 143; a leftover request does not stop the resume', async () => {
  const dir = tempDir('rm-stopfile');
  const runDir = path.join(dir, 'run');
  fs.mkdirSync(runDir);
  const child = startCli(['train', fast(dir, 'polled', { train: { epochs: 40, logEvery: 2 } }), '--run-dir', runDir]);
  const code = new Promise<number | null>((resolve) => child.on('exit', resolve));
  for (let i = 0; i < 600 && !/"type":"epoch"/.test(readText(path.join(runDir, 'events.jsonl'))); i++)
    await new Promise((r) => setTimeout(r, 100));
  requestStop(runDir, 'the test');
  assert.equal(await code, 143);
  const rec = record(runDir);
  assert.equal(rec.status, 'stopped');
  assert.ok(fs.readdirSync(path.join(runDir, 'checkpoints', 'distill')).some((n) => n.startsWith('epoch-')));
  const lastEvent = JSON.parse(readText(path.join(runDir, 'events.jsonl')).trim().split('\n').at(-1)!) as RunEvent;
  assert.equal(lastEvent.type, 'run_stopped');
  assert.equal(lastEvent.type === 'run_stopped' && lastEvent.signal, 'stop.request');
  assert.ok(!fs.existsSync(stopFileOf(runDir)), 'served, then removed');
  // A request left by a trainer killed before it could remove it is older than the next trainer: ignored.
  requestStop(runDir, 'a window long gone');
  const hourAgo = new Date(Date.now() - 3600_000);
  fs.utimesSync(stopFileOf(runDir), hourAgo, hourAgo);
  const resumed = runCli(['train', '--resume', runDir]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(record(runDir).status, 'finished');
  assert.ok(!fs.existsSync(stopFileOf(runDir)));
});

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
