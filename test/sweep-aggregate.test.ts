/**
 * aggregate.json and the sweep table from a real sweep: 2 settings x 2 seeds trained by the CLI
 * (`distill sweep run --parallel 2`). Copies of its task folders then get planted validation or
 * test accuracies (their events rewritten), to show that the choice follows validation and that
 * no test accuracy can move it.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { aggregateSweep, computeAggregate } from '../src/core/sweep/aggregate.ts';
import { readSweepPlan } from '../src/core/sweep/folder.ts';
import { meanSd, pairedInterval } from '../src/core/stats.ts';
import { formatSweepAggregate } from '../src/trainer/sweepReport.ts';
import type { RunEvent } from '../src/protocol/events.ts';
import type { SweepAggregate, SweepPlan } from '../src/protocol/sweep.ts';
import { runCli, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

let sweepDir = '';
let plan: SweepPlan;

before(() => {
  const dir = tempDir('sweep-agg');
  const file = writeConfig(
    dir,
    'agg',
    smallConfig({
      name: 'agg',
      data: { source: 'demo', trainLimit: 300, batchSize: 64 },
      student: { architecture: { type: 'mlp', hidden: [8] } },
      train: { epochs: 2, logEvery: 5, optimizer: { type: 'adam', learningRate: 0.005 } },
      // No ONNX export or latency benchmark: the runs only need their accuracies here.
      bench: { enabled: false },
      export: { onnx: false },
      seeds: [0, 1],
      sweep: { grid: { 'distill.temperature': [1, 4] } },
    }),
  );
  const planned = runCli(['sweep', 'plan', file], dir);
  assert.equal(planned.code, 0, planned.stderr);
  sweepDir = /in (\S+)$/m.exec(planned.stdout)![1];
  const ran = runCli(['sweep', 'run', sweepDir, '--parallel', '2'], dir);
  assert.equal(ran.code, 0, `${ran.stdout}\n${ran.stderr}`);
  plan = readSweepPlan(sweepDir);
  assert.equal(plan.tasks.length, 4);
});

/** A copy of the sweep folder whose events `edit` rewrites, task by task. */
function plantedCopy(edit: (event: RunEvent, task: SweepPlan['tasks'][number]) => RunEvent): string {
  const copy = path.join(tempDir('sweep-planted'), path.basename(sweepDir));
  fs.cpSync(sweepDir, copy, { recursive: true });
  for (const task of plan.tasks) {
    const file = path.join(copy, task.dir, 'events.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const out = lines.map((l) => JSON.stringify(edit(JSON.parse(l) as RunEvent, task)));
    fs.writeFileSync(file, `${out.join('\n')}\n`);
  }
  return copy;
}

const modelOf = (phase: string) => (phase === 'distill' ? 'distilled' : phase);

/** Sets a model's test accuracy per task. */
const plantTest =
  (acc: (task: SweepPlan['tasks'][number], model: string) => number | undefined) =>
  (e: RunEvent, task: SweepPlan['tasks'][number]): RunEvent => {
    if (e.type !== 'evaluation' || e.split !== 'test') return e;
    const a = acc(task, modelOf(e.phase));
    return a === undefined ? e : { ...e, metrics: { ...e.metrics, accuracy: a } };
  };

/** Sets a model's validation accuracy at every epoch (so its best is that value). */
const plantValidation =
  (acc: (task: SweepPlan['tasks'][number], model: string) => number | undefined) =>
  (e: RunEvent, task: SweepPlan['tasks'][number]): RunEvent => {
    if (e.type !== 'epoch' || !e.validation) return e;
    const a = acc(task, modelOf(e.phase));
    return a === undefined ? e : { ...e, validation: { ...e.validation, accuracy: a } };
  };

/** Everything in an aggregate that the choice may depend on. */
const validationPart = (a: SweepAggregate) => ({ chosen: a.chosen, settings: a.settings, points: a.points });

test('aggregate.json: every setting over both seeds, the choice, the chosen test results, written atomically', () => {
  const agg = aggregateSweep(sweepDir, plan);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(sweepDir, 'aggregate.json'), 'utf8')), agg);
  assert.deepEqual(
    fs.readdirSync(sweepDir).filter((f) => f.includes('.tmp')),
    [],
  );
  assert.deepEqual(agg.tasks, { total: 4, finished: 4, failed: 0, unfinished: 0 });
  assert.equal(agg.settings.length, 2);
  for (const s of agg.settings) {
    assert.deepEqual(s.seeds, [0, 1]);
    assert.equal(s.validation.distilled?.n, 2);
    assert.equal(s.validation.scratch?.n, 2);
    assert.equal(s.validationGain?.n, 2);
    assert.equal(s.validation.teacher, undefined, 'the demo teacher is not trained: it has no validation accuracy');
  }
  const best = Math.max(...agg.settings.map((s) => s.validation.distilled!.mean));
  assert.equal(agg.settings.find((s) => s.setting === agg.chosen)!.validation.distilled!.mean, best);
  assert.equal(agg.test?.setting, agg.chosen);
  assert.deepEqual(
    agg.test!.perSeed.map((p) => p.seed),
    [0, 1],
  );
  assert.equal(agg.test!.gain?.method, 'paired-t');
  assert.ok(agg.test!.models.teacher, 'the evaluated teacher is in the test table');
  // Points: scratch and distilled of all four runs, sized from the run summaries.
  assert.equal(agg.points.filter((p) => p.model === 'distilled' || p.model === 'scratch').length, 8);
  assert.ok(agg.points.every((p) => p.params > 0 && p.bytes > 0));
});

