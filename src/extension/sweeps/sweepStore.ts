/**
 * The sweeps under the runs folders, as the Runs view and the sweep panel show them: a folder
 * holding `sweep.json` (src/protocol/sweep.ts) is one sweep; its tasks are the plan's tasks,
 * each an ordinary run folder (`tasks/<index>/`) once it has started, pending before. Task runs
 * are read as every other run is (RunStore: run.json only, re-read when it changes); a task
 * submitted to Slurm carries its array job id from `slurm/submissions.jsonl` and Slurm's state
 * as the last `distill sweep status --json` saw it (squeue, scontrol, sacct). Free of `vscode`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SlurmSubmission, SweepPlan, SweepTask, SweepTaskState, SweepTaskStatus } from '../../protocol/sweep.ts';
import {
  parseSweepAggregate,
  parseSweepPlan,
  SWEEP_VIEW_VERSION,
  type SweepViewMessage,
} from '../../protocol/sweepView.ts';
import type { SweepAggregate } from '../../protocol/sweep.ts';
import { RunStore, runsDirFolders, type RunDisplayStatus, type RunView } from '../runs/runStore.ts';

export const PLAN_FILE = 'sweep.json';
export const AGGREGATE_FILE = 'aggregate.json';
export const SUBMISSIONS_FILE = path.join('slurm', 'submissions.jsonl');

/** One task of a sweep as the view lists it. */
export interface SweepTaskView {
  task: SweepTask;
  /** Its setting's label (`distill.temperature=2, distill.alpha=0.5`). */
  setting: string;
  /** The run folder (absolute). */
  dir: string;
  /** Its run, once the trainer has created the folder's run.json. */
  run?: RunView;
  state: SweepTaskState | 'stopping';
  /** `<array job id>_<index>` when submitted to Slurm, and Slurm's state name when known. */
  slurmJob?: string;
  slurmState?: string;
}

export interface SweepView {
  dir: string;
  /** The folder's name (`<name>-sweep-<stamp>`). */
  id: string;
  plan: SweepPlan;
  tasks: SweepTaskView[];
  /** How many tasks are in each state. */
  counts: Record<SweepTaskState | 'stopping', number>;
  /** aggregate.json exists. */
  aggregated: boolean;
  submissions: SlurmSubmission[];
}

const RUN_STATE: Record<RunDisplayStatus, SweepTaskState | 'stopping'> = {
  queued: 'queued',
  running: 'running',
  stopping: 'stopping',
  finished: 'finished',
  failed: 'failed',
  stopped: 'stopped',
};

/** Reads `slurm/submissions.jsonl` (one SlurmSubmission a line; a torn last line is skipped). */
export function readSubmissions(sweepDir: string): SlurmSubmission[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(sweepDir, SUBMISSIONS_FILE), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    try {
      const s = JSON.parse(line) as SlurmSubmission;
      return typeof s.jobId === 'string' && Array.isArray(s.indices) ? [s] : [];
    } catch {
      return [];
    }
  });
}

/** The plan in `dir/sweep.json`, or undefined when there is none (or it is not a plan). */
export function readPlan(dir: string): SweepPlan | undefined {
  try {
    return parseSweepPlan(JSON.parse(fs.readFileSync(path.join(dir, PLAN_FILE), 'utf8')));
  } catch {
    return undefined;
  }
}

