/**
 * The runs under a runs folder, as the Runs tree shows them: status, progress, best accuracy, all
 * read from run.json (the trainer writes what the tree shows there; the events are for the
 * dashboards). RunStore keeps the list for the tree, the CodeLens and the commands, and refreshes
 * it asynchronously, re-reading only the run.json files that changed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Phase, RunEvent } from '../../protocol/events.ts';
import type { EventsProblem } from '../../protocol/eventLines.ts';
import { isTrainerAlive, pidExists } from '../../core/run/processIdentity.ts';
import {
  foldRun,
  recordAccuracy,
  runAccuracy,
  runProgress,
  type RunAccuracy,
  type RunRecord,
} from '../../protocol/run.ts';

/** `stopping`: a stop was asked for and the trainer is writing its checkpoint (the run manager knows it). */
export type RunDisplayStatus = 'queued' | 'running' | 'stopping' | 'finished' | 'failed' | 'stopped';

export interface RunView {
  dir: string;
  id: string;
  name: string;
  status: RunDisplayStatus;
  /** A run.json that says running but whose process is gone: killed or crashed, resumable. */
  interrupted: boolean;
  pid?: number;
  /** The trainer's start stamp (with pid, which process it is). */
  pidStart?: string;
  configFile?: string;
  phase?: Phase;
  epoch?: number;
  epochs?: number;
  /** 0..1 over all phases of the run. */
  progress?: number;
  /** The run's headline accuracy (protocol/run.ts runAccuracy): the final student's test accuracy, before that the best validation accuracy. */
  bestAccuracy?: number;
  /** Which accuracy bestAccuracy is (absent when read from run.json: the final student's test accuracy). */
  accuracyOf?: RunAccuracy;
  lastLoss?: number;
  error?: string;
  startedAt?: string;
  /** Lines of its events.jsonl that were skipped (not valid events), as far as this window has read it. */
  problems?: EventsProblem[];
}

/** A process with this pid exists (whatever it is; see isTrainerAlive for "is it the run's trainer"). */
export const isAlive = pidExists;

/** What the tree shows of a run's events, through the protocol's one fold (foldRun). */
export function summarise(view: RunView, events: RunEvent[]): RunView {
  const state = foldRun(events);
  const current = state.phase ?? [...state.phases].reverse().find((ph) => state.byPhase[ph]);
  const p = current && state.byPhase[current];
  if (p) Object.assign(view, { phase: p.phase, epochs: p.epochs, epoch: p.epoch });
  if (state.lastLoss !== undefined) view.lastLoss = state.lastLoss;
  const acc = runAccuracy(state);
  if (acc) Object.assign(view, { bestAccuracy: acc.accuracy, accuracyOf: acc });
  const progress = runProgress(state);
  if (progress !== undefined) view.progress = view.status === 'finished' ? 1 : progress;
  return view;
}

/** A run's view from its run.json (and, when given, its events through the fold). */
export function viewOf(dir: string, record: RunRecord, events?: RunEvent[]): RunView {
  // Alive means the same process: a pid reused after a reboot is not this run's trainer.
  const interrupted = record.status === 'running' && !isTrainerAlive(record);
  const view: RunView = {
    dir,
    id: path.basename(dir),
    name: record.name,
    status: interrupted ? 'stopped' : record.status,
    interrupted,
    pid: record.pid,
    pidStart: record.pidStart,
    configFile: record.configFile,
    phase: record.phase,
    epoch: record.epoch,
    error: record.error,
    startedAt: record.startedAt,
  };
  if (events) return summarise(view, events);
  if (record.status === 'finished' && record.summary) {
    const accuracy = recordAccuracy(record);
    return {
      ...view,
      progress: 1,
      bestAccuracy: accuracy,
      accuracyOf:
        accuracy === undefined
          ? undefined
          : {
              accuracy,
              split: 'test',
              phase: record.summary.some((r) => r.model === 'distilled') ? 'distill' : 'scratch',
            },
    };
  }
  if (record.epochs !== undefined) view.epochs = record.epochs;
  if (record.progress !== undefined) view.progress = record.progress;
  if (record.accuracy) Object.assign(view, { bestAccuracy: record.accuracy.accuracy, accuracyOf: record.accuracy });
  return view;
}

