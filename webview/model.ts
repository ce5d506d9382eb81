/** Folds a run's events into what the dashboard draws. Knows only the protocol. */
import type { BackendInfo, EvalMetrics, LatencyResult, Phase, RunEvent, SummaryRow } from '../src/protocol/events.ts';

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

export interface PhaseSeries {
  phase: Phase;
  /** Keyed by step / epoch: a resumed run re-runs some and the last one counts. */
  steps: Map<number, StepPoint>;
  epochs: Map<number, EpochPoint>;
  test?: EvalMetrics;
  params?: number;
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
  if (!s) run.series.set(phase, (s = { phase, steps: new Map(), epochs: new Map() }));
  return s;
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
      case 'step':
        series(run, e.phase).steps.set(e.step, { step: e.step, epoch: e.epoch, loss: e.loss, learningRate: e.learningRate, samplesPerSecond: e.samplesPerSecond });
        break;
      case 'epoch':
        series(run, e.phase).epochs.set(e.epoch, { epoch: e.epoch, trainLoss: e.train.loss.total, trainAccuracy: e.train.accuracy, validation: e.validation, learningRate: e.learningRate });
        break;
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

/** The comparison table as CSV (RFC 4180), one block per run. */
export function summaryCsv(runs: RunModel[]): string {
  const head = ['run', 'model', 'test_accuracy', 'agreement', 'params', 'bytes_fp32', 'macs', 'onnx_bytes', 'runtime', 'batch', 'p50_ms', 'p99_ms'];
  const rows = [head.join(',')];
  for (const r of runs)
    for (const s of r.summary ?? []) {
      const which = s.model === 'teacher' ? 'teacher' : 'student';
      const lat = r.latency.filter((l) => l.model === which);
      const base = [r.id, s.model, s.accuracy, s.agreement ?? '', s.params, s.bytes, s.macs ?? '', r.onnxBytes[which] ?? ''];
      if (lat.length === 0) rows.push([...base, '', '', '', ''].join(','));
      for (const l of lat) rows.push([...base, l.runtime, l.batch, l.p50Ms, l.p99Ms].map((v) => (typeof v === 'string' && /[,"]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v))).join(','));
    }
  return `${rows.join('\n')}\n`;
}