/** `dir/aggregate.json`, or undefined before it is written. */
export function readAggregate(dir: string): SweepAggregate | undefined {
  try {
    return parseSweepAggregate(JSON.parse(fs.readFileSync(path.join(dir, AGGREGATE_FILE), 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * A sweep's view from its plan, the runs of its task folders, its Slurm submissions and the
 * statuses `distill sweep status --json` last gave for submitted tasks (by index). A task's own
 * run decides its state once it exists (unless Slurm ended it badly: failed); before that Slurm's
 * view does (queued, running, failed), else it is `queued` when submitted, `pending` otherwise.
 */
export function sweepView(
  dir: string,
  plan: SweepPlan,
  runs: ReadonlyMap<string, RunView>,
  submissions: SlurmSubmission[],
  slurm: ReadonlyMap<number, SweepTaskStatus> = new Map(),
  aggregated = false,
): SweepView {
  const labels = new Map(plan.settings.map((s) => [s.id, s.label]));
  // The last submission of an index is the one that runs it (a resubmission takes unfinished indices only).
  const jobOf = new Map<number, string>();
  for (const s of submissions) for (const i of s.indices) jobOf.set(i, `${s.jobId}_${i}`);
  const counts: SweepView['counts'] = {
    pending: 0,
    queued: 0,
    running: 0,
    stopping: 0,
    finished: 0,
    failed: 0,
    stopped: 0,
  };
  const tasks = plan.tasks.map((task): SweepTaskView => {
    const taskDir = path.resolve(dir, task.dir);
    const run = runs.get(taskDir);
    const queried = slurm.get(task.index);
    const slurmJob = queried?.slurmJob ?? jobOf.get(task.index);
    const slurmState = queried?.slurmJob === slurmJob ? queried?.slurmState : undefined;
    const fromRun = run ? RUN_STATE[run.status] : undefined;
    const state =
      queried?.state === 'failed' && queried.slurmState && fromRun !== 'finished'
        ? 'failed'
        : (fromRun ?? (queried && queried.state !== 'finished' ? queried.state : slurmJob ? 'queued' : 'pending'));
    counts[state]++;
    return {
      task,
      setting: labels.get(task.setting) ?? `setting ${task.setting}`,
      dir: taskDir,
      run,
      state,
      ...(slurmJob ? { slurmJob } : {}),
      ...(slurmState ? { slurmState } : {}),
    };
  });
  return { dir, id: path.basename(dir), plan, tasks, counts, aggregated, submissions };
}

/** The statuses the sweep panel shows (the protocol's shape). */
export function taskStatusesOf(view: SweepView): SweepTaskStatus[] {
  return view.tasks.map((t) => ({
    index: t.task.index,
    setting: t.task.setting,
    seed: t.task.seed,
    state: t.state === 'stopping' ? 'running' : t.state,
    ...(t.run ? { runId: t.run.id } : {}),
    ...(t.slurmJob ? { slurmJob: t.slurmJob } : {}),
    ...(t.slurmState ? { slurmState: t.slurmState } : {}),
    ...(t.run?.error ? { error: t.run.error } : {}),
  }));
}

/** What the sweep panel is sent: the plan, the tasks' states and aggregate.json (read now; absent before it is written). */
export function sweepMessageOf(view: SweepView): SweepViewMessage {
  const aggregate = readAggregate(view.dir);
  return {
    type: 'sweep',
    v: SWEEP_VIEW_VERSION,
    dir: view.dir,
    plan: view.plan,
    statuses: taskStatusesOf(view),
    ...(aggregate ? { aggregate } : {}),
  };
}

/** A sweep is live while one of its tasks trains (or is stopping). */
export const isSweepLive = (v: SweepView) => v.counts.running + v.counts.stopping > 0;

/** Tasks that a resume would run: every task not finished (never a finished one). */
export const unfinishedTasks = (v: SweepView) => v.tasks.filter((t) => t.state !== 'finished');

/**
 * The sweeps of some runs folders, refreshed asynchronously: plans re-read when sweep.json
 * changes, task runs through one RunStore per sweep (only changed run.json files are re-read).
 */
export class SweepStore {
  private readonly sweeps = new Map<
    string,
    { planStamp: string; plan: SweepPlan; tasks: RunStore; aggregated: boolean; submissions: SlurmSubmission[] }
  >();
  private list: SweepView[] = [];
  private shown = '';
  /** What `distill sweep status --json` last said of each sweep's tasks (setSlurmStatuses). */
  private readonly slurm = new Map<string, Map<number, SweepTaskStatus>>();

  constructor(
    private readonly runsDirs: () => string[],
    /** What the caller knows of a run beyond its run.json (the run manager's `stopping`). */
    private readonly overlay: (r: RunView) => RunView = (r) => r,
  ) {}

  get views(): readonly SweepView[] {
    return this.list;
  }

  viewOf(dir: string): SweepView | undefined {
    return this.list.find((s) => s.dir === dir);
  }

  /** The sweeps that have Slurm submissions and unfinished tasks: those whose Slurm states are worth a query. */
  get submittedUnfinished(): SweepView[] {
    return this.list.filter((v) => v.submissions.length > 0 && unfinishedTasks(v).length > 0);
  }

  /** Slurm's view of a sweep's submitted tasks (from `distill sweep status --json`); true when what the sweep shows changed. */
  setSlurmStatuses(dir: string, statuses: readonly SweepTaskStatus[]): boolean {
    this.slurm.set(dir, new Map(statuses.filter((s) => s.slurmJob).map((s) => [s.index, s])));
    const i = this.list.findIndex((v) => v.dir === dir);
    const fresh = i >= 0 ? this.build(dir) : undefined;
    if (!fresh || JSON.stringify(fresh) === JSON.stringify(this.list[i])) return false;
    this.list = this.list.map((v, j) => (j === i ? fresh : v));
    this.shown = JSON.stringify(this.list);
    return true;
  }

  private build(dir: string): SweepView | undefined {
    const s = this.sweeps.get(dir);
    if (!s) return undefined;
    const runs = new Map(s.tasks.runs.map((r) => [r.dir, this.overlay(r)]));
    return sweepView(dir, s.plan, runs, s.submissions, this.slurm.get(dir), s.aggregated);
  }

  /** Re-reads the sweeps; resolves true when what they show changed. */
  async refresh(): Promise<boolean> {
    const seen = new Set<string>();
    for (const dir of await runsDirFolders(this.runsDirs())) {
      let stamp: string;
      try {
        const st = await fs.promises.stat(path.join(dir, PLAN_FILE));
        stamp = `${st.mtimeMs}:${st.size}`;
      } catch {
        continue; // not a sweep (an ordinary run folder, or something else)
      }
      let entry = this.sweeps.get(dir);
      if (!entry || entry.planStamp !== stamp) {
        const plan = readPlan(dir);
        if (!plan) continue;
        entry = {
          planStamp: stamp,
          plan,
          tasks: new RunStore(() => [path.join(dir, 'tasks')]),
          aggregated: false,
          submissions: [],
        };
        this.sweeps.set(dir, entry);
      }
      seen.add(dir);
      await entry.tasks.refresh();
      entry.aggregated = fs.existsSync(path.join(dir, AGGREGATE_FILE));
      entry.submissions = readSubmissions(dir);
    }
    for (const dir of this.sweeps.keys())
      if (!seen.has(dir)) {
        this.sweeps.delete(dir);
        this.slurm.delete(dir);
      }
    const views = [...seen]
      .map((dir) => this.build(dir))
      .filter((v): v is SweepView => v !== undefined)
      .sort((a, b) => b.plan.createdAt.localeCompare(a.plan.createdAt));
    this.list = views;
    const shown = JSON.stringify(views);
    const changed = shown !== this.shown;
    this.shown = shown;
    return changed;
  }
}