test('test accuracy cannot move the choice: test values ranking the settings the other way, or permuted, change no validation figure', () => {
  const real = computeAggregate(sweepDir, plan);
  const chosen = real.chosen!;
  // The chosen setting's distilled student tests worst, the other's best: the opposite order.
  const reversed = computeAggregate(
    plantedCopy(
      plantTest((task, model) => (model !== 'distilled' ? undefined : task.setting === chosen ? 0.05 : 0.99)),
    ),
    plan,
  );
  assert.deepEqual(validationPart(reversed), validationPart(real));
  assert.deepEqual(reversed.test!.models.distilled, { mean: 0.05, sd: 0, n: 2 });
  assert.ok(reversed.test!.perSeed.every((p) => p.distilled === 0.05));
  // The same four test accuracies given to the tasks in every rotation.
  const values = [0.3, 0.9, 0.1, 0.7];
  const reported = new Set<number>();
  for (const shift of [0, 1, 2, 3]) {
    const permuted = computeAggregate(
      plantedCopy(plantTest((task, model) => (model === 'distilled' ? values[(task.index + shift) % 4] : undefined))),
      plan,
    );
    assert.deepEqual(validationPart(permuted), validationPart(real), `rotation ${shift}`);
    reported.add(permuted.test!.models.distilled!.mean);
  }
  assert.ok(reported.size > 1, 'the test figures follow the planted values');
});

test('validation decides: a better validation accuracy of the other setting moves the choice; ties go to the lowest setting', () => {
  const real = computeAggregate(sweepDir, plan);
  const other = plan.settings.find((s) => s.id !== real.chosen)!.id;
  const moved = computeAggregate(
    plantedCopy(
      plantValidation((task, model) => (model === 'distilled' && task.setting === other ? 0.999 : undefined)),
    ),
    plan,
  );
  assert.equal(moved.chosen, other);
  assert.equal(moved.test!.setting, other);
  const tied = computeAggregate(
    plantedCopy(plantValidation((_, model) => (model === 'distilled' ? 0.5 : undefined))),
    plan,
  );
  assert.equal(tied.chosen, 0);
});

