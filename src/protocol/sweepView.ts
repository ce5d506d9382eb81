/**
 * The sweep panel's messages, used on both sides: the extension host reads a sweep folder
 * (sweep.json, the tasks' states, aggregate.json) and sends it; the webview draws the settings
 * table, the parallel coordinates and the accuracy-against-cost plots. Every message is checked
 * on receipt, as the dashboard's are (messages.ts): a webview is untrusted input, and so is a
 * file on disk.
 */
import type {
  MeanSd,
  PairedInterval,
  SweepAggregate,
  SweepModelPoint,
  SweepPlan,
  SweepSettingResult,
  SweepTaskStatus,
} from './sweep.ts';

export const SWEEP_VIEW_VERSION = 1;

/** Host -> webview: the sweep as its folder has it now (sent on `ready` and whenever a file changes). */
export interface SweepViewMessage {
  type: 'sweep';
  v: typeof SWEEP_VIEW_VERSION;
  dir: string;
  plan: SweepPlan;
  statuses: SweepTaskStatus[];
  /** aggregate.json; absent until `distill sweep aggregate` (or a finished `sweep run`) wrote it. */
  aggregate?: SweepAggregate;
}

/** Webview -> host. */
export type SweepWebviewMessage =
  /** Loaded: send the sweep. */
  | { type: 'ready' }
  /** The dashboards of these tasks' runs (one: its dashboard; several: compared side by side). */
  | { type: 'openTasks'; indices: number[] };

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isIndex = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);
const nullableNumber = (v: unknown) => v === null || isNumber(v);
const MAX_OPEN = 50;

/** Validates a message from the webview; undefined for anything malformed. */
export function parseSweepWebviewMessage(m: unknown): SweepWebviewMessage | undefined {
  if (!isObject(m)) return undefined;
  if (m.type === 'ready') return { type: 'ready' };
  if (
    m.type === 'openTasks' &&
    Array.isArray(m.indices) &&
    m.indices.length >= 1 &&
    m.indices.length <= MAX_OPEN &&
    m.indices.every(isIndex)
  )
    return { type: 'openTasks', indices: [...new Set(m.indices as number[])] };
  return undefined;
}

function isMeanSd(v: unknown): v is MeanSd {
  return isObject(v) && isNumber(v.mean) && nullableNumber(v.sd) && isIndex(v.n);
}

function isInterval(v: unknown): v is PairedInterval {
  return (
    isObject(v) &&
    isNumber(v.mean) &&
    nullableNumber(v.low) &&
    nullableNumber(v.high) &&
    isNumber(v.level) &&
    isIndex(v.n) &&
    typeof v.includesZero === 'boolean'
  );
}

const isModelMap = (v: unknown) => isObject(v) && Object.values(v).every(isMeanSd);

function isSettingResult(v: unknown): v is SweepSettingResult {
  return (
    isObject(v) &&
    isIndex(v.setting) &&
    isObject(v.values) &&
    isString(v.label) &&
    Array.isArray(v.seeds) &&
    v.seeds.every(Number.isInteger) &&
    isModelMap(v.validation) &&
    optional(v.validationGain, isInterval)
  );
}

function isPoint(v: unknown): v is SweepModelPoint {
  return (
    isObject(v) &&
    isIndex(v.index) &&
    isIndex(v.setting) &&
    Number.isInteger(v.seed) &&
    isString(v.model) &&
    isNumber(v.validationAccuracy) &&
    isNumber(v.params) &&
    isNumber(v.bytes) &&
    optional(v.latencyMs, isNumber) &&
    optional(v.latencyRuntime, isString)
  );
}

/** A plan as sweep.json must hold it; undefined when it does not (a file being written, or not a sweep). */
export function parseSweepPlan(v: unknown): SweepPlan | undefined {
  if (!isObject(v)) return undefined;
  const ok =
    v.v === 1 &&
    isString(v.sweepId) &&
    isString(v.name) &&
    isString(v.configFile) &&
    (v.mode === 'seeds' || v.mode === 'grid' || v.mode === 'random') &&
    Array.isArray(v.keys) &&
    v.keys.every(isString) &&
    Array.isArray(v.seeds) &&
    v.seeds.every(Number.isInteger) &&
    Array.isArray(v.settings) &&
    v.settings.every((s) => isObject(s) && isIndex(s.id) && isObject(s.values) && isString(s.label)) &&
    Array.isArray(v.tasks) &&
    v.tasks.every(
      (t) => isObject(t) && isIndex(t.index) && isIndex(t.setting) && Number.isInteger(t.seed) && isString(t.dir),
    );
  return ok ? (v as unknown as SweepPlan) : undefined;
}

/** An aggregate as aggregate.json must hold it; undefined otherwise. */
export function parseSweepAggregate(v: unknown): SweepAggregate | undefined {
  if (!isObject(v)) return undefined;
  const test = v.test;
  const ok =
    v.v === 1 &&
    isString(v.sweepId) &&
    isObject(v.tasks) &&
    Array.isArray(v.settings) &&
    v.settings.every(isSettingResult) &&
    (v.chosen === null || isIndex(v.chosen)) &&
    Array.isArray(v.points) &&
    v.points.every(isPoint) &&
    optional(
      test,
      (t) =>
        isObject(t) &&
        isIndex(t.setting) &&
        isModelMap(t.models) &&
        optional(t.gain, isInterval) &&
        Array.isArray(t.perSeed),
    );
  return ok ? (v as unknown as SweepAggregate) : undefined;
}

const STATES = new Set(['pending', 'queued', 'running', 'finished', 'failed', 'stopped']);

function isStatus(v: unknown): v is SweepTaskStatus {
  return (
    isObject(v) &&
    isIndex(v.index) &&
    isIndex(v.setting) &&
    Number.isInteger(v.seed) &&
    STATES.has(v.state as string) &&
    ['runId', 'slurmJob', 'slurmState', 'error'].every((k) => optional(v[k], isString))
  );
}

/** Validates a message from the host (the version must agree; plan, statuses and aggregate are checked). */
export function parseSweepViewMessage(m: unknown): SweepViewMessage | undefined {
  if (!isObject(m) || m.type !== 'sweep' || m.v !== SWEEP_VIEW_VERSION || !isString(m.dir)) return undefined;
  const plan = parseSweepPlan(m.plan);
  if (!plan || !Array.isArray(m.statuses) || !m.statuses.every(isStatus)) return undefined;
  const aggregate = m.aggregate === undefined ? undefined : parseSweepAggregate(m.aggregate);
  if (m.aggregate !== undefined && !aggregate) return undefined;
  return { type: 'sweep', v: SWEEP_VIEW_VERSION, dir: m.dir, plan, statuses: m.statuses, aggregate };
}
