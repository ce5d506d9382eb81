import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type RunEvent, type RunFinishedEvent } from '../src/protocol/events.ts';
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

const config = smallConfig({
  backend: 'wasm',
  train: { epochs: 5, logEvery: 2, checkpointEvery: 1 },
  student: { architecture: { type: 'mlp', hidden: [16], dropout: 0.2 } },
});

function events(run: string): RunEvent[] {
  return parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
}

function finalSummary(run: string) {
  const done = events(run).filter((e): e is RunFinishedEvent => e.type === 'run_finished');
  assert.equal(done.length, 1);
  return done[0].summary;
}

let reference: ReturnType<typeof finalSummary>;

test('an uninterrupted run (the reference)', () => {
  const dir = tempDir('reference');
  const r = runCli(['train', writeConfig(dir, 'ref', config)], dir);
  assert.equal(r.code, 0, r.stderr);
  reference = finalSummary(runFolders(dir)[0]);
});

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`${signal} mid-epoch, then --resume: the run ends with exactly the metrics of an uninterrupted one`, async () => {
    const dir = tempDir(`resume-${signal}`);
    const child = startCli(['train', writeConfig(dir, 'ref', config)], dir);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    // Stop inside the distillation phase, after its first checkpoint and in the middle of an epoch.
    const run = await stopWhen(
      child,
      dir,
      (es) => es.some((e) => e.type === 'checkpoint' && e.phase === 'distill') && es.at(-1)?.type === 'step',
    );
    const [code, sig] = await signalStopped(child, signal);
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    if (signal === 'SIGTERM') {
      assert.equal(code, 143, stderr);
      assert.equal(record.status, 'stopped');
      const stopped = events(run).at(-1)!;
      assert.equal(stopped.type, 'run_stopped');
      assert.ok(
        stopped.type === 'run_stopped' &&
          stopped.lastCheckpoint &&
          fs.existsSync(path.join(stopped.lastCheckpoint, 'state.json')),
      );
    } else {
      assert.equal(sig, 'SIGKILL');
      assert.equal(record.status, 'running'); // killed: nothing could record the end
    }
    // Checkpoints are whole folders or absent: no temp folder holds a state.json.
    const distillCkpts = fs.readdirSync(path.join(run, 'checkpoints', 'distill')).filter((n) => !n.startsWith('.'));
    for (const c of distillCkpts)
      assert.ok(fs.existsSync(path.join(run, 'checkpoints', 'distill', c, 'model', 'weights.bin')), c);

    const resumed = runCli(['train', '--resume', run], dir);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /\(resumed\)/);
    assert.equal(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status, 'finished');
    assert.deepEqual(finalSummary(run), reference);
    assert.equal(runFolders(dir).length, 1, 'resume continues in the same folder');
  });
}

test('--resume of a folder that is not a run exits 2', () => {
  const dir = tempDir('notrun');
  const r = runCli(['train', '--resume', dir], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is not a run folder/);
});

test('a born-again chain with a hint projection, stopped in its last generation: --resume restores the earlier generation and the projection and ends as an uninterrupted run', async () => {
  const chain = smallConfig({
    backend: 'wasm',
    baseline: false,
    bench: { enabled: false },
    export: { onnx: false },
    strategy: { type: 'born_again', generations: 2 },
    // Small batches: enough steps that the stop lands inside the last generation, not after it.
    data: { source: 'demo', trainLimit: 600, batchSize: 8 },
    distill: {
      method: 'combined',
      hardWeight: 0.5,
      terms: [
        { type: 'kd', weight: 0.5, temperature: 2 },
        { type: 'hint', weight: 0.1, student: 'dense_1', teacher: 'dense_1' },
      ],
    },
    train: { epochs: 3, logEvery: 2, checkpointEvery: 1 },
  });
  const refDir = tempDir('chain-reference');
  const r = runCli(['train', writeConfig(refDir, 'chain', chain)], refDir);
  assert.equal(r.code, 0, r.stderr);
  const chainReference = finalSummary(runFolders(refDir)[0]);
  assert.deepEqual(
    chainReference.map((s) => s.model),
    ['teacher', 'generation-1', 'distilled', 'ban-ensemble'],
  );

  const dir = tempDir('chain-resume');
  const child = startCli(['train', writeConfig(dir, 'chain', chain)], dir);
  const run = await stopWhen(
    child,
    dir,
    (es) => es.some((e) => e.type === 'checkpoint' && e.phase === 'distill') && es.at(-1)?.type === 'step',
  );
  const [code] = await signalStopped(child, 'SIGTERM');
  assert.equal(code, 143, 'stopped by the signal, not finished before it');
  const resumed = runCli(['train', '--resume', run], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(finalSummary(run), chainReference);
  // generation-1 was not trained again: its phase started once.
  assert.equal(events(run).filter((e) => e.type === 'phase_started' && e.phase === 'generation-1').length, 1);
});