test('the figures are the statistics of the folded accuracies: mean ± sd per model, paired gains with 95 % CIs', () => {
  // Setting 0: distilled 0.60 / 0.70, scratch 0.50 / 0.55 on validation; setting 1 lower.
  const val: Record<string, number[]> = { distilled: [0.6, 0.7], scratch: [0.5, 0.55] };
  const test: Record<string, number[]> = { distilled: [0.62, 0.69], scratch: [0.6, 0.61] };
  const withVal = plantValidation((task, model) =>
    val[model] ? val[model][task.seed] - task.setting * 0.2 : undefined,
  );
  const withTest = plantTest((task, model) => (test[model] ? test[model][task.seed] : undefined));
  const copy = plantedCopy((e, task) => withTest(withVal(e, task), task));
  const agg = computeAggregate(copy, plan);
  fs.rmSync(copy, { recursive: true, force: true });
  assert.equal(agg.chosen, 0);
  const s0 = agg.settings[0];
  assert.deepEqual(s0.validation.distilled, meanSd([0.6, 0.7]));
  assert.deepEqual(s0.validation.scratch, meanSd([0.5, 0.55]));
  assert.deepEqual(s0.validationGain, pairedInterval([0.6, 0.7], [0.5, 0.55]));
  assert.deepEqual(agg.test!.models.distilled, meanSd([0.62, 0.69]));
  assert.deepEqual(agg.test!.gain, pairedInterval([0.62, 0.69], [0.6, 0.61]));
  assert.deepEqual(agg.test!.perSeed, [
    { seed: 0, scratch: 0.6, distilled: 0.62 },
    { seed: 1, scratch: 0.61, distilled: 0.69 },
  ]);
});

test('unfinished tasks are counted and left out; one seed gives a mean without an interval', () => {
  const copy = plantedCopy((e) => e);
  const last = plan.tasks.find((t) => t.setting === 1 && t.seed === 1)!;
  for (const f of fs.readdirSync(path.join(copy, last.dir)))
    fs.rmSync(path.join(copy, last.dir, f), { recursive: true });
  const agg = computeAggregate(copy, plan);
  assert.deepEqual(agg.tasks, { total: 4, finished: 3, failed: 0, unfinished: 1 });
  const s1 = agg.settings.find((s) => s.setting === 1)!;
  assert.deepEqual(s1.seeds, [0]);
  assert.equal(s1.validation.distilled!.sd, null);
  assert.equal(s1.validationGain!.low, null);
  assert.equal(s1.validationGain!.includesZero, true);
});

test('the table: validation mean ± sd per setting, the chosen one marked, its test figures and the plain verdict', () => {
  const agg = computeAggregate(sweepDir, plan);
  const text = formatSweepAggregate(agg, plan.name);
  const chosenRow = text.split('\n').find((l) => l.startsWith(`* ${agg.chosen} `));
  assert.ok(chosenRow, text);
  assert.match(text, /\d+\.\d\d ± \d+\.\d\d %/);
  assert.match(text, new RegExp(`chosen on validation: setting ${agg.chosen} `));
  assert.match(text, /95 % CI by Student's t on the 2 paired differences/);
  const g = agg.test!.gain!;
  if (g.includesZero) assert.match(text, /the interval includes zero: this gain is not established with 2 seeds/);
  else assert.match(text, /the 95 % interval excludes zero/);
  // Both verdicts, on planted gains.
  const established = { ...g, mean: 0.01, low: 0.005, high: 0.015, includesZero: false };
  assert.match(
    formatSweepAggregate({ ...agg, test: { ...agg.test!, gain: established } }),
    /\+1\.00 \[\+0\.50, \+1\.50\] points.*\n.*excludes zero: a gain over 2 seeds/,
  );
  const open = { ...g, mean: 0.01, low: -0.02, high: 0.04, includesZero: true };
  assert.match(
    formatSweepAggregate({ ...agg, test: { ...agg.test!, gain: open } }),
    /the interval includes zero: this gain is not established with 2 seeds/,
  );
  assert.doesNotMatch(text, /NaN|undefined/);
});
