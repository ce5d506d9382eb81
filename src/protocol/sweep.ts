/**
 * A sweep as its readers see it: the plan (`sweep.json`, written once, so task i is always the
 * same config), the state of its tasks, and the aggregate (`aggregate.json`). The CLI, the
 * Slurm array, the Runs view and the dashboard's sweep view all read these types.
 *
 * A sweep folder:
 *   <output.dir>/<name>-sweep-<stamp>/
 *     sweep.json        SweepPlan (atomic, immutable)
 *     configs/<index>.json  each task's whole config (paths absolute, train.seed set), written with sweep.json
 *     tasks/<index>/    one ordinary run folder per task (config.json, events.jsonl, run.json)
 *     logs/<index>.log  the trainer's output of a task run by `distill sweep run`
 *     claims/<index>    which process runs the task now (pid and start stamp), so no two run it at once
 *     aggregate.json    SweepAggregate (atomic, rewritten by `distill sweep aggregate`)
 *     slurm/            sbatch scripts and submissions.jsonl (one SlurmSubmission per line)
 *
 * The choice of a setting is made on validation accuracy only: the test accuracy of a run is read
 * after the choice, and only the chosen setting's test results are reported.
 */
import type { SummaryRow } from './events.ts';

export const SWEEP_VERSION = 1;

/** A model of a run, as summary rows name it (`teacher`, `scratch`, `distilled`, ...). */
export type SweepModel = SummaryRow['model'];

/** One setting: a value for every swept key (dotted config paths such as `distill.temperature`). */
export interface SweepSetting {
  id: number;
  values: Record<string, unknown>;
  /** `distill.temperature=2, distill.alpha=0.5`, or `base config` when nothing is swept. */
  label: string;
}

/** Task `index` trains setting `setting` with `train.seed = seed` in `dir` (relative to the sweep folder). */
export interface SweepTask {
  index: number;
  setting: number;
  seed: number;
  dir: string;
  /** The task's whole config (`configs/<index>.json`, relative to the sweep folder): what `distill train` runs. */
  config: string;
}

/** `sweep.json`. */
export interface SweepPlan {
  v: typeof SWEEP_VERSION;
  sweepId: string;
  name: string;
  createdAt: string;
  /** The config the settings override (absolute path), and the `*.sweep.json` when there is one. */
  configFile: string;
  sweepFile?: string;
  /** `seeds`: one setting repeated over seeds; `grid`: every combination; `random`: sampled settings. */
  mode: 'seeds' | 'grid' | 'random';
  /** The swept keys, in order. */
  keys: string[];
  seeds: number[];
  settings: SweepSetting[];
  tasks: SweepTask[];
  /** What chooses the winning setting. */
  select: { model: 'distilled'; metric: 'validation_accuracy' };
}

export type SweepTaskState = 'pending' | 'queued' | 'running' | 'finished' | 'failed' | 'stopped';

/** A task as `distill sweep status` and the Runs view report it. */
export interface SweepTaskStatus {
  index: number;
  setting: number;
  seed: number;
  state: SweepTaskState;
  /** The run folder's run id, once the run has started. */
  runId?: string;
  /** `<array job id>_<index>` when the task was submitted to Slurm, with Slurm's state name. */
  slurmJob?: string;
  slurmState?: string;
  error?: string;
}

/** One line of `slurm/submissions.jsonl`. */
export interface SlurmSubmission {
  jobId: string;
  submittedAt: string;
  indices: number[];
  script: string;
  partition?: string;
}

/** Mean and sample standard deviation (n - 1) over seeds; `sd` is null for one seed. */
export interface MeanSd {
  mean: number;
  sd: number | null;
  n: number;
}

/** A paired difference (distilled minus scratch, same seed) with its confidence interval. */
export interface PairedInterval {
  mean: number;
  /** Interval bounds; null when fewer than two pairs. */
  low: number | null;
  high: number | null;
  level: number;
  n: number;
  /** How the interval was computed: Student's t on the paired differences. */
  method: 'paired-t';
  /** True when the interval includes zero (or cannot be computed): the gain is not established. */
  includesZero: boolean;
}

/** A setting's validation results (the only thing the choice reads). */
export interface SweepSettingResult {
  setting: number;
  values: Record<string, unknown>;
  label: string;
  /** Seeds whose run finished. */
  seeds: number[];
  /** Each model's best validation accuracy over the finished seeds. */
  validation: Partial<Record<SweepModel, MeanSd>>;
  /** Validation gain of the distilled student over the scratch baseline, paired by seed. */
  validationGain?: PairedInterval;
}

/** One model of one finished run, for the accuracy-against-cost plots (validation accuracy: the test set is not shown for every setting). */
export interface SweepModelPoint {
  index: number;
  setting: number;
  seed: number;
  model: SweepModel;
  validationAccuracy: number;
  params: number;
  bytes: number;
  /** Batch-1 median latency in ms (ONNX Runtime where measured) and the runtime. */
  latencyMs?: number;
  latencyRuntime?: string;
}

/** `aggregate.json`. */
export interface SweepAggregate {
  v: typeof SWEEP_VERSION;
  sweepId: string;
  computedAt: string;
  tasks: { total: number; finished: number; failed: number; unfinished: number };
  settings: SweepSettingResult[];
  /** The setting with the highest mean validation accuracy of `select.model` (ties: lowest id); null before any finished. */
  chosen: number | null;
  /** The chosen setting's test accuracy (each run evaluates its test split once), read after the choice. */
  test?: {
    setting: number;
    models: Partial<Record<SweepModel, MeanSd>>;
    gain?: PairedInterval;
    perSeed: Array<{ seed: number; scratch?: number; distilled?: number }>;
  };
  points: SweepModelPoint[];
}
