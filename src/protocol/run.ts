/**
 * A run as its readers see it: `run.json`'s type (RunRecord) and the one fold of a run's events
 * (foldRun) that the Runs tree, the status bar, the Active Run view and the dashboard all use, so
 * that "best accuracy", progress and status mean the same thing everywhere.
 *
 * Best accuracy, defined once:
 * - a phase's best validation accuracy is its validation accuracy at its best epoch: the epoch
 *   its `phase_finished` names, and before that the epoch with the highest validation accuracy so
 *   far (the earliest on ties, as the trainer picks it). A resumed run re-runs some epochs: the
 *   last event of an epoch wins.
 * - test accuracy comes only from test evaluations (`evaluation` events with split `test`).
 * - a run's headline accuracy (runAccuracy) is its final student's test accuracy once evaluated,
 *   before that the best validation accuracy of its students (every phase but the teacher).
 */
import type {
  BackendInfo,
  EpochExamples,
  EvalMetrics,
  LatencyResult,
  MeasuredModel,
  Phase,
  RunEvent,
  SummaryRow,
  TrainingStep,
  UnlabeledData,
} from './events.ts';

export type RunStatus = 'running' | 'finished' | 'failed' | 'stopped';

/** `run.json`: what a run list needs without reading the events. */
export interface RunRecord {
  runId: string;
  name: string;
  status: RunStatus;
  pid: number;
  /** The trainer process's start stamp (src/core/run/processIdentity.ts): with `pid`, which process the trainer is; absent in older run.json files. */
  pidStart?: string;
  configFile: string;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  backend?: BackendInfo;
  phase?: Phase;
  epoch?: number;
  error?: string;
  summary?: SummaryRow[];
  normalization?: string;
  // What the Runs view shows, from the fold of the events written so far (absent in older run.json files).
  /** The phases the run plans, in run order. */
  phases?: Phase[];
  /** Planned epochs of `phase`. */
  epochs?: number;
  /** runProgress: 0..1 over all phases. */
  progress?: number;
  /** runAccuracy: the headline accuracy so far and which accuracy it is. */
  accuracy?: RunAccuracy;
  /** How the run distils (the Run History's method, strategy and seed columns; absent in older run.json files). */
  setup?: RunSetup;
  /** The latency benchmark of a finished run (the run_finished event's). */
  latency?: LatencyResult[];
}

/** What a run is, in a few words: `method` is kd, none, or the combined terms (`hint+kd`); `strategy` the strategy type. */
export interface RunSetup {
  method: string;
  strategy: string;
  seed: number;
  /** Label smoothing ε of the hard-label term, when not 0. */
  labelSmoothing?: number;
}

export interface PhaseState {
  phase: Phase;
  params?: number;
  /** Planned epochs (phase_started). */
  epochs?: number;
  stepsPerEpoch?: number;
  /** First epoch of the latest (possibly resumed) start of the phase, 1-based. */
  fromEpoch?: number;
  /** Time of the latest phase_started. */
  startedAt?: string;
  /** The latest epoch reported (0 before any). */
  epoch: number;
  /** Time of the latest epoch event. */
  epochAt?: string;
  /** Train loss (total) of the latest epoch. */
  trainLoss?: number;
  /** The examples the latest epoch trained on (labeled, unlabeled, pseudo-labeled). */
  examples?: EpochExamples;
  /** Total loss of the latest step or epoch. */
  lastLoss?: number;
  /** Validation metrics by epoch; a re-run epoch replaces the earlier one. */
  validation: Record<number, EvalMetrics>;
  /** The best epoch (see the module comment) and its validation metrics. */
  bestEpoch?: number;
  best?: EvalMetrics;
  finished: boolean;
  stoppedEarly?: boolean;
  /** How its training steps ran, once finished (phase_finished). */
  step?: TrainingStep;
  /** The phase's test evaluation. */
  test?: EvalMetrics;
}

