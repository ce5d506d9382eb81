// A real local sweep: 2 settings x 2 seeds with --parallel 2 on tiny data. One child is killed
// mid-run: the sweep resumes it and reruns nothing that finished; the teacher's outputs are
// computed once per data split; two processes given different indices (as a Slurm array runs
// them) share one sweep folder safely.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import type { SweepAggregate, SweepPlan } from '../src/protocol/sweep.ts';
import { runCli, smallConfig, startCli, tempDir, writeConfig } from './helpers/cli.ts';

const config = smallConfig({
  data: { source: 'demo', trainLimit: 300, batchSize: 64 },
  train: { epochs: 3, logEvery: 2, checkpointEvery: 1 },
  student: { architecture: { type: 'mlp', hidden: [8] } },
  bench: { enabled: false },
  export: { onnx: false },
  cache: { dir: 'cache' },
});

function events(runDir: string): RunEvent[] {
  const file = path.join(runDir, 'events.jsonl');
  return fs.existsSync(file) ? parseEvents(fs.readFileSync(file, 'utf8')) : [];
}

const starts = (runDir: string) => events(runDir).filter((e) => e.type === 'run_started');

let dir: string;
let sweepDir: string;
let plan: SweepPlan;
let output = '';
let exitCode: number | null;
let killedIndex = -1;

before(async () => {
  dir = tempDir('sweep-local');
  writeConfig(dir, 'base', config);
  fs.writeFileSync(
    path.join(dir, 'temps.sweep.json'),
    JSON.stringify({ config: 'base.distill.json', seeds: [0, 1], grid: { 'distill.temperature': [1, 4] } }),
  );
  const child = startCli(['sweep', 'run', 'temps.sweep.json', '--parallel', '2'], dir);
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit');
  // Kill the first trainer that has written a checkpoint, as a crash (or the OOM killer) would.
  const runs = path.join(dir, 'runs');
  for (const deadline = Date.now() + 240_000; killedIndex < 0 && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 100));
    const [name] = fs.existsSync(runs) ? fs.readdirSync(runs).filter((n) => !n.startsWith('.')) : [];
    if (!name || !fs.existsSync(path.join(runs, name, 'sweep.json'))) continue;
    for (const index of [0, 1, 2, 3]) {
      const runDir = path.join(runs, name, 'tasks', String(index));
      if (!events(runDir).some((e) => e.type === 'checkpoint')) continue;
      const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
      if (record.status !== 'running') continue;
      process.kill(record.pid, 'SIGKILL');
      killedIndex = index;
      break;
    }
  }
  [exitCode] = (await exited) as [number | null];
  const [name] = fs.readdirSync(runs).filter((n) => !n.startsWith('.'));
  sweepDir = path.join(runs, name);
  plan = JSON.parse(fs.readFileSync(path.join(sweepDir, 'sweep.json'), 'utf8'));
});

test('the sweep finishes every task in its own complete run folder, with the setting and seed of its plan', () => {
  assert.equal(exitCode, 0, output);
  assert.ok(killedIndex >= 0, 'a child was killed mid-run');
  assert.equal(plan.tasks.length, 4);
  const runIds = new Set<string>();
  for (const task of plan.tasks) {
    const runDir = path.join(sweepDir, task.dir);
    const record = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    assert.equal(record.status, 'finished', `task ${task.index}`);
    runIds.add(record.runId);
    const snapshot = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
    assert.equal(snapshot.train.seed, task.seed);
    assert.equal(snapshot.distill.temperature, plan.settings[task.setting].values['distill.temperature']);
    assert.ok(fs.existsSync(path.join(runDir, 'artifacts', 'student', 'model.json')), `task ${task.index} student`);
    const finished = events(runDir).filter((e) => e.type === 'run_finished');
    assert.equal(finished.length, 1, `task ${task.index} finished once`);
  }
  assert.equal(runIds.size, 4, 'four distinct run folders');
  assert.match(output, /running 4 tasks, 2 at a time, \d+ threads? each/);
  const aggregate: SweepAggregate = JSON.parse(fs.readFileSync(path.join(sweepDir, 'aggregate.json'), 'utf8'));
  assert.equal(aggregate.tasks.finished, 4);
});

test('the killed child is resumed from its checkpoint; the others ran once', () => {
  for (const task of plan.tasks) {
    const runDir = path.join(sweepDir, task.dir);
    const s = starts(runDir) as Array<Extract<RunEvent, { type: 'run_started' }>>;
    if (task.index === killedIndex) {
      assert.equal(s.length, 2, output);
      assert.equal(s[1].resumed, true);
    } else assert.equal(s.length, 1, `task ${task.index} started once`);
  }
  assert.match(output, new RegExp(`\\[task ${killedIndex}\\] was killed by SIGKILL .*resuming it`));
});

test('the teacher outputs are computed once per data split and read from the cache by every other task', () => {
  const computed: string[] = [];
  let read = 0;
  for (const task of plan.tasks)
    for (const e of events(path.join(sweepDir, task.dir)))
      if (e.type === 'teacher_outputs' && e.cache) {
        if (e.cache.hit) read++;
        else computed.push(e.cache.dir);
      }
  // Two seeds give two validation splits: two entries, each computed once.
  assert.equal(new Set(computed).size, 2);
  assert.equal(computed.length, 2);
  assert.equal(read, 3, 'the other setting of each seed, and the resumed child');
});

test('running the sweep again reruns nothing', () => {
  const sizes = plan.tasks.map((t) => fs.statSync(path.join(sweepDir, t.dir, 'events.jsonl')).size);
  const r = runCli(['sweep', 'run', sweepDir], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /4 of 4 tasks finished already \(not rerun\)/);
  assert.deepEqual(
    plan.tasks.map((t) => fs.statSync(path.join(sweepDir, t.dir, 'events.jsonl')).size),
    sizes,
  );
  const status = runCli(['sweep', 'status', sweepDir, '--json'], dir);
  assert.deepEqual(
    JSON.parse(status.stdout).tasks.map((t: { state: string }) => t.state),
    ['finished', 'finished', 'finished', 'finished'],
  );
});

test('two processes given different indices of one sweep each run exactly their task', async () => {
  const plainDir = tempDir('sweep-index');
  writeConfig(plainDir, 'base', { ...config, seeds: [0, 1] });
  const planned = runCli(['sweep', 'plan', 'base.distill.json'], plainDir);
  assert.equal(planned.code, 0, planned.stderr);
  const folder = planned.stdout.match(/ in (.*)$/m)![1];
  const a = startCli(['sweep', 'run', folder, '--index', '0'], plainDir);
  const b = startCli(['sweep', 'run', folder, '--index', '1'], plainDir);
  const [[codeA], [codeB]] = (await Promise.all([once(a, 'exit'), once(b, 'exit')])) as Array<[number]>;
  assert.deepEqual([codeA, codeB], [0, 0]);
  for (const index of [0, 1]) {
    const s = starts(path.join(folder, 'tasks', String(index)));
    assert.equal(s.length, 1, `task ${index} ran once`);
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(folder, 'tasks', String(index), 'config.json'), 'utf8')).train.seed,
      index,
    );
  }
  assert.equal(fs.existsSync(path.join(folder, 'aggregate.json')), false, 'an index run does not aggregate');
});
