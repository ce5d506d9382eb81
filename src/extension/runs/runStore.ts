/** The runs under a runs folder, as the Runs tree shows them: status, progress, best accuracy. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type Phase, type RunEvent } from '../../protocol/events.ts';
import type { RunRecord } from '../../core/run/runFolder.ts';

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
  bestAccuracy?: number;
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

/** Folds a run's events into what the tree shows. */
export function summarise(view: RunView, events: RunEvent[]): RunView {
  let phases: Phase[] = [];
  const epochsOf = new Map<Phase, number>();
  const doneEpochs = new Map<Phase, number>();
  for (const e of events) {
    if (e.type === 'run_started') phases = e.phases;
    else if (e.type === 'phase_started') {
      epochsOf.set(e.phase, e.epochs);
      view.phase = e.phase;
      view.epochs = e.epochs;
    } else if (e.type === 'epoch') {
      doneEpochs.set(e.phase, e.epoch);
      view.epoch = e.epoch;
      view.lastLoss = e.train.loss.total;
      if (e.phase !== 'teacher' && e.validation) view.bestAccuracy = Math.max(view.bestAccuracy ?? 0, e.validation.accuracy);
    } else if (e.type === 'step') view.lastLoss = e.loss.total;
    else if (e.type === 'phase_finished') doneEpochs.set(e.phase, epochsOf.get(e.phase) ?? e.epochs);
    else if (e.type === 'run_finished') {
      const distilled = e.summary.find((s) => s.model === 'distilled') ?? e.summary.find((s) => s.model === 'scratch');
      if (distilled) view.bestAccuracy = distilled.accuracy;
    }
  }
  if (phases.length) {
    const share = 1 / phases.length;
    view.progress = phases.reduce((p, ph) => p + share * Math.min(1, (doneEpochs.get(ph) ?? 0) / (epochsOf.get(ph) ?? Infinity)), 0);
    if (view.status === 'finished') view.progress = 1;
  }
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