export interface RunState {
  status: RunStatus;
  runId?: string;
  name?: string;
  configFile?: string;
  resumed: boolean;
  pid?: number;
  startedAt?: string;
  updatedAt?: string;
  backend?: BackendInfo;
  data?: {
    train: number;
    validation: number;
    test: number;
    inputShape: number[];
    classes: number;
    classNames?: string[];
    unlabeled?: UnlabeledData;
  };
  /** The phases the run plans, in run order. */
  phases: Phase[];
  /** The phase training now (or last trained); cleared when the run finishes. */
  phase?: Phase;
  byPhase: Partial<Record<Phase, PhaseState>>;
  summary?: SummaryRow[];
  latency: LatencyResult[];
  onnxBytes: Partial<Record<MeasuredModel, number>>;
  /** Reduced-precision ONNX exports (artifact events with a precision), latest per model and precision. */
  precisionExports?: PrecisionExport[];
  warnings: string[];
  /** Why the run failed. */
  error?: string;
  lastCheckpoint?: string;
  /** Total loss of the latest step or epoch of any phase. */
  lastLoss?: number;
  /** How many events were folded. */
  events: number;
}

/** A reduced-precision ONNX export of a run's model, with its test accuracy and its fp32 export's, both measured in onnxruntime. */
export interface PrecisionExport {
  model: 'student' | 'teacher' | 'scratch';
  precision: 'fp16' | 'int8';
  bytes: number;
  testAccuracy?: number;
  fp32TestAccuracy?: number;
}

export const emptyRunState = (): RunState => ({
  status: 'running',
  resumed: false,
  phases: [],
  byPhase: {},
  latency: [],
  onnxBytes: {},
  warnings: [],
  events: 0,
});

const emptyPhase = (phase: Phase): PhaseState => ({ phase, epoch: 0, validation: {}, finished: false });

/** The best epoch of a phase and its validation metrics (see the module comment). */
function bestOf(p: PhaseState): { epoch: number; metrics: EvalMetrics } | undefined {
  if (p.bestEpoch !== undefined && p.finished && p.validation[p.bestEpoch])
    return { epoch: p.bestEpoch, metrics: p.validation[p.bestEpoch] };
  let best: { epoch: number; metrics: EvalMetrics } | undefined;
  for (const [k, m] of Object.entries(p.validation)) {
    const epoch = Number(k);
    if (!best || m.accuracy > best.metrics.accuracy || (m.accuracy === best.metrics.accuracy && epoch < best.epoch))
      best = { epoch, metrics: m };
  }
  return best;
}

/**
 * Folds a run's events into its state. Incremental: `foldRun(b, foldRun(a))` equals
 * `foldRun([...a, ...b])`. `previous` is never modified (the result shares what did not change).
 */
export function foldRun(events: readonly RunEvent[], previous?: RunState): RunState {
  const s: RunState = previous ? { ...previous, byPhase: { ...previous.byPhase } } : emptyRunState();
  const touched = new Set<Phase>();
  const phase = (ph: Phase): PhaseState => {
    const old = s.byPhase[ph];
    if (!touched.has(ph)) {
      touched.add(ph);
      s.byPhase[ph] = old ? { ...old, validation: { ...old.validation } } : emptyPhase(ph);
    }
    return s.byPhase[ph]!;
  };
  for (const e of events) {
    s.events += 1;
    s.updatedAt = e.t;
    switch (e.type) {
      case 'run_started':
        Object.assign(s, {
          status: 'running',
          runId: e.runId,
          name: e.name,
          configFile: e.configFile,
          pid: e.pid,
          backend: e.backend,
          data: e.data,
          phases: e.phases,
          error: undefined,
        });
        s.resumed = s.resumed || e.resumed;
        s.startedAt ??= e.t;
        break;
      case 'phase_started': {
        const p = phase(e.phase);
        Object.assign(p, {
          params: e.model.params,
          epochs: e.epochs,
          stepsPerEpoch: e.stepsPerEpoch,
          fromEpoch: e.fromEpoch,
          startedAt: e.t,
          finished: false,
        });
        s.phase = e.phase;
        break;
      }
      case 'step': {
        const p = phase(e.phase);
        p.lastLoss = s.lastLoss = e.loss.total;
        s.phase = e.phase;
        break;
      }
      case 'epoch': {
        const p = phase(e.phase);
        p.epoch = e.epoch;
        p.epochs ??= e.epochs;
        p.epochAt = e.t;
        p.trainLoss = p.lastLoss = s.lastLoss = e.train.loss.total;
        if (e.examples) p.examples = e.examples;
        if (e.validation) p.validation[e.epoch] = e.validation;
        else delete p.validation[e.epoch];
        s.phase = e.phase;
        break;
      }
      case 'phase_finished': {
        const p = phase(e.phase);
        Object.assign(p, { finished: true, bestEpoch: e.bestEpoch, stoppedEarly: e.stoppedEarly });
        if (e.step) p.step = e.step;
        break;
      }
      case 'checkpoint':
        s.lastCheckpoint = e.path;
        break;
      case 'evaluation':
        if (e.split === 'test') phase(e.phase).test = e.metrics;
        break;
      case 'benchmark':
        s.latency = [
          ...s.latency.filter(
            (l) =>
              !(
                l.model === e.result.model &&
                l.runtime === e.result.runtime &&
                l.batch === e.result.batch &&
                l.precision === e.result.precision
              ),
          ),
          e.result,
        ];
        break;
      case 'artifact':
        if (e.precision) {
          const model = e.kind.slice(0, e.kind.indexOf('-')) as PrecisionExport['model'];
          const { precision, bytes, testAccuracy, fp32TestAccuracy } = e;
          s.precisionExports = [
            ...(s.precisionExports ?? []).filter((x) => !(x.model === model && x.precision === precision)),
            { model, precision, bytes, testAccuracy, fp32TestAccuracy },
          ];
        }
        break;
      case 'warning':
        s.warnings = [...s.warnings, e.message];
        break;
      case 'run_finished':
        s.status = 'finished';
        s.summary = e.summary;
        s.phase = undefined;
        if (e.latency) s.latency = e.latency;
        if (e.onnxBytes) s.onnxBytes = e.onnxBytes;
        break;
      case 'run_failed':
        s.status = 'failed';
        s.error = e.reason;
        if (e.lastCheckpoint) s.lastCheckpoint = e.lastCheckpoint;
        break;
      case 'run_stopped':
        s.status = 'stopped';
        if (e.lastCheckpoint) s.lastCheckpoint = e.lastCheckpoint;
        break;
      default:
        break;
    }
  }
  for (const ph of touched) {
    const p = s.byPhase[ph]!;
    const best = bestOf(p);
    p.bestEpoch = p.finished ? p.bestEpoch : best?.epoch;
    p.best = best?.metrics;
  }
  return s;
}

