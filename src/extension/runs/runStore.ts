/** The runs under a runs folder, as the Runs tree shows them: status, progress, best accuracy. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type Phase, type RunEvent } from '../../protocol/events.ts';
import {
  foldRun,
  recordAccuracy,
  runAccuracy,
  runProgress,
  type RunAccuracy,
  type RunRecord,
} from '../../protocol/run.ts';

export type RunDisplayStatus = 'queued' | 'running' | 'finished' | 'failed' | 'stopped';

export interface RunView {
  dir: string;
  id: string;
  name: string;
  status: RunDisplayStatus;
  /** A run.json that says running but whose process is gone: killed or crashed, resumable. */
  interrupted: boolean;
  pid?: number;
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
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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

/** Reads one run folder; undefined when it is not a run (no run.json). */
export function readRun(dir: string, events?: RunEvent[]): RunView | undefined {
  let record: RunRecord;
  try {
    record = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
  const interrupted = record.status === 'running' && !isAlive(record.pid);
  const view: RunView = {
    dir,
    id: path.basename(dir),
    name: record.name,
    status: interrupted ? 'stopped' : record.status,
    interrupted,
    pid: record.pid,
    configFile: record.configFile,
    phase: record.phase,
    epoch: record.epoch,
    error: record.error,
    startedAt: record.startedAt,
  };
  // A finished run's run.json has what the tree shows: no need to read its events.
  if (!events && record.status === 'finished' && record.summary) {
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
  let evs = events;
  if (!evs) {
    try {
      evs = parseEvents(fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8'));
    } catch {
      evs = [];
    }
  }
  return summarise(view, evs);
}

/** Every run under `runsDir`, newest first. */
export function listRuns(runsDir: string): RunView[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir)
    .filter((n) => !n.startsWith('.'))
    .map((n) => readRun(path.join(runsDir, n)))
    .filter((r): r is RunView => r !== undefined)
    .sort((a, b) => (b.startedAt ?? b.id).localeCompare(a.startedAt ?? a.id));
}
