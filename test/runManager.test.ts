import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { RunManager } from '../src/extension/runs/runManager.ts';
import { readRun, isAlive } from '../src/extension/runs/runStore.ts';
import type { RunEvent } from '../src/protocol/events.ts';
import { cliPath, tempDir, writeConfig, smallConfig } from './helpers/cli.ts';

// The extension's run manager with the real trainer process (node here; VS Code's runtime in the editor).
function manager(maxConcurrentRuns = 1) {
  return new RunManager({
    trainerPath: cliPath,
    nodePath: process.execPath,
    maxConcurrentRuns,
    stopGraceMs: 20000,
    pollMs: 100,
    env: { TF_CPP_MIN_LOG_LEVEL: '3' },
  });
}

function exited(m: RunManager, dir: string): Promise<number | null> {
  return new Promise((resolve) => {
    const on = (d: string, code: number | null) => {
      if (d !== dir) return;
      m.off('exited', on);
      resolve(code);
    };
    m.on('exited', on);
  });
}

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

test('stop asks for a checkpoint, then resume finishes the run in the same folder', async () => {
  const dir = tempDir('rm-stop');
  const m = manager();
  const runDir = await m.start({
    configFile: fast(dir, 'long', { train: { epochs: 40, logEvery: 2 } }),
    runsDir: path.join(dir, 'runs'),
    name: 'long',
  });
  await new Promise<void>((resolve) =>
    m.on('event', (d, e) => d === runDir && e.type === 'epoch' && e.epoch === 2 && resolve()),
  );
  const done = exited(m, runDir);
  m.stop(runDir);
  assert.equal(await done, 143);
  const stopped = readRun(runDir)!;
  assert.equal(stopped.status, 'stopped');
  assert.ok(fs.readdirSync(path.join(runDir, 'checkpoints', 'distill')).some((n) => n.startsWith('epoch-')));
  const resumed = exited(m, runDir);
  m.resume(runDir);
  assert.throws(() => m.resume(runDir), /already running/);
  assert.equal(await resumed, 0);
  assert.equal(readRun(runDir)!.status, 'finished');
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
  await once(second, 'exited');
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
  const [, code, message] = (await once(m, 'exited')) as [string, number, string];
  assert.equal(code, 2);
  assert.match(message, /leaves 40 training examples, fewer than one batch/);
  assert.ok(!fs.existsSync(runDir));
  m.dispose();
});
