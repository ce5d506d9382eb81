/**
 * `distill sweep submit --slurm` against a real Slurm: a one-node cluster on localhost
 * (scripts/slurm/start-local.sh: munged, slurmctld, slurmd) runs a 4-task job array of real
 * `distill` runs, which is then aggregated; resubmission sends only the unfinished task. Skipped,
 * with the reason, where Slurm is not installed or the test cannot run its daemons (not root).
 * The array script, the options and the "no Slurm" path are tested everywhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  arraySpec,
  expandArraySpec,
  readSubmissions,
  sbatchScript,
  slurmTaskStates,
  withSlurmStates,
  type SlurmTaskState,
} from '../src/core/sweep/slurm.ts';
import { readSweepPlan, taskStatuses } from '../src/core/sweep/folder.ts';
import type { SweepAggregate, SweepTaskStatus } from '../src/protocol/sweep.ts';
import { cliPath, root, runCli, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

const onPath = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

function slurmSkipReason(): string | false {
  const missing = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol'].filter((t) => !onPath(t));
  if (missing.length) return `Slurm is not installed (${missing.join(', ')} missing; apt-get install slurm-wlm munge)`;
  if (process.getuid?.() !== 0) return 'the local Slurm daemons need root';
  return false;
}

/** A tiny 2 settings x 2 seeds sweep, planned (not run) in a fresh folder. */
function planTinySweep(name: string): { dir: string; sweepDir: string } {
  const dir = tempDir(name);
  const file = writeConfig(
    dir,
    name,
    smallConfig({
      name,
      data: { source: 'demo', trainLimit: 200, batchSize: 64 },
      student: { architecture: { type: 'mlp', hidden: [8] } },
      train: { epochs: 2, logEvery: 5, optimizer: { type: 'adam', learningRate: 0.005 } },
      // No ONNX export or latency benchmark: the runs only need their accuracies here.
      bench: { enabled: false },
      export: { onnx: false },
      seeds: [0, 1],
      sweep: { grid: { 'distill.temperature': [1, 4] } },
    }),
  );
  const r = runCli(['sweep', 'plan', file], dir);
  assert.equal(r.code, 0, r.stderr);
  return { dir, sweepDir: /in (\S+)$/m.exec(r.stdout)![1] };
}

test('array syntax: indices compress into ranges with the %K limit, and expand back', () => {
  assert.equal(arraySpec([0, 1, 2, 3], 2), '0-3%2');
  assert.equal(arraySpec([7, 0, 1, 3, 5, 6]), '0-1,3,5-7');
  assert.equal(arraySpec([4]), '4');
  assert.deepEqual(expandArraySpec('0-1,3,5-7%2'), [0, 1, 3, 5, 6, 7]);
  assert.deepEqual(expandArraySpec('1-9:4'), [1, 5, 9]);
});

test("Slurm's states over the run folders': held tasks are queued or running wherever they run; Slurm's end reasons are kept", () => {
  const task = (index: number, state: SweepTaskStatus['state'], error?: string): SweepTaskStatus => ({
    index,
    setting: 0,
    seed: index,
    state,
    ...(error ? { error } : {}),
  });
  const q = (index: number, state: string): [number, SlurmTaskState] => [
    index,
    { job: `7_${index}`, state, source: 'squeue' },
  ];
  const merged = withSlurmStates(
    [
      task(0, 'pending'),
      // Running on another node: this machine sees a "running" run.json whose process it cannot find.
      task(1, 'stopped', 'the trainer ended without recording an outcome'),
      task(2, 'pending'),
      task(3, 'finished'),
      task(4, 'pending'),
    ],
    { byIndex: new Map([q(0, 'PENDING'), q(1, 'RUNNING'), q(2, 'TIMEOUT'), q(3, 'COMPLETED')]), notes: [] },
  );
  assert.deepEqual(
    merged.map((t) => [t.state, t.slurmJob, t.slurmState, t.error]),
    [
      ['queued', '7_0', 'PENDING', undefined],
      ['running', '7_1', 'RUNNING', undefined],
      ['failed', '7_2', 'TIMEOUT', 'Slurm ended array task 7_2: TIMEOUT'],
      ['finished', '7_3', 'COMPLETED', undefined],
      ['pending', undefined, undefined, undefined],
    ],
  );
});

