/** Folds a run's events into what the dashboard draws. Knows only the protocol. */
import { phaseModelName, type BackendInfo, type EvalMetrics, type LatencyResult, type Phase, type RunEvent, type SummaryRow } from '../src/protocol/events.ts';

export interface StepPoint {
  step: number;
  epoch: number;
  loss: Record<string, number>;
  learningRate: number;
  samplesPerSecond: number;
}

export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  validation: EvalMetrics | null;
  learningRate: number;
}

/**
 * The step events of a phase as columns for the charts: `xs` strictly increasing, every other
 * array as long as `xs`. Live events only append to them; a step that is re-sent (a resumed run)
 * or out of order makes them stale, and they are rebuilt from the map once (new arrays).
 */
export interface StepColumns {
  xs: number[];
  learningRate: number[];
  /** Each loss term in the order it first appeared; null where a step lacks the term. */
  loss: Map<string, Array<number | null>>;
}

/** The epoch events of a phase as columns, kept like StepColumns. */
export interface EpochColumns {
  xs: number[];
  trainLoss: Array<number | null>;
  validationLoss: Array<number | null>;
  trainAccuracy: Array<number | null>;
  validationAccuracy: Array<number | null>;
  agreement: Array<number | null>;
  learningRate: Array<number | null>;
}

export interface PhaseSeries {
  phase: Phase;
  /** Keyed by step / epoch: a resumed run re-runs some and the last one counts. */
  steps: Map<number, StepPoint>;
  epochs: Map<number, EpochPoint>;
  test?: EvalMetrics;
  params?: number;
  /** Read them with stepColumns / epochColumns: they may be stale. */
  stepCols: StepColumns | undefined;
  epochCols: EpochColumns | undefined;
}

export type RunStatus = 'running' | 'finished' | 'failed' | 'stopped';

export interface RunModel {
  dir: string;
  id: string;
  name?: string;
  status: RunStatus;
  backend?: BackendInfo;
  data?: { train: number; validation: number; test: number; inputShape: number[]; classes: number; classNames?: string[] };
  phases: Phase[];
  series: Map<Phase, PhaseSeries>;
  summary?: SummaryRow[];
  latency: LatencyResult[];
  onnxBytes: Partial<Record<'teacher' | 'student', number>>;
  failure?: string;
  warnings: string[];
  events: number;
}

export function emptyRun(dir: string, id: string): RunModel {
  return { dir, id, status: 'running', phases: [], series: new Map(), latency: [], onnxBytes: {}, warnings: [], events: 0 };
}

function series(run: RunModel, phase: Phase): PhaseSeries {
  let s = run.series.get(phase);
  if (!s) run.series.set(phase, (s = { phase, steps: new Map(), epochs: new Map(), stepCols: emptyStepColumns(), epochCols: emptyEpochColumns() }));
  return s;
}

const emptyStepColumns = (): StepColumns => ({ xs: [], learningRate: [], loss: new Map() });
const emptyEpochColumns = (): EpochColumns => ({ xs: [], trainLoss: [], validationLoss: [], trainAccuracy: [], validationAccuracy: [], agreement: [], learningRate: [] });
const last = (xs: number[]) => (xs.length === 0 ? -Infinity : xs[xs.length - 1]);

function pushStep(c: StepColumns, p: StepPoint): void {
  const n = c.xs.length;
  c.xs.push(p.step);
  c.learningRate.push(p.learningRate);
  for (const [term, ys] of c.loss) ys.push(p.loss[term] ?? null);
  for (const term of Object.keys(p.loss))
    if (!c.loss.has(term)) {
      const ys: Array<number | null> = new Array(n).fill(null);
      ys.push(p.loss[term] ?? null);
      c.loss.set(term, ys);
    }
}

function pushEpoch(c: EpochColumns, p: EpochPoint): void {
  c.xs.push(p.epoch);
  c.trainLoss.push(p.trainLoss ?? null);
  c.validationLoss.push(p.validation?.loss ?? null);
  c.trainAccuracy.push(p.trainAccuracy ?? null);
  c.validationAccuracy.push(p.validation?.accuracy ?? null);
  c.agreement.push(p.validation?.agreement ?? null);
  c.learningRate.push(p.learningRate ?? null);
}

/** The phase's steps as chart columns; the same arrays (grown) from call to call while events only append. */
export function stepColumns(s: PhaseSeries): StepColumns {
  if (!s.stepCols) {
    s.stepCols = emptyStepColumns();
    for (const [, p] of sorted(s.steps)) pushStep(s.stepCols, p);
  }
  return s.stepCols;
}

/** The phase's epochs as chart columns, kept like stepColumns. */
export function epochColumns(s: PhaseSeries): EpochColumns {
  if (!s.epochCols) {
    s.epochCols = emptyEpochColumns();
    for (const [, p] of sorted(s.epochs)) pushEpoch(s.epochCols, p);
  }
  return s.epochCols;
}

