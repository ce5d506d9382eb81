/**
 * What the dashboard draws of a run: its state from the protocol's one fold (foldRun: status,
 * backend, per-phase best and test metrics, summary, latency) and, for the charts, its steps and
 * epochs as columns. Pure: no DOM, unit-tested under plain node. Knows only the protocol.
 */
import {
  phaseModelName,
  type EvalMetrics,
  type MeasuredModel,
  type Phase,
  type RunEvent,
  type SummaryRow,
} from '../src/protocol/events.ts';
import { emptyRunState, foldRun, type PhaseState, type RunState } from '../src/protocol/run.ts';

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
  /** The temperature of each annealed term at the epoch's last step, by its logged name. */
  temperatures?: Record<string, number>;
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
  /** Each annealed term's temperature in the order it first appeared; null where an epoch lacks it. */
  temperature: Map<string, Array<number | null>>;
}

export interface PhaseSeries {
  phase: Phase;
  /** Keyed by step / epoch: a resumed run re-runs some and the last one counts. */
  steps: Map<number, StepPoint>;
  epochs: Map<number, EpochPoint>;
  /** Read them with stepColumns / epochColumns: they may be stale. */
  stepCols: StepColumns | undefined;
  epochCols: EpochColumns | undefined;
}

export interface RunModel {
  dir: string;
  id: string;
  /** Everything but the curves: the protocol's fold of the run's events. */
  state: RunState;
  /** The curves: phases with step or epoch events. */
  series: Map<Phase, PhaseSeries>;
  /** The run's config.json as the host sent it (the config diff of compared runs). */
  config?: unknown;
}

export function emptyRun(dir: string, id: string): RunModel {
  return { dir, id, state: emptyRunState(), series: new Map() };
}

function series(run: RunModel, phase: Phase): PhaseSeries {
  let s = run.series.get(phase);
  if (!s)
    run.series.set(
      phase,
      (s = {
        phase,
        steps: new Map(),
        epochs: new Map(),
        stepCols: emptyStepColumns(),
        epochCols: emptyEpochColumns(),
      }),
    );
  return s;
}

const emptyStepColumns = (): StepColumns => ({ xs: [], learningRate: [], loss: new Map() });
const emptyEpochColumns = (): EpochColumns => ({
  xs: [],
  trainLoss: [],
  validationLoss: [],
  trainAccuracy: [],
  validationAccuracy: [],
  agreement: [],
  learningRate: [],
  temperature: new Map(),
});
const last = (xs: number[]) => (xs.length === 0 ? -Infinity : xs[xs.length - 1]);

/** Appends one point's values to columns by name (`n` points before it); a new name gets nulls before it. */
function pushNamed(columns: Map<string, Array<number | null>>, n: number, values: Record<string, number>): void {
  for (const [name, ys] of columns) ys.push(values[name] ?? null);
  for (const name of Object.keys(values))
    if (!columns.has(name)) {
      const ys: Array<number | null> = new Array(n).fill(null);
      ys.push(values[name] ?? null);
      columns.set(name, ys);
    }
}

function pushStep(c: StepColumns, p: StepPoint): void {
  const n = c.xs.length;
  c.xs.push(p.step);
  c.learningRate.push(p.learningRate);
  pushNamed(c.loss, n, p.loss);
}

function pushEpoch(c: EpochColumns, p: EpochPoint): void {
  pushNamed(c.temperature, c.xs.length, p.temperatures ?? {});
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
  run.state = foldRun(events, run.state);
  for (const e of events) {
    if (e.type === 'step') {
      const s = series(run, e.phase);
      const p: StepPoint = {
        step: e.step,
        epoch: e.epoch,
        loss: e.loss,
        learningRate: e.learningRate,
        samplesPerSecond: e.samplesPerSecond,
      };
      // Appending keeps the columns; a re-sent or earlier step makes them stale.
      if (s.stepCols && e.step > last(s.stepCols.xs)) pushStep(s.stepCols, p);
      else s.stepCols = undefined;
      s.steps.set(e.step, p);
    } else if (e.type === 'epoch') {
      const s = series(run, e.phase);
      const p: EpochPoint = {
        epoch: e.epoch,
        trainLoss: e.train.loss.total,
        trainAccuracy: e.train.accuracy,
        validation: e.validation,
        learningRate: e.learningRate,
        ...(e.temperatures ? { temperatures: e.temperatures } : {}),
      };
      if (s.epochCols && e.epoch > last(s.epochCols.xs)) pushEpoch(s.epochCols, p);
      else s.epochCols = undefined;
      s.epochs.set(e.epoch, p);
    }
  }
  return run;
}

/** Sorted points of a map, for charts. */
export const sorted = <T>(m: Map<number, T>): Array<[number, T]> => [...m.entries()].sort((a, b) => a[0] - b[0]);

