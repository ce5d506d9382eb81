// The Runs view's model of a sweep (src/extension/sweeps), on a real sweep folder made and run
// by the real CLI: the group and its tasks (finished, pending, running), Stop Sweep (the task
// checkpoints, the runner ends), Resume Sweep (the stopped task resumes, the finished one is not
// rerun, the aggregate is written and the sweep panel's message validates), and the Slurm view
// of submitted tasks.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents } from '../src/protocol/events.ts';
import type { SweepTaskStatus } from '../src/protocol/sweep.ts';
import { parseSweepViewMessage } from '../src/protocol/sweepView.ts';
import { listRuns } from '../src/extension/runs/runStore.ts';
import {
  SweepStore,
  sweepMessageOf,
  sweepView,
  unfinishedTasks,
  type SweepView,
} from '../src/extension/sweeps/sweepStore.ts';
import { sweepRow, taskExtra, taskLabel } from '../src/extension/sweeps/sweepRows.ts';
import { plannedFolder, SweepRunner } from '../src/extension/sweeps/sweepRunner.ts';
import { cliPath, runCli, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

const config = smallConfig({
  data: { source: 'demo', trainLimit: 300, batchSize: 64 },
  train: { epochs: 3, logEvery: 2, checkpointEvery: 1 },
  student: { architecture: { type: 'mlp', hidden: [8] } },
  bench: { enabled: false },
  export: { onnx: false },
  cache: { dir: 'cache' },
});

let dir: string;
let runsDir: string;
let sweepDir: string;
const store = () => new SweepStore(() => [runsDir]);

async function view(): Promise<SweepView> {
  const s = store();
  await s.refresh();
  assert.equal(s.views.length, 1);
  return s.views[0];
}

const starts = (runDir: string) =>
  parseEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).filter((e) => e.type === 'run_started');

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 180_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await ok());) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(() => {
  dir = tempDir('sweep-tree');
  runsDir = path.join(dir, 'runs');
  writeConfig(dir, 'base', config);
  fs.writeFileSync(
    path.join(dir, 'temps.sweep.json'),
    JSON.stringify({ config: 'base.distill.json', name: 'temps', seeds: [0], grid: { 'distill.temperature': [1, 4] } }),
  );
  sweepDir = plannedFolder(runCli(['sweep', 'plan', 'temps.sweep.json'], dir));
  // Task 0 runs to the end, as one index of a Slurm array would.
  const r = runCli(['sweep', 'run', sweepDir, '--index', '0'], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('a sweep folder is one group: its finished task with its run, the other pending; it is no run of its own', async () => {
  assert.equal(path.dirname(sweepDir), runsDir);
  assert.deepEqual(listRuns(runsDir), [], 'the sweep folder is not listed as a run');
  const v = await view();
  assert.equal(v.dir, sweepDir);
  assert.deepEqual(
    v.tasks.map((t) => [t.task.index, t.state, t.run?.status]),
    [
      [0, 'finished', 'finished'],
      [1, 'pending', undefined],
    ],
  );
  assert.equal(taskLabel(v.tasks[0]), '#0 distill.temperature=1 · seed 0');
  assert.equal(taskLabel(v.tasks[1]), '#1 distill.temperature=4 · seed 0');
  assert.equal(taskExtra(v.tasks[1]), 'pending');
  const row = sweepRow(v);
  assert.equal(row.label, 'temps');
  assert.equal(row.description, 'grid: 2 settings × 1 seed · 1/2 finished');
  assert.equal(row.contextValue, 'sweep.unfinished');
  assert.ok(row.tooltip.some((l) => l.includes('`distill.temperature`')));
});

test('Stop Sweep: the running task checkpoints and stops, the runner ends; Resume Sweep resumes it and reruns nothing finished', async () => {
  const runner = new SweepRunner(() => ({ trainerPath: cliPath, nodePath: process.execPath }));
  const exits: Array<number | null> = [];
  runner.on('exited', (_d, code) => exits.push(code));
  runner.run(sweepDir);
  assert.deepEqual(runner.runningDirs, [sweepDir]);
  let live: SweepView | undefined;
  await until('task 1 to train', async () => {
    const v = await view();
    live = v;
    return v.tasks[1].state === 'running' && fs.existsSync(path.join(v.tasks[1].dir, 'events.jsonl'));
  });
  const row = sweepRow(live!);
  assert.equal(row.status, 'running');
  assert.equal(row.contextValue, 'sweep.running');
  assert.match(row.description, /1 running/);
  assert.equal(runner.stop(live!), 1);
  await until('the runner to end', () => exits.length > 0);
  assert.deepEqual(exits, [143], fs.readFileSync(path.join(sweepDir, 'sweep.log'), 'utf8'));
  const stopped = await view();
  assert.equal(stopped.tasks[1].state, 'stopped');
  assert.deepEqual(
    unfinishedTasks(stopped).map((t) => t.task.index),
    [1],
  );
  // The stopped runner aggregated what had finished.
  assert.equal(sweepRow(stopped).contextValue, 'sweep.unfinished.aggregated');
  assert.ok(fs.existsSync(path.join(stopped.tasks[1].dir, 'checkpoints')), 'a checkpoint was written');

  runner.run(sweepDir);
  await until('the resumed sweep to end', () => exits.length > 1);
  assert.equal(exits[1], 0, fs.readFileSync(path.join(sweepDir, 'sweep.log'), 'utf8'));
  const done = await view();
  assert.deepEqual(
    done.tasks.map((t) => t.state),
    ['finished', 'finished'],
  );
  assert.equal(starts(done.tasks[0].dir).length, 1, 'the finished task was not rerun');
  const resumed = starts(done.tasks[1].dir);
  assert.equal(resumed.length, 2);
  assert.equal((resumed[1] as { resumed: boolean }).resumed, true);
  const finalRow = sweepRow(done);
  assert.equal(finalRow.contextValue, 'sweep.finished.aggregated');
  // What the sweep panel is sent: the real aggregate, accepted by the webview's validation.
  const m = parseSweepViewMessage(JSON.parse(JSON.stringify(sweepMessageOf(done))));
  assert.ok(m, 'the sweep message validates');
  assert.equal(m.aggregate?.tasks.finished, 2);
  assert.ok(m.aggregate!.chosen === 0 || m.aggregate!.chosen === 1);
  assert.ok(m.aggregate!.points.some((p) => p.model === 'distilled'));
});

test('submitted tasks show their array job and Slurm state until their run exists', async () => {
  const v = await view();
  const plan = v.plan;
  // Task 0's run only: task 1 as before its run existed.
  const onlyFirst = new Map([[v.tasks[0].dir, v.tasks[0].run!]]);
  const submissions = [{ jobId: '41', submittedAt: '2026-01-01T00:00:00Z', indices: [0, 1], script: 'slurm/x.sbatch' }];
  const slurm = new Map<number, SweepTaskStatus>([
    [1, { index: 1, setting: 1, seed: 0, state: 'queued', slurmJob: '41_1', slurmState: 'PENDING' }],
  ]);
  const shown = sweepView(sweepDir, plan, onlyFirst, submissions, slurm);
  assert.deepEqual(
    shown.tasks.map((t) => [t.state, t.slurmJob, t.slurmState]),
    [
      ['finished', '41_0', undefined],
      ['queued', '41_1', 'PENDING'],
    ],
  );
  assert.equal(taskExtra(shown.tasks[1]), 'Slurm 41_1 PENDING');
  assert.match(sweepRow(shown).description, /1 queued/);
  assert.ok(sweepRow(shown).tooltip.some((l) => l === 'Slurm array job: 41'));
  // Slurm ended it badly before its run finished: failed.
  slurm.set(1, { index: 1, setting: 1, seed: 0, state: 'failed', slurmJob: '41_1', slurmState: 'TIMEOUT' });
  assert.equal(sweepView(sweepDir, plan, onlyFirst, submissions, slurm).tasks[1].state, 'failed');
  // Without a query yet, a submitted task is queued.
  assert.equal(sweepView(sweepDir, plan, onlyFirst, submissions).tasks[1].state, 'queued');
});