/** Reads one run folder; undefined when it is not a run (no run.json). Only run.json is read, unless `events` are given. */
export function readRun(dir: string, events?: RunEvent[]): RunView | undefined {
  let record: RunRecord;
  try {
    record = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
  return viewOf(dir, record, events);
}

const newestFirst = (a: RunView, b: RunView) => (b.startedAt ?? b.id).localeCompare(a.startedAt ?? a.id);

/** Every run under `runsDir`, newest first. */
export function listRuns(runsDir: string): RunView[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir)
    .filter((n) => !n.startsWith('.'))
    .map((n) => readRun(path.join(runsDir, n)))
    .filter((r): r is RunView => r !== undefined)
    .sort(newestFirst);
}

/** The runs of some runs folders, kept for synchronous readers and refreshed with async reads. */
export class RunStore {
  /** run.json by run folder, with the stat it was read at (re-read when that changes). */
  private readonly records = new Map<string, { stamp: string; record: RunRecord }>();
  private readonly problemsOf = new Map<string, EventsProblem[]>();
  private list: RunView[] = [];
  private shown = '';
  private running: Promise<boolean> | undefined;
  private queued: Promise<boolean> | undefined;

  constructor(private readonly runsDirs: () => string[]) {}

  /** The runs as of the last refresh, newest first. */
  get runs(): readonly RunView[] {
    return this.list;
  }

  /** A run's run.json as of the last refresh (the Run History's rows). */
  recordOf(dir: string): RunRecord | undefined {
    return this.records.get(dir)?.record;
  }

  /** Records skipped lines of a run's events.jsonl (found by whoever read them), for the tree's tooltip. */
  noteProblems(dir: string, problems: readonly EventsProblem[]): boolean {
    if (problems.length === 0) return false;
    const known = this.problemsOf.get(dir) ?? [];
    const lines = new Set(known.map((p) => p.line));
    const added = problems.filter((p) => !lines.has(p.line));
    if (added.length === 0) return false;
    this.problemsOf.set(
      dir,
      [...known, ...added].sort((a, b) => a.line - b.line),
    );
    this.list = this.list.map((r) => (r.dir === dir ? { ...r, problems: this.problemsOf.get(dir) } : r));
    return true;
  }

  /**
   * Re-reads the runs folders (only the run.json files whose size or time changed); resolves true
   * when what the tree shows changed. Calls made while one runs share a single next refresh.
   */
  refresh(): Promise<boolean> {
    if (!this.running) {
      this.running = this.load().finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.refresh();
    });
    return this.queued;
  }

  private async load(): Promise<boolean> {
    const seen = new Set<string>();
    const views: RunView[] = [];
    for (const dir of await runsDirFolders(this.runsDirs())) {
      seen.add(dir);
      const record = await this.record(dir);
      if (record) views.push({ ...viewOf(dir, record), problems: this.problemsOf.get(dir) });
    }
    for (const dir of this.records.keys()) if (!seen.has(dir)) this.records.delete(dir);
    views.sort(newestFirst);
    this.list = views;
    const shown = JSON.stringify(views);
    const changed = shown !== this.shown;
    this.shown = shown;
    return changed;
  }

  private async record(dir: string): Promise<RunRecord | undefined> {
    const file = path.join(dir, 'run.json');
    let stamp: string;
    try {
      const st = await fs.promises.stat(file);
      stamp = `${st.mtimeMs}:${st.size}`;
    } catch {
      this.records.delete(dir);
      return undefined;
    }
    const cached = this.records.get(dir);
    if (cached?.stamp === stamp) return cached.record;
    try {
      // run.json is replaced atomically (rename): a read sees the old file or the new one.
      const record = JSON.parse(await fs.promises.readFile(file, 'utf8')) as RunRecord;
      this.records.set(dir, { stamp, record });
      return record;
    } catch {
      return cached?.record;
    }
  }
}

/** The folders in each runs directory, each once (names starting with "." left out); a directory that cannot be read is skipped. */
export async function runsDirFolders(runsDirs: string[]): Promise<string[]> {
  const dirs = new Set<string>();
  for (const runsDir of runsDirs) {
    let names: string[];
    try {
      names = await fs.promises.readdir(runsDir);
    } catch {
      continue;
    }
    for (const name of names) if (!name.startsWith('.')) dirs.add(path.join(runsDir, name));
  }
  return [...dirs];
}
