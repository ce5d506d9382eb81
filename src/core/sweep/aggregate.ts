/**
 * `aggregate.json`: a sweep's results, in the order that keeps the test set out of the choice.
 *
 * 1. Each task's events are folded (foldRun) and reduced to what validation says: every model's
 *    best validation accuracy (the accuracy at its best epoch) and, for the plots, its size.
 * 2. Per setting: each model's validation mean ± sd over the finished seeds and the paired
 *    validation gain; the chosen setting is the one with the highest mean validation accuracy of
 *    `plan.select.model` (ties: the lowest setting id). Only step 1's validation figures reach it.
 * 3. Then, and only then, the chosen setting's test accuracies are read: each model's test
 *    mean ± sd and the paired test gain with its 95 % interval (Student's t on the differences).
 *    No other setting's test accuracy is reported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { phaseModelName, type Phase } from '../../protocol/events.ts';
import { readEventsText } from '../../protocol/eventLines.ts';
import { foldRun, type RunState } from '../../protocol/run.ts';
import { studentLatency } from '../../protocol/history.ts';
import {
  SWEEP_VERSION,
  type MeanSd,
  type PairedInterval,
  type SweepAggregate,
  type SweepModel,
  type SweepModelPoint,
  type SweepPlan,
  type SweepSettingResult,
  type SweepTask,
} from '../../protocol/sweep.ts';
import { writeJsonAtomic } from '../fsutil.ts';
import { meanSd, pairedInterval } from '../stats.ts';

export const AGGREGATE_FILE = 'aggregate.json';
/** The confidence level of every reported interval. */
export const CONFIDENCE = 0.95;

/** A finished task as the choice may see it: validation accuracies, no test accuracy. */
interface ValidationView {
  task: SweepTask;
  /** Best validation accuracy of each model with a validation split. */
  validation: Partial<Record<SweepModel, number>>;
}

/** A task's run, folded from its events file; undefined before the run has written one. */
function foldTask(sweepDir: string, task: SweepTask): RunState | undefined {
  const file = path.join(sweepDir, task.dir, 'events.jsonl');
  if (!fs.existsSync(file)) return undefined;
  return foldRun(readEventsText(fs.readFileSync(file, 'utf8')).events);
}

/** The phases a run reports on: those it planned, and a teacher it did not train but evaluated (no validation accuracy then). */
function phasesOf(state: RunState): Phase[] {
  const extra = (Object.keys(state.byPhase) as Phase[]).filter((ph) => !state.phases.includes(ph));
  return [...extra, ...state.phases].filter((ph) => state.byPhase[ph]);
}

function validationView(task: SweepTask, state: RunState): ValidationView {
  const validation: Partial<Record<SweepModel, number>> = {};
  for (const ph of phasesOf(state)) {
    const best = state.byPhase[ph]?.best;
    if (best) validation[phaseModelName(ph)] = best.accuracy;
  }
  return { task, validation };
}

/** Mean ± sd of each model over the views that have it. */
function modelStats(values: ReadonlyArray<Partial<Record<SweepModel, number>>>): Partial<Record<SweepModel, MeanSd>> {
  const byModel = new Map<SweepModel, number[]>();
  for (const v of values)
    for (const [model, acc] of Object.entries(v) as Array<[SweepModel, number]>)
      byModel.set(model, [...(byModel.get(model) ?? []), acc]);
  return Object.fromEntries([...byModel].map(([model, xs]) => [model, meanSd(xs)]));
}

/** The paired gain of distilled over scratch on the seeds that have both; undefined without a pair. */
function pairedGain(
  values: ReadonlyArray<Partial<Record<SweepModel, number>>>,
  level: number,
): PairedInterval | undefined {
  const pairs = values.filter((v) => v.distilled !== undefined && v.scratch !== undefined);
  if (pairs.length === 0) return undefined;
  return pairedInterval(
    pairs.map((v) => v.distilled!),
    pairs.map((v) => v.scratch!),
    level,
  );
}

/** Step 2: every setting's validation results (from validation views only). */
export function settingResults(plan: SweepPlan, views: readonly ValidationView[]): SweepSettingResult[] {
  return plan.settings.map((setting) => {
    const own = views.filter((v) => v.task.setting === setting.id).sort((a, b) => a.task.seed - b.task.seed);
    const result: SweepSettingResult = {
      setting: setting.id,
      values: setting.values,
      label: setting.label,
      seeds: own.map((v) => v.task.seed),
      validation: modelStats(own.map((v) => v.validation)),
    };
    const gain = pairedGain(
      own.map((v) => v.validation),
      CONFIDENCE,
    );
    if (gain) result.validationGain = gain;
    return result;
  });
}

