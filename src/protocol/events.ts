/**
 * The events a trainer appends to `<run>/events.jsonl`, one JSON object per line. They are the
 * single source of truth for a run: the CLI summary, the extension's tree and the dashboard are
 * all rebuilt from them. Every line carries `v` (the protocol version) and `t` (ISO time).
 * Additive changes keep the version; a breaking change bumps it and readers say so plainly.
 */

import type { AdapterInfo } from './backends.ts';

export const EVENTS_VERSION = 1;

/**
 * Training phases of a run, in the order they run: the teacher (when trained in the run), the
 * teacher assistants of a chain (`assistant-1` is the largest), the from-scratch baseline, the
 * earlier generations of a born-again run (`generation-1`, ...), the pre-training stages of a
 * staged run (`pretrain-1`, ...), and the final student (`distill`).
 */
export type Phase =
  'teacher' | 'scratch' | 'distill' | `assistant-${number}` | `generation-${number}` | `pretrain-${number}`;
export const BASE_PHASES: readonly Phase[] = ['teacher', 'scratch', 'distill'];

/** The summary-row and display name of a phase: `distill` is the distilled student. */
export const phaseModelName = (phase: Phase): SummaryRow['model'] => (phase === 'distill' ? 'distilled' : phase);

export interface BackendInfo {
  /** The backend: tensorflow-gpu, webgpu, tensorflow, wasm or cpu (BackendName; older runs: a tfjs name). */
  name: string;
  /** webgpu: the adapter it runs on (vendor, architecture, device, description, software or not). */
  adapter?: AdapterInfo;
  /** Why it was chosen (and why better ones were not). */
  reason: string;
  /** Where it computes, e.g. "CPU (native TensorFlow 2.x)" or "GPU". */
  device: string;
  /** The preferences tried and what happened to each. */
  tried: Array<{ name: string; ok: boolean; detail: string }>;
}

export interface ModelInfo {
  params: number;
  /** Bytes of the weights at fp32. */
  bytes: number;
  layers: string[];
}

/** Loss terms by name (total, hard, kd, ...); each logged on its own. */
export type LossValues = Record<string, number>;

export interface EvalMetrics {
  accuracy: number;
  /** Mean cross-entropy against the labels. */
  loss: number;
  /** Top-1 agreement with the teacher's predictions (absent without a teacher). */
  agreement?: number;
  /** Mean KL(teacher || model) at T=1 (absent without a teacher). */
  klToTeacher?: number;
  examples: number;
  /** Test evaluations: confusion[true][predicted] counts. */
  confusion?: number[][];
}

interface Base {
  v: typeof EVENTS_VERSION;
  t: string;
}

export interface RunStartedEvent extends Base {
  type: 'run_started';
  runId: string;
  name: string;
  configFile: string;
  resumed: boolean;
  pid: number;
  backend: BackendInfo;
  node: string;
  platform: string;
  phases: Phase[];
  data: {
    train: number;
    validation: number;
    test: number;
    inputShape: number[];
    classes: number;
    classNames?: string[];
    /** `data.unlabeled`: the transfer set's source and size (absent without one). */
    unlabeled?: UnlabeledData;
  };
}

/** A run's unlabeled transfer set. */
export interface UnlabeledData {
  /** Its source and location, e.g. "npy /data/unlabeled.npy". */
  source: string;
  examples: number;
}

/** The training examples an epoch used: a distillation stage that reads a teacher adds the transfer set's. */
export interface EpochExamples {
  labeled: number;
  unlabeled: number;
  /** Unlabeled examples that took the teacher's class as their hard label (`distill.pseudoLabels`). */
  pseudoLabeled?: number;
}

export interface PhaseStartedEvent extends Base {
  type: 'phase_started';
  phase: Phase;
  model: ModelInfo;
  epochs: number;
  stepsPerEpoch: number;
  /** First epoch of this (possibly resumed) phase, 1-based. */
  fromEpoch: number;
}

export interface StepEvent extends Base {
  type: 'step';
  phase: Phase;
  epoch: number;
  /** Global step within the phase, 1-based. */
  step: number;
  learningRate: number;
  /** Mean of each loss term over the steps since the previous step event. */
  loss: LossValues;
  samplesPerSecond: number;
}

export interface EpochEvent extends Base {
  type: 'epoch';
  phase: Phase;
  epoch: number;
  epochs: number;
  learningRate: number;
  train: { loss: LossValues; accuracy: number };
  validation: EvalMetrics | null;
  seconds: number;
  samplesPerSecond: number;
  /** The examples trained on (absent in older runs). */
  examples?: EpochExamples;
  /** The temperature of each annealed term (`finalTemperature`) at the epoch's last step, by its logged name (`kd`, `kd_2`). */
  temperatures?: Record<string, number>;
}

export interface CheckpointEvent extends Base {
  type: 'checkpoint';
  phase: Phase;
  epoch: number;
  path: string;
}

export interface EvaluationEvent extends Base {
  type: 'evaluation';
  phase: Phase;
  split: 'test' | 'validation';
  metrics: EvalMetrics;
}

/** The teacher's logits for every split, computed once per run (exact without augmentation). */
export interface TeacherOutputsEvent extends Base {
  type: 'teacher_outputs';
  examples: number;
  seconds: number;
  /** The on-disk cache: `hit` when the outputs were read from it, else where they were written. */
  cache?: { hit: boolean; dir: string; bytes?: number };
  /** ONNX teachers: the onnxruntime execution provider that computes the outputs (cuda, webgpu or cpu). */
  provider?: string;
  /** Why that one: what kept the better providers out, and for webgpu its adapter. */
  providerDetail?: string;
}