/** The phase whose model is the run's result: the distilled student, else the scratch baseline, else the last phase planned. */
export function finalPhase(s: RunState): Phase | undefined {
  if (s.phases.includes('distill')) return 'distill';
  if (s.phases.includes('scratch')) return 'scratch';
  return s.phases.at(-1);
}

export interface RunAccuracy {
  accuracy: number;
  split: 'test' | 'validation';
  phase: Phase;
}

/** The run's headline accuracy (see the module comment); undefined before any student has a validation accuracy. */
export function runAccuracy(s: RunState): RunAccuracy | undefined {
  const final = finalPhase(s);
  const test = final && s.byPhase[final]?.test;
  if (final && test) return { accuracy: test.accuracy, split: 'test', phase: final };
  let best: RunAccuracy | undefined;
  for (const p of Object.values(s.byPhase))
    if (p && p.phase !== 'teacher' && p.best && (!best || p.best.accuracy > best.accuracy))
      best = { accuracy: p.best.accuracy, split: 'validation', phase: p.phase };
  return best;
}

/** 0..1 over all phases of the run (each phase an equal share); 1 once finished; undefined before run_started. */
export function runProgress(s: RunState): number | undefined {
  if (s.phases.length === 0) return undefined;
  if (s.status === 'finished') return 1;
  const share = 1 / s.phases.length;
  return s.phases.reduce((sum, ph) => {
    const p = s.byPhase[ph];
    if (!p) return sum;
    if (p.finished) return sum + share;
    return sum + share * Math.min(1, p.epoch / (p.epochs ?? Infinity));
  }, 0);
}

/** The fields of run.json that follow from the fold (the trainer writes them with every run.json). */
export function recordView(s: RunState): Pick<RunRecord, 'phases' | 'epochs' | 'progress' | 'accuracy'> {
  const current = s.phase ?? [...s.phases].reverse().find((ph) => s.byPhase[ph]);
  return {
    phases: s.phases.length ? s.phases : undefined,
    epochs: current ? s.byPhase[current]?.epochs : undefined,
    progress: runProgress(s),
    accuracy: runAccuracy(s),
  };
}

/** The headline accuracy of a finished run from its run.json alone: the final student's test accuracy in the summary (the same number as its test evaluation). */
export function recordAccuracy(record: Pick<RunRecord, 'summary'>): number | undefined {
  const rows = record.summary ?? [];
  return (rows.find((r) => r.model === 'distilled') ?? rows.find((r) => r.model === 'scratch'))?.accuracy;
}