test('the sbatch script: one array over the indices, absolute node and CLI, the options, the index from Slurm', () => {
  const { sweepDir } = planTinySweep('slurm-script');
  const plan = readSweepPlan(sweepDir);
  const script = sbatchScript(
    sweepDir,
    plan,
    [0, 2, 3],
    { partition: 'gpu', gres: 'gpu:1', time: '1:00:00', maxParallel: 2, extra: ['#SBATCH --mem=4G'] },
    { node: '/opt/node dir/bin/node', cli: '/shared/distill/dist/trainer/cli.js' },
  );
  const lines = script.split('\n');
  assert.equal(lines[0], '#!/bin/bash');
  for (const l of [
    '#SBATCH --array=0,2-3%2',
    '#SBATCH --partition=gpu',
    '#SBATCH --gres=gpu:1',
    '#SBATCH --time=1:00:00',
    '#SBATCH --mem=4G',
    `#SBATCH --output=${path.join(sweepDir, 'slurm', 'logs', '%A_%a.out')}`,
  ])
    assert.ok(lines.includes(l), `${l} in\n${script}`);
  assert.ok(
    lines.includes(
      `exec '/opt/node dir/bin/node' '/shared/distill/dist/trainer/cli.js' sweep run '${sweepDir}' --index "$SLURM_ARRAY_TASK_ID"`,
    ),
    script,
  );
  // Every #SBATCH line comes before the first command (sbatch stops reading them there).
  const firstCommand = lines.findIndex((l) => l !== '' && !l.startsWith('#'));
  assert.ok(lines.slice(firstCommand).every((l) => !l.startsWith('#SBATCH')));
});

test('without Slurm: one message naming sbatch, exit 2, nothing recorded, and no sweep folder left from a file', () => {
  const { dir, sweepDir } = planTinySweep('slurm-absent');
  // A PATH without Slurm (node is run by its absolute path).
  const env = { ...process.env, PATH: tempDir('no-slurm-path'), TF_CPP_MIN_LOG_LEVEL: '3' };
  const submit = (target: string) =>
    spawnSync(process.execPath, [cliPath, 'sweep', 'submit', target, '--slurm'], { cwd: dir, env, encoding: 'utf8' });
  const r = submit(sweepDir);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^distill: sbatch is not on the PATH: submit from a machine with Slurm/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.deepEqual(readSubmissions(sweepDir), []);
  assert.deepEqual(
    fs.readdirSync(path.join(sweepDir, 'slurm')).filter((f) => f.endsWith('.sbatch')),
    [],
  );
  // From a config: the sweep folder planned for the submission is removed again.
  const before = fs.readdirSync(path.join(dir, 'runs'));
  const fromFile = submit(path.join(dir, 'slurm-absent.distill.json'));
  assert.equal(fromFile.status, 2, fromFile.stderr);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'runs')), before);
});