/** An intermediate model of a teacher-assistant chain, a born-again run or a staged run's pre-training. */
export const isStage = (model: string): boolean => /^(assistant|generation|pretrain)-\d+$/.test(model);

/**
 * Where a model (a summary row's name) goes in tables: teacher, the further teachers (teacher-2,
 * ...), scratch, the assistants from the largest (assistant-1), the generations in order, the
 * pre-training stages in order, the distilled student, then anything unknown.
 */
export function modelRank(model: string): number {
  if (model === 'teacher') return 0;
  const further = /^teacher-(\d+)$/.exec(model);
  if (further) return Number(further[1]) / 1e3;
  if (model === 'scratch') return 1;
  const m = /^(assistant|generation|pretrain)-(\d+)$/.exec(model);
  if (m) return (m[1] === 'assistant' ? 1e6 : m[1] === 'generation' ? 2e6 : 2.5e6) + Number(m[2]);
  if (model === 'distilled') return 3e6;
  return 4e6;
}

const byRank = (a: { phase: Phase }, b: { phase: Phase }) =>
  modelRank(phaseModelName(a.phase)) - modelRank(phaseModelName(b.phase));

/** A run's phase series (curves) in the order of modelRank (teacher, scratch, assistants, generations, distilled). */
export function orderedSeries(run: RunModel): PhaseSeries[] {
  return [...run.series.values()].sort(byRank);
}

/** A run's phases as folded (sizes, best and test metrics), in the order of modelRank. */
export function orderedPhases(run: RunModel): PhaseState[] {
  return Object.values(run.state.byPhase)
    .filter((p): p is PhaseState => p !== undefined)
    .sort(byRank);
}

/** A row of the comparison table: a summary row, or before the summary a phase's test evaluation (sizes once the phase has started). */
export type Row = Omit<SummaryRow, 'params' | 'bytes'> & { params?: number; bytes?: number };

/** The run's models: its summary once finished, before that the phases' test evaluations; in modelRank order. */
export function modelRows(run: RunModel): Row[] {
  const rows: Row[] =
    run.state.summary ??
    orderedPhases(run)
      .filter((p) => p.test)
      .map((p) => ({
        model: phaseModelName(p.phase),
        accuracy: p.test!.accuracy,
        agreement: p.test!.agreement,
        params: p.params,
        bytes: p.params === undefined ? undefined : p.params * 4,
      }));
  return [...rows].sort((a, b) => modelRank(a.model) - modelRank(b.model));
}

export interface Stage {
  model: string;
  row?: Row;
}

/** The stages of a chain or born-again run in run order (teacher, assistants, generations, distilled), with scratch apart; undefined for other runs. */
export function stagesOf(run: RunModel): { stages: Stage[]; scratch?: Row } | undefined {
  const rows = modelRows(run);
  // Phases that have not reported yet are listed too (from run_started), without numbers.
  const names = new Set([...rows.map((r) => r.model), ...run.state.phases.map(phaseModelName)]);
  names.delete('scratch');
  if (![...names].some(isStage)) return undefined;
  const stages = [...names]
    .sort((a, b) => modelRank(a) - modelRank(b))
    .map((model) => ({ model, row: rows.find((r) => r.model === model) }));
  return { stages, scratch: rows.find((r) => r.model === 'scratch') };
}

/** Which latency and ONNX numbers belong to a row: scratch has the student's architecture; intermediate models were not measured; a born-again ensemble is timed running all its generations. */
export function measuredAs(model: string): MeasuredModel | undefined {
  if (model === 'teacher' || model === 'ban-ensemble') return model;
  return model === 'distilled' || model === 'scratch' ? 'student' : undefined;
}

/** The comparison table as CSV (RFC 4180), one block per run. */
export function summaryCsv(runs: RunModel[]): string {
  const head = [
    'run',
    'model',
    'test_accuracy',
    'agreement',
    'params',
    'bytes_fp32',
    'macs',
    'onnx_bytes',
    'runtime',
    'batch',
    'p50_ms',
    'p99_ms',
    'learned_from',
  ];
  const cell = (v: string | number) =>
    typeof v === 'string' && /[,"\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v);
  const rows = [head.join(',')];
  for (const r of runs)
    for (const s of r.state.summary ?? []) {
      const which = measuredAs(s.model);
      const lat = which ? r.state.latency.filter((l) => l.model === which && !l.precision) : [];
      const base = [
        r.id,
        s.model,
        s.accuracy,
        s.agreement ?? '',
        s.params,
        s.bytes,
        s.macs ?? '',
        (which && r.state.onnxBytes[which]) ?? '',
      ];
      if (lat.length === 0) rows.push([...base, '', '', '', '', s.learnedFrom ?? ''].map(cell).join(','));
      for (const l of lat)
        rows.push([...base, l.runtime, l.batch, l.p50Ms, l.p99Ms, s.learnedFrom ?? ''].map(cell).join(','));
    }
  return `${rows.join('\n')}\n`;
}