/** The setting with the highest mean validation accuracy of `model` (ties: the lowest id); null when none has one. */
export function chooseSetting(settings: readonly SweepSettingResult[], model: SweepModel): number | null {
  let chosen: { id: number; mean: number } | null = null;
  for (const s of settings) {
    const v = s.validation[model];
    if (!v) continue;
    if (!chosen || v.mean > chosen.mean || (v.mean === chosen.mean && s.setting < chosen.id))
      chosen = { id: s.setting, mean: v.mean };
  }
  return chosen?.id ?? null;
}

/** Step 3: the chosen setting's test accuracies, read from its finished runs only. */
function testResults(
  setting: number,
  finished: ReadonlyArray<{ task: SweepTask; state: RunState }>,
): NonNullable<SweepAggregate['test']> {
  const own = finished.filter((f) => f.task.setting === setting).sort((a, b) => a.task.seed - b.task.seed);
  const tests = own.map(({ state }) => {
    const acc: Partial<Record<SweepModel, number>> = {};
    for (const ph of phasesOf(state)) {
      const test = state.byPhase[ph]?.test;
      if (test) acc[phaseModelName(ph)] = test.accuracy;
    }
    return acc;
  });
  const result: NonNullable<SweepAggregate['test']> = {
    setting,
    models: modelStats(tests),
    perSeed: own.map(({ task }, i) => ({ seed: task.seed, scratch: tests[i].scratch, distilled: tests[i].distilled })),
  };
  const gain = pairedGain(tests, CONFIDENCE);
  if (gain) result.gain = gain;
  return result;
}

/** Every model of every finished run, for the accuracy-against-size and -latency plots (validation accuracy). */
function modelPoints(view: ValidationView, state: RunState): SweepModelPoint[] {
  const points: SweepModelPoint[] = [];
  const student = studentLatency(state.latency);
  const teacher = state.latency.find((l) => l.model === 'teacher' && l.batch === 1);
  for (const [model, validationAccuracy] of Object.entries(view.validation) as Array<[SweepModel, number]>) {
    const row = state.summary?.find((r) => r.model === model);
    if (!row) continue;
    const point: SweepModelPoint = {
      index: view.task.index,
      setting: view.task.setting,
      seed: view.task.seed,
      model,
      validationAccuracy,
      params: row.params,
      bytes: row.bytes,
    };
    // The benchmark times the final student; the scratch baseline has the same architecture.
    const latency = model === 'teacher' ? teacher : model === 'distilled' || model === 'scratch' ? student : undefined;
    if (latency) Object.assign(point, { latencyMs: latency.p50Ms, latencyRuntime: latency.runtime });
    points.push(point);
  }
  return points;
}

/** Aggregates the sweep in `sweepDir` (see the module comment) without writing anything. */
export function computeAggregate(sweepDir: string, plan: SweepPlan, now = new Date()): SweepAggregate {
  const folded = plan.tasks.map((task) => ({ task, state: foldTask(sweepDir, task) }));
  const finished = folded.filter((f): f is { task: SweepTask; state: RunState } => f.state?.status === 'finished');
  const failed = folded.filter((f) => f.state?.status === 'failed').length;
  const views = finished.map((f) => validationView(f.task, f.state));
  const settings = settingResults(plan, views);
  const chosen = chooseSetting(settings, plan.select.model);
  const aggregate: SweepAggregate = {
    v: SWEEP_VERSION,
    sweepId: plan.sweepId,
    computedAt: now.toISOString(),
    tasks: {
      total: plan.tasks.length,
      finished: finished.length,
      failed,
      unfinished: plan.tasks.length - finished.length - failed,
    },
    settings,
    chosen,
    points: finished.flatMap((f, i) => modelPoints(views[i], f.state)),
  };
  if (chosen !== null) aggregate.test = testResults(chosen, finished);
  return aggregate;
}

/** Aggregates the sweep and writes `<sweepDir>/aggregate.json` atomically. */
export function aggregateSweep(sweepDir: string, plan: SweepPlan, now = new Date()): SweepAggregate {
  const aggregate = computeAggregate(sweepDir, plan, now);
  writeJsonAtomic(path.join(sweepDir, AGGREGATE_FILE), aggregate);
  return aggregate;
}