test('bad submit options: one message naming the option, exit 2, before anything is planned', () => {
  const dir = tempDir('slurm-options');
  const file = writeConfig(dir, 'opts', smallConfig({ name: 'opts', seeds: [0, 1] }));
  for (const [args, message] of [
    [['--extra', 'mem=4G'], /--extra "mem=4G": expected one "#SBATCH <option>" line/],
    [['--partition', 'a b'], /--partition "a b": expected one word without spaces/],
    [['--max-parallel', '0'], /--max-parallel 0: expected a whole number of at least 1/],
  ] as const) {
    const r = runCli(['sweep', 'submit', file, '--slurm', ...args], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  assert.equal(fs.existsSync(path.join(dir, 'runs')), false);
  const noScheduler = runCli(['sweep', 'submit', file], dir);
  assert.equal(noScheduler.code, 2);
  assert.match(noScheduler.stderr, /--slurm/);
});

const skip = slurmSkipReason();
describe('a real one-node Slurm', { skip }, () => {
  const stateDir = process.env.DISTILL_SLURM_DIR ?? '/tmp/distill-slurm';
  let startedHere = false;
  let startedAt = 0;
  /** The sweeps this test submitted: their jobs are cancelled at the end, whether or not they finished. */
  const submitted: string[] = [];

  before(() => {
    startedAt = Date.now();
    const r = spawnSync('bash', [path.join(root, 'scripts', 'slurm', 'start-local.sh'), stateDir], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `start-local.sh failed:\n${r.stdout}\n${r.stderr}`);
    startedHere = !/already up/.test(r.stdout);
    process.env.SLURM_CONF = /^SLURM_CONF=(.+)$/m.exec(r.stdout)![1];
  });

  after(() => {
    const jobs = submitted.flatMap((dir) => readSubmissions(dir).map((s) => s.jobId));
    if (jobs.length) spawnSync('scancel', jobs);
    if (startedHere) spawnSync('bash', [path.join(root, 'scripts', 'slurm', 'stop-local.sh'), stateDir]);
    console.log(
      `slurm test: ${((Date.now() - startedAt) / 1000).toFixed(0)} s with the cluster (started here: ${startedHere})`,
    );
  });

  const status = (sweepDir: string): SweepTaskStatus[] => {
    const r = runCli(['sweep', 'status', sweepDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { tasks: SweepTaskStatus[] }).tasks;
  };

  /**
   * Polls the states `distill sweep status` prints (read in this process: a CLI start every 2 s
   * would compete with the runs for the CPU) until every task is finished, or one failed; 5 minutes at most.
   */
  async function waitFinished(sweepDir: string): Promise<SweepTaskStatus[]> {
    const deadline = Date.now() + 300_000;
    const plan = readSweepPlan(sweepDir);
    for (;;) {
      const tasks = withSlurmStates(taskStatuses(sweepDir, plan), slurmTaskStates(sweepDir));
      const failed = tasks.filter((t) => t.state === 'failed');
      assert.deepEqual(failed, [], fs.readdirSync(path.join(sweepDir, 'slurm', 'logs')).join(', '));
      if (tasks.every((t) => t.state === 'finished')) return tasks;
      assert.ok(Date.now() < deadline, `the array did not finish in 5 minutes: ${JSON.stringify(tasks)}`);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  test('sbatch rejecting the script: its own error text, exit 2, nothing recorded as submitted', () => {
    const { sweepDir } = planTinySweep('slurm-rejected');
    submitted.push(sweepDir);
    const r = runCli(['sweep', 'submit', sweepDir, '--slurm', '--partition', 'no-such-partition']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^distill: sbatch rejected .*slurm-rejected\.sbatch \(exit 1\): sbatch: error: .*partition/m,
    );
    assert.deepEqual(readSubmissions(sweepDir), []);
    assert.deepEqual(
      fs.readdirSync(path.join(sweepDir, 'slurm')).filter((f) => f.endsWith('.sbatch')),
      [],
    );
  });

  test('a 4-task array of real runs: queued, held tasks not submitted twice, run 2 at a time, aggregated; resubmission sends only the unfinished task', async () => {
    const { sweepDir } = planTinySweep('slurm-array');
    submitted.push(sweepDir);
    // Held, so the queue can be seen before anything runs.
    const first = runCli([
      'sweep',
      'submit',
      sweepDir,
      '--slurm',
      '--max-parallel',
      '2',
      '--time',
      '10:00',
      '--extra',
      '#SBATCH --hold',
    ]);
    assert.equal(first.code, 0, first.stderr);
    const [submission] = readSubmissions(sweepDir);
    assert.deepEqual(submission.indices, [0, 1, 2, 3]);
    const script = fs.readFileSync(submission.script, 'utf8');
    assert.match(script, /^#SBATCH --array=0-3%2$/m);
    assert.match(script, /^#SBATCH --hold$/m);
    assert.ok(script.includes(`'${process.execPath}' '${cliPath}' sweep run '${sweepDir}'`), script);
    assert.match(first.stdout, new RegExp(`submitted job array ${submission.jobId} \\(tasks 0-3%2\\)`));

    const queued = status(sweepDir);
    assert.deepEqual(
      queued.map((t) => [t.state, t.slurmJob, t.slurmState]),
      [0, 1, 2, 3].map((i) => ['queued', `${submission.jobId}_${i}`, 'PENDING']),
    );
    const again = runCli(['sweep', 'submit', sweepDir, '--slurm']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to submit: of 4 tasks, 4 still queued or running \(0-3\)/);
    assert.equal(readSubmissions(sweepDir).length, 1);

    const release = spawnSync('scontrol', ['release', submission.jobId], { encoding: 'utf8' });
    assert.equal(release.status, 0, release.stderr);
    const done = await waitFinished(sweepDir);
    assert.ok(done.every((t) => t.slurmJob?.startsWith(`${submission.jobId}_`)));
    // Each array task ran its own index: the run folder's config has that task's setting and seed.
    const plan = readSweepPlan(sweepDir);
    for (const task of plan.tasks) {
      const config = JSON.parse(fs.readFileSync(path.join(sweepDir, task.dir, 'config.json'), 'utf8'));
      assert.equal(config.train.seed, task.seed);
      assert.equal(config.distill.temperature, plan.settings[task.setting].values['distill.temperature']);
    }

    const agg = runCli(['sweep', 'aggregate', sweepDir, '--json']);
    assert.equal(agg.code, 0, agg.stderr);
    const aggregate = JSON.parse(agg.stdout) as SweepAggregate;
    assert.deepEqual(aggregate.tasks, { total: 4, finished: 4, failed: 0, unfinished: 0 });
    assert.notEqual(aggregate.chosen, null);
    assert.equal(aggregate.test?.gain?.n, 2);

    // Task 3 lost (its run folder emptied): a resubmission sends index 3 alone.
    const lost = plan.tasks[3];
    for (const f of fs.readdirSync(path.join(sweepDir, lost.dir)))
      fs.rmSync(path.join(sweepDir, lost.dir, f), { recursive: true });
    const resubmit = runCli(['sweep', 'submit', sweepDir, '--slurm']);
    assert.equal(resubmit.code, 0, resubmit.stderr);
    assert.match(resubmit.stdout, /\(tasks 3\).*left out: 3 finished/);
    const second = readSubmissions(sweepDir)[1];
    assert.deepEqual(second.indices, [3]);
    assert.match(second.script, /slurm-array-2\.sbatch$/);
    assert.match(fs.readFileSync(second.script, 'utf8'), /^#SBATCH --array=3$/m);
    await waitFinished(sweepDir);
    const final = status(sweepDir);
    assert.ok(final.every((t) => t.state === 'finished'));
    assert.equal(final[3].slurmJob, `${second.jobId}_3`);
    const table = runCli(['sweep', 'aggregate', sweepDir]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /4 of 4 tasks finished/);
  });
});
