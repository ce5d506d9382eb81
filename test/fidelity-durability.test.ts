/**
 * Durability of a run folder: checkpoints are pruned to the last `train.keepCheckpoints` of each
 * phase plus the best epoch's and the final one, and resume still works; atomic writes fsync the
 * file and then its folder (a rename is durable only once the folder is); config.json, which
 * resume reads, is written atomically. The fsyncs and renames are those of a real CLI run,
 * recorded by a preloaded tracer (test/helpers/fsTrace.cjs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import {
  cliPath,
  runCli,
  runFolders,
  signalStopped,
  smallConfig,
  startCli,
  stopWhen,
  tempDir,
  writeConfig,
} from './helpers/cli.ts';

const events = (run: string): RunEvent[] => parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));

const config = (keepCheckpoints: number, keepBestCheckpoint = true) =>
  smallConfig({
    backend: 'wasm',
    baseline: false,
    bench: { enabled: false },
    export: { onnx: false },
    data: { source: 'demo', trainLimit: 600, batchSize: 32 },
    cache: { teacherOutputs: false },
    train: { epochs: 5, logEvery: 4, checkpointEvery: 1, keepCheckpoints, keepBestCheckpoint },
  });

const checkpointsOf = (run: string) => fs.readdirSync(path.join(run, 'checkpoints', 'distill')).sort();

function finalSummary(run: string) {
  const done = events(run).find((e) => e.type === 'run_finished');
  assert.ok(done?.type === 'run_finished');
  return done.summary;
}

type Trace = Array<{ op: 'rename'; from: string; to: string } | { op: 'fsync'; path: string }>;

let reference: ReturnType<typeof finalSummary>;

test('keepCheckpoints 2: the final, the last 2 and the best epoch are kept; renames are followed by an fsync of their folder', () => {
  const dir = tempDir('prune');
  const traceFile = path.join(dir, 'fs-trace.jsonl');
  const r = spawnSync(
    process.execPath,
    [
      '--require',
      path.join(__dirname, 'helpers', 'fsTrace.cjs'),
      cliPath,
      'train',
      writeConfig(dir, 'prune', config(2)),
    ],
    { cwd: dir, encoding: 'utf8', env: { ...process.env, FS_TRACE: traceFile } },
  );
  assert.equal(r.status, 0, r.stderr);
  const run = runFolders(dir)[0];
  const finished = events(run).find((e) => e.type === 'phase_finished' && e.phase === 'distill');
  assert.ok(finished?.type === 'phase_finished');
  const best = `epoch-${String(finished.bestEpoch).padStart(4, '0')}`;
  // Epochs 1-4 end with a checkpoint, epoch 5 with the final one.
  const expected = [
    ...new Set(['epoch-0003', 'epoch-0004', 'final', ...(finished.bestEpoch < 5 ? [best] : [])]),
  ].sort();
  assert.deepEqual(checkpointsOf(run), expected, `best epoch ${finished.bestEpoch}`);
  reference = finalSummary(run);

  const trace = fs
    .readFileSync(traceFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l)) as Trace;
  const runDir = fs.realpathSync(run);
  /** The index of the rename into `target`, after which its folder must be fsynced before any other rename. */
  const durable = (target: string) => {
    const i = trace.findIndex((e) => e.op === 'rename' && path.resolve(dir, e.to) === target);
    assert.ok(i >= 0, `${target} was renamed into place`);
    const next = trace.slice(i + 1).find((e) => e.op === 'fsync' || e.op === 'rename');
    assert.deepEqual(
      next,
      { op: 'fsync', path: path.dirname(target) },
      `the folder of ${target} is fsynced right after`,
    );
    return i;
  };
  const configAt = durable(path.join(runDir, 'config.json'));
  const from = (trace[configAt] as { from: string }).from;
  assert.ok(
    trace.slice(0, configAt).some((e) => e.op === 'fsync' && e.path === path.resolve(dir, from)),
    'config.json was fsynced under its temp name before the rename',
  );
  durable(path.join(runDir, 'run.json'));
  const finalAt = durable(path.join(runDir, 'checkpoints', 'distill', 'final'));
  // The checkpoint's files are on disk before the folder appears under its name.
  const before = trace.slice(0, finalAt).flatMap((e) => (e.op === 'fsync' ? [e.path] : []));
  for (const f of ['state.json', 'optimizer.bin', 'model/model.json', 'model/weights.bin'])
    assert.ok(
      before.some((p) => p.endsWith(`/${f}`) && p.includes('/checkpoints/distill/.final.tmp-')),
      `${f} fsynced`,
    );
});

test('keepBestCheckpoint false: only the final and the last 2 remain', () => {
  const dir = tempDir('prune-nobest');
  assert.equal(runCli(['train', writeConfig(dir, 'prune', config(2, false))], dir).code, 0);
  const run = runFolders(dir)[0];
  assert.deepEqual(checkpointsOf(run), ['epoch-0003', 'epoch-0004', 'final']);
  assert.deepEqual(finalSummary(run), reference, 'retention does not change training');
});

test('keepCheckpoints 1, SIGTERM mid-phase, --resume: at most the latest and the best are left, and the run ends as the uninterrupted one', async () => {
  const dir = tempDir('prune-resume');
  const child = startCli(['train', writeConfig(dir, 'prune', config(1))], dir);
  const run = await stopWhen(
    child,
    dir,
    (es) =>
      es.filter((e) => e.type === 'checkpoint' && e.phase === 'distill').length >= 3 && es.at(-1)?.type === 'step',
  );
  const [code] = await signalStopped(child, 'SIGTERM');
  assert.equal(code, 143);
  const left = checkpointsOf(run);
  assert.ok(left.length <= 2, `latest + best at most: ${left.join(', ')}`);
  assert.match(left.at(-1)!, /^epoch-\d{4}-step-\d{6}$/, 'the stop checkpoint is the latest, kept');
  const resumed = runCli(['train', '--resume', run], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(finalSummary(run), reference);
  assert.ok(checkpointsOf(run).includes('final'));
  assert.ok(checkpointsOf(run).length <= 3);
});