export interface PhaseFinishedEvent extends Base {
  type: 'phase_finished';
  phase: Phase;
  epochs: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Training time, without the final test evaluation. */
  seconds: number;
  /**
   * How its training steps ran: `dense`, the dense student's gradient written out as TensorFlow
   * ops; `tape`, tfjs's automatic differentiation, with why the dense step did not apply.
   */
  step?: TrainingStep;
}

/** How a phase's training steps ran (see PhaseFinishedEvent.step). */
export type TrainingStep = { kind: 'dense' } | { kind: 'tape'; reason: string };

export type ArtifactKind = `${'student' | 'teacher' | 'scratch'}-${'tfjs' | 'onnx' | 'onnx-fp16' | 'onnx-int8'}`;

export interface ArtifactEvent extends Base {
  type: 'artifact';
  kind: ArtifactKind;
  path: string;
  bytes: number;
  /** For ONNX exports: max |onnxruntime - tfjs| over the verification inputs. */
  maxAbsDiff?: number;
  /** For reduced-precision ONNX exports (`export.precisions`): which, and the test accuracy of it
   * and of the fp32 export, both run in onnxruntime. */
  precision?: 'fp16' | 'int8';
  testAccuracy?: number;
  fp32TestAccuracy?: number;
}

/** Latency of one model in one runtime at one batch size. */
/**
 * The models a run times and exports: the teacher, the student (whose architecture the scratch
 * baseline shares), and a born-again run's test-time ensemble of its generations (BAN-E).
 */
export type MeasuredModel = 'teacher' | 'student' | 'ban-ensemble';

export interface LatencyResult {
  model: MeasuredModel;
  runtime: string;
  /** A reduced-precision ONNX export of the model (artifacts/<model>.<precision>.onnx); absent: fp32. */
  precision?: 'fp16' | 'int8';
  batch: number;
  threads: string;
  runs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  samplesPerSecond: number;
}

export interface BenchmarkEvent extends Base {
  type: 'benchmark';
  result: LatencyResult;
}

/** Something the user should know that does not stop the run (e.g. an export that is not possible). */
export interface WarningEvent extends Base {
  type: 'warning';
  message: string;
}

export interface SummaryRow {
  /** The final student is `distilled`; chain and born-again runs add their intermediate models. */
  model:
    | 'teacher'
    | `teacher-${number}`
    | 'scratch'
    | 'distilled'
    | 'peer'
    | 'booster'
    | 'ban-ensemble'
    | `assistant-${number}`
    | `generation-${number}`
    | `pretrain-${number}`;
  /** For intermediate and final students: the model they learned from (`teacher`, `assistant-1`, `generation-2`, `ensemble of generation-1, generation-2`, `distilled (mutual)`). */
  learnedFrom?: string;
  accuracy: number;
  agreement?: number;
  params: number;
  bytes: number;
  /** Multiply-adds per example. */
  macs?: number;
}

export interface RunFinishedEvent extends Base {
  type: 'run_finished';
  seconds: number;
  summary: SummaryRow[];
  /** Latency of teacher and student, when the benchmark ran. */
  latency?: LatencyResult[];
  /** Sizes of the ONNX exports in bytes, when written (the ensemble's: its members' together). */
  onnxBytes?: Partial<Record<MeasuredModel, number>>;
  /** Peak resident memory of the trainer process. */
  peakRssMiB?: number;
}

export interface RunFailedEvent extends Base {
  type: 'run_failed';
  /** `user` for bad input the user can fix; `internal` for bugs and environment failures. */
  kind: 'user' | 'internal';
  reason: string;
  phase?: Phase;
  lastCheckpoint?: string;
}

export interface RunStoppedEvent extends Base {
  type: 'run_stopped';
  signal: string;
  phase?: Phase;
  lastCheckpoint?: string;
}

export type RunEvent =
  | RunStartedEvent
  | PhaseStartedEvent
  | StepEvent
  | EpochEvent
  | CheckpointEvent
  | EvaluationEvent
  | PhaseFinishedEvent
  | TeacherOutputsEvent
  | ArtifactEvent
  | BenchmarkEvent
  | WarningEvent
  | RunFinishedEvent
  | RunFailedEvent
  | RunStoppedEvent;

export type RunEventType = RunEvent['type'];

/** The payload of an event type, without the envelope fields. */
export type EventPayload<E extends RunEvent> = Omit<E, 'v' | 't'>;

/**
 * Parses an events file's text. A torn last line (the trainer killed mid-write) is skipped;
 * a bad line elsewhere is an error naming its line number.
 */
export function parseEvents(text: string): RunEvent[] {
  const lines = text.split('\n');
  const events: RunEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    let ev: RunEvent;
    try {
      ev = JSON.parse(line) as RunEvent;
    } catch {
      if (i >= lines.length - 2 && !text.endsWith('\n')) break; // torn tail
      throw new Error(`events line ${i + 1} is not valid JSON`);
    }
    if (ev.v !== EVENTS_VERSION)
      throw new Error(
        `events line ${i + 1} has version ${String(ev.v)}; this reader understands version ${EVENTS_VERSION}`,
      );
    events.push(ev);
  }
  return events;
}

/** Any event without its envelope: what a writer passes to be stamped with `v` and `t`. */
export type RunEventInput = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, 'v' | 't'> : never) : never;