export function applyEvents(run: RunModel, events: RunEvent[]): RunModel {
  for (const e of events) {
    run.events += 1;
    switch (e.type) {
      case 'run_started':
        run.name = e.name;
        run.backend = e.backend;
        run.data = e.data;
        run.phases = e.phases;
        run.status = 'running';
        run.failure = undefined;
        break;
      case 'phase_started':
        series(run, e.phase).params = e.model.params;
        break;
      case 'step': {
        const s = series(run, e.phase);
        const p: StepPoint = { step: e.step, epoch: e.epoch, loss: e.loss, learningRate: e.learningRate, samplesPerSecond: e.samplesPerSecond };
        // Appending keeps the columns; a re-sent or earlier step makes them stale.
        if (s.stepCols && e.step > last(s.stepCols.xs)) pushStep(s.stepCols, p);
        else s.stepCols = undefined;
        s.steps.set(e.step, p);
        break;
      }
      case 'epoch': {
        const s = series(run, e.phase);
        const p: EpochPoint = { epoch: e.epoch, trainLoss: e.train.loss.total, trainAccuracy: e.train.accuracy, validation: e.validation, learningRate: e.learningRate };
        if (s.epochCols && e.epoch > last(s.epochCols.xs)) pushEpoch(s.epochCols, p);
        else s.epochCols = undefined;
        s.epochs.set(e.epoch, p);
        break;
      }
      case 'evaluation':
        series(run, e.phase).test = e.metrics;
        break;
      case 'benchmark':
        run.latency = [...run.latency.filter((l) => !(l.model === e.result.model && l.runtime === e.result.runtime && l.batch === e.result.batch)), e.result];
        break;
      case 'warning':
        run.warnings.push(e.message);
        break;
      case 'run_finished':
        run.status = 'finished';
        run.summary = e.summary;
        if (e.latency) run.latency = e.latency;
        if (e.onnxBytes) run.onnxBytes = e.onnxBytes;
        break;
      case 'run_failed':
        run.status = 'failed';
        run.failure = e.reason;
        break;
      case 'run_stopped':
        run.status = 'stopped';
        break;
      default:
        break;
    }
  }
  return run;
}

/** Sorted points of a map, for charts. */
export const sorted = <T>(m: Map<number, T>): Array<[number, T]> => [...m.entries()].sort((a, b) => a[0] - b[0]);

/** An intermediate model of a teacher-assistant chain or a born-again run. */
export const isStage = (model: string): boolean => /^(assistant|generation)-\d+$/.test(model);

/**
 * Where a model (a summary row's name) goes in tables: teacher, scratch, the assistants from the
 * largest (assistant-1), the generations in order, the distilled student, then anything unknown.
 */
export function modelRank(model: string): number {
  if (model === 'teacher') return 0;
  if (model === 'scratch') return 1;
  const m = /^(assistant|generation)-(\d+)$/.exec(model);
  if (m) return (m[1] === 'assistant' ? 1e6 : 2e6) + Number(m[2]);
  if (model === 'distilled') return 3e6;
  return 4e6;
}

/** A run's phase series in the order of modelRank (teacher, scratch, assistants, generations, distilled). */
export function orderedSeries(run: RunModel): PhaseSeries[] {
  return [...run.series.values()].sort((a, b) => modelRank(phaseModelName(a.phase)) - modelRank(phaseModelName(b.phase)));
}

/** Which latency and ONNX numbers belong to a row: scratch has the student's architecture; intermediate models were not measured. */
export function measuredAs(model: string): 'teacher' | 'student' | undefined {
  return model === 'teacher' ? 'teacher' : model === 'distilled' || model === 'scratch' ? 'student' : undefined;
}

/** The comparison table as CSV (RFC 4180), one block per run. */
export function summaryCsv(runs: RunModel[]): string {
  const head = ['run', 'model', 'test_accuracy', 'agreement', 'params', 'bytes_fp32', 'macs', 'onnx_bytes', 'runtime', 'batch', 'p50_ms', 'p99_ms', 'learned_from'];
  const cell = (v: string | number) => (typeof v === 'string' && /[,"\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
  const rows = [head.join(',')];
  for (const r of runs)
    for (const s of r.summary ?? []) {
      const which = measuredAs(s.model);
      const lat = which ? r.latency.filter((l) => l.model === which) : [];
      const base = [r.id, s.model, s.accuracy, s.agreement ?? '', s.params, s.bytes, s.macs ?? '', (which && r.onnxBytes[which]) ?? ''];
      if (lat.length === 0) rows.push([...base, '', '', '', '', s.learnedFrom ?? ''].map(cell).join(','));
      for (const l of lat) rows.push([...base, l.runtime, l.batch, l.p50Ms, l.p99Ms, s.learnedFrom ?? ''].map(cell).join(','));
    }
  return `${rows.join('\n')}\n`;
}
