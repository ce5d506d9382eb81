// SIGTERM stops a whole local sweep: every running task checkpoints and stops, and running the
// sweep folder again resumes them from their checkpoints to the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import { requestStop } from '../src/core/run/stopRequest.ts';
import { runCli, smallConfig, startCli, tempDir, writeConfig } from './helpers/cli.ts';

function events(runDir: string): RunEvent[] {
  const file = path.join(runDir, 'events.jsonl');
  return fs.existsSync(file) ? parseEvents(fs.readFileSync(file, 'utf8')) : [];
}

test('SIGTERM stops every task at a checkpoint; the next sweep run resumes them', async () => {
  const dir = tempDir('sweep-stop');
  writeConfig(
    dir,
    'base',
    smallConfig({
      data: { source: 'demo', trainLimit: 1000, batchSize: 32 },
      train: { epochs: 20, logEvery: 10, checkpointEvery: 1 },
      student: { architecture: { type: 'mlp', hidden: [8] } },
      bench: { enabled: false },
      export: { onnx: false },
      cache: { dir: 'cache' },
      seeds: [0, 1],
    }),
  );
  const planned = runCli(['sweep', 'plan', 'base.distill.json'], dir);
  assert.equal(planned.code, 0, planned.stderr);
  const folder = planned.stdout.match(/ in (.*)$/m)![1];
  const tasks = [0, 1].map((i) => path.join(folder, 'tasks', String(i)));
  const child = startCli(['sweep', 'run', folder, '--parallel', '2'], dir);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit');
  // Each task is frozen (SIGSTOP, by the pid its run_started event records) at its first checkpoint,
  // so neither can finish before the sweep is stopped, however fast this machine trains.
  const pidOf = (t: string) => {
    const started = events(t).find((e) => e.type === 'run_started');
    return started?.type === 'run_started' ? started.pid : undefined;
  };
  const frozen = new Map<string, number>();
  for (const deadline = Date.now() + 240_000; Date.now() < deadline && frozen.size < tasks.length;) {
    await new Promise((r) => setTimeout(r, 20));
    for (const t of tasks) {
      const pid = pidOf(t);
      if (pid !== undefined && !frozen.has(t) && events(t).some((e) => e.type === 'checkpoint')) {
        process.kill(pid, 'SIGSTOP');
        frozen.set(t, pid);
      }
    }
  }
  assert.equal(frozen.size, tasks.length, `both tasks reached a checkpoint\n${output}`);
  child.kill('SIGTERM');
  // The sweep passes SIGTERM on to its tasks; they act on it once continued.
  for (const deadline = Date.now() + 60_000; !/stopping the sweep/.test(output) && Date.now() < deadline;)
    await new Promise((r) => setTimeout(r, 20));
  for (const pid of frozen.values()) process.kill(pid, 'SIGCONT');
  const [code] = (await exited) as [number];
  assert.equal(code, 143, output);
  assert.match(output, /stopping the sweep: 2 running tasks checkpoint and stop/);
  assert.match(output, new RegExp(`resume with: distill sweep run ${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  for (const t of tasks) {
    assert.equal(JSON.parse(fs.readFileSync(path.join(t, 'run.json'), 'utf8')).status, 'stopped', t);
    assert.ok(
      events(t).some((e) => e.type === 'run_stopped'),
      t,
    );
  }
  // A stop request written as a task stopped (Stop Sweep writes one, the stopping runner another)
  // outlives its trainer: it must not stop the trainer that resumes the task a moment later.
  for (const t of tasks) requestStop(t, 'a stop that came as the task stopped');
  const resumed = runCli(['sweep', 'run', folder], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  for (const t of tasks) {
    const starts = events(t).filter((e) => e.type === 'run_started') as Array<
      Extract<RunEvent, { type: 'run_started' }>
    >;
    assert.deepEqual(
      starts.map((s) => s.resumed),
      [false, true],
    );
    assert.equal(JSON.parse(fs.readFileSync(path.join(t, 'run.json'), 'utf8')).status, 'finished');
  }
});
