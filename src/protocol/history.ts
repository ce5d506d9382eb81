/**
 * The Run History panel's rows and messages, used on both sides (the extension host builds the
 * rows from run.json files; the webview sorts and shows them). Every message is checked on
 * receipt, as the dashboard's are (messages.ts).
 */
import type { LatencyResult } from './events.ts';
import { recordAccuracy, type RunRecord } from './run.ts';

export const HISTORY_VERSION = 1;

/** The columns, in display order; each sorts the table. */
export const HISTORY_COLUMNS = [
  'name',
  'method',
  'strategy',
  'seed',
  'backend',
  'status',
  'accuracy',
  'gain',
  'latency',
  'started',
] as const;
export type HistoryColumn = (typeof HISTORY_COLUMNS)[number];

/** One run, as the history lists it: what its run.json says. */
export interface HistoryRow {
  dir: string;
  id: string;
  name: string;
  /** kd, none, or the combined terms (`hint+kd`); absent in run.json files older than `setup`. */
  method?: string;
  strategy?: string;
  seed?: number;
  backend?: string;
  /** running, stopping, finished, failed or stopped (as the Runs view shows it). */
  status: string;
  /** The headline accuracy (protocol/run.ts): the final student's test accuracy, before that the best validation accuracy. */
  accuracy?: number;
  accuracySplit?: 'test' | 'validation';
  /** Test accuracy of the distilled student minus the from-scratch baseline's (same seed), as a fraction. */
  gain?: number;
  /** The student's median latency at batch 1, in ms, and the runtime it was measured on. */
  latencyMs?: number;
  latencyRuntime?: string;
  startedAt?: string;
}

/** The student's batch-1 latency: ONNX Runtime's when measured (what an exported model runs on), else the first measured. */
export function studentLatency(latency: readonly LatencyResult[] | undefined): LatencyResult | undefined {
  const single = (latency ?? []).filter((l) => l.model === 'student' && l.batch === 1);
  return single.find((l) => l.runtime.startsWith('onnxruntime')) ?? single[0];
}

/** A run's history row from its run.json; `status` is what the Runs view shows (a dead "running" trainer reads `stopped`). */
export function historyRow(dir: string, record: RunRecord, status: string = record.status): HistoryRow {
  const row: HistoryRow = {
    dir,
    id: record.runId,
    name: record.name,
    status,
    method: record.setup?.method,
    strategy: record.setup?.strategy,
    seed: record.setup?.seed,
    backend: record.backend?.name,
    startedAt: record.startedAt,
  };
  const test = record.status === 'finished' ? recordAccuracy(record) : undefined;
  if (test !== undefined) Object.assign(row, { accuracy: test, accuracySplit: 'test' });
  else if (record.accuracy)
    Object.assign(row, { accuracy: record.accuracy.accuracy, accuracySplit: record.accuracy.split });
  const scratch = record.summary?.find((r) => r.model === 'scratch');
  const distilled = record.summary?.find((r) => r.model === 'distilled');
  if (scratch && distilled) row.gain = distilled.accuracy - scratch.accuracy;
  const latency = studentLatency(record.latency);
  if (latency) Object.assign(row, { latencyMs: latency.p50Ms, latencyRuntime: latency.runtime });
  return row;
}

/** Host -> webview: every run, whenever one changes. */
export type HistoryHostMessage = { type: 'rows'; v: typeof HISTORY_VERSION; rows: HistoryRow[] };

/** Webview -> host. */
export type HistoryWebviewMessage =
  /** Loaded: send the rows. */
  | { type: 'ready' }
  /** One run: its dashboard; several: the comparison dashboard. */
  | { type: 'open'; dirs: string[] }
  | { type: 'reveal'; dir: string };

const isString = (v: unknown): v is string => typeof v === 'string';
const MAX_OPEN = 50;

/** Validates a message from the webview; undefined for anything malformed. */
export function parseHistoryWebviewMessage(m: unknown): HistoryWebviewMessage | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'ready':
      return { type: 'ready' };
    case 'open':
      return Array.isArray(o.dirs) && o.dirs.length >= 1 && o.dirs.length <= MAX_OPEN && o.dirs.every(isString)
        ? { type: 'open', dirs: [...new Set(o.dirs)] }
        : undefined;
    case 'reveal':
      return isString(o.dir) ? { type: 'reveal', dir: o.dir } : undefined;
    default:
      return undefined;
  }
}

const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

function isRow(r: unknown): r is HistoryRow {
  if (!r || typeof r !== 'object') return false;
  const o = r as Record<string, unknown>;
  return (
    isString(o.dir) &&
    isString(o.id) &&
    isString(o.name) &&
    isString(o.status) &&
    ['method', 'strategy', 'backend', 'latencyRuntime', 'startedAt'].every((k) => optional(o[k], isString)) &&
    ['seed', 'accuracy', 'gain', 'latencyMs'].every((k) => optional(o[k], isNumber)) &&
    optional(o.accuracySplit, (v) => v === 'test' || v === 'validation')
  );
}

/** Validates a message from the host (the version must agree; every row is checked). */
export function parseHistoryHostMessage(m: unknown): HistoryHostMessage | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  if (o.v !== HISTORY_VERSION || o.type !== 'rows' || !Array.isArray(o.rows) || !o.rows.every(isRow)) return undefined;
  return { type: 'rows', v: HISTORY_VERSION, rows: o.rows };
}
