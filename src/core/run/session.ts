/**
 * One run while it trains. The session owns the run folder (events.jsonl, run.json), the data on
 * the device, the teacher's outputs, every model it builds, and a stack of disposers run in
 * reverse at `close()`. The pipeline (pipeline.ts) drives it phase by phase.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, DistillConfig } from '../config/schema.ts';
import type { DataProgress, Split } from '../data/dataset.ts';
import { buildModel, describeModel } from '../models/build.ts';
import { saveModel } from '../models/io.ts';
import { modelCost, onnxModelCost } from '../models/cost.ts';
import { mixSeed, seedGlobalRandom } from '../random.ts';
import type { Objective, TeacherOutputRequest } from '../distill/objective.ts';
import { buildTrainingModel, companionCost, standaloneCompanion } from '../distill/studentOutputs.ts';
import { updateMasks } from '../distill/updateMasks.ts';
import {
  batchTeacher,
  computeTeacherOutputs,
  disposeTeacherTensors,
  fromCached,
  toCached,
  type BatchTeacher,
  type Splits,
  type TeacherSource,
  type TeacherTensors,
} from '../distill/teacherOutputs.ts';
import { hashFiles, readTeacherCache, teacherCacheKey, writeTeacherCache } from '../distill/teacherCache.ts';
import { evaluate, evaluateLogits, type DeviceSplit } from '../train/evaluate.ts';
import { trainPhase, DivergenceError } from '../train/loop.ts';
import {
  CheckpointError,
  latestCheckpoint,
  MismatchError,
  pruneCheckpoints,
  restoreWeights,
  writeCheckpoint,
  CHECKPOINT_VERSION,
  type LoadedCheckpoint,
  type PhaseProgress,
} from '../train/checkpoint.ts';
import type { TermPhaseState } from '../distill/termState.ts';
import type { Companion, ModelBuilder, Stage, TestTimeEnsemble } from '../strategies/index.ts';
import { ensembleLogits } from '../models/ensemble.ts';
import {
  phaseModelName,
  type BackendInfo,
  type EvalMetrics,
  type LatencyResult,
  type MeasuredModel,
  type Phase,
  type RunEvent,
  type RunEventInput,
  type SummaryRow,
} from '../../protocol/events.ts';
import { benchOptions, benchRun, exportRunOnnx, type BenchEnsemble } from './deliverables.ts';
import { exportRunPrecisions } from './precisionExport.ts';
import { teacherLabel } from './plan.ts';
import { stageTeacher } from './stageTeacher.ts';
import { stageRows, transferRows } from './transferSet.ts';
import type { Prepared } from './prepare.ts';
import { disposeTeacher } from './prepare.ts';
import { createRunFolder, RunFolder, readRunRecord, type RunRecord, type RunStatus } from './runFolder.ts';
import { emptyRunState, foldRun, recordView, type RunState } from '../../protocol/run.ts';
import { readEventsText } from '../../protocol/eventLines.ts';
import { processStamp } from './processIdentity.ts';
import { clearStopRequest, stopFilePoller } from './stopRequest.ts';
import { runSetup } from './runSetup.ts';
import { failureKind } from '../failure.ts';
import { writeJsonAtomic } from '../fsutil.ts';
import { stepsPerEpoch as countSteps } from '../train/epochSteps.ts';

/** A resumed run's earlier events, folded (lines that are not events are skipped, as the editor does). */
function readFold(runDir: string): RunState {
  try {
    return foldRun(readEventsText(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events);
  } catch {
    return emptyRunState();
  }
}

export interface RunOptions {
  /** A config file for a new run. */
  configFile?: string;
  /** A run folder to continue from its last checkpoint. */
  resumeDir?: string;
  /** For a new run: an existing, empty folder to use (the editor creates it to tail it at once). */
  runDir?: string;
  /** Overrides the config's backend (a new run only; a resumed run keeps its own). */
  backend?: DistillConfig['backend'];
  /** onnxruntime benchmark threads where the config leaves `bench.threads` at 0 (`distill train --threads`). */
  benchThreads?: number;
  /** Called for every event after it is appended to events.jsonl. */
  onEvent?: (event: RunEvent) => void;
  /** Polled between steps (with the run folder's stop.request); when true the run checkpoints and ends as `stopped`. */
  shouldStop?: () => boolean;
  /** Progress of loading the data (decoding image folders), before the run folder exists. */
  onDataProgress?: DataProgress;
}

export interface RunResult {
  runDir: string;
  status: RunStatus;
  summary: SummaryRow[];
  latency?: LatencyResult[];
  onnxBytes?: Partial<Record<MeasuredModel, number>>;
}

/** One phase to train: its model, its objective, and what teaches it. */
export interface PhaseJob {
  phase: Phase;
  architecture: ArchitectureSpec;
  objective: Objective;
  epochs: number;
  learningRate: number;
  /** The teacher's outputs it learns from (none for the teacher and the baseline). */
  teacherOut?: TeacherTensors;
  /** With augmentation, instead: the teacher it learns from, run on each augmented batch. */
  onlineTeacher?: BatchTeacher;
  /** Models trained with it (the strategy's companions). */
  companions?: (build: ModelBuilder) => Companion[];
  /** An earlier phase whose trained weights it starts from (a staged run's next stage). */
  initFrom?: Phase;
  /** Train only the student layers up to the deepest of these (a pre-training stage that reads no logits). */
  trainsUpTo?: string[];
}

/** A phase trained (or restored from its final checkpoint), or stopped by a signal. */
export type PhaseResult =
  { stopped: false; model: tf.LayersModel; test: EvalMetrics; companions: Companion[] } | { stopped: true };

/**
 * Whether tfjs computes any of the cached values of `teacher` (rather than copying them): a tfjs
 * teacher's logits and layers, or an ONNX teacher's attention maps (see CacheKeyParts.backend).
 */
const computedOnTfjs = (teacher: TeacherSource, requests: TeacherOutputRequest[]) =>
  teacher.kind !== 'onnx' || requests.some((r) => r.attentionP !== undefined);

/** The tfjs backend as the teacher cache's key names it: its name, device and (webgpu) adapter. */
const tfjsBackendKey = (backend: BackendInfo) => ({
  name: backend.name,
  device: backend.device,
  ...(backend.adapter
    ? {
        adapter: [
          backend.adapter.vendor,
          backend.adapter.architecture,
          backend.adapter.device,
          backend.adapter.description,
        ].join(' / '),
      }
    : {}),
});

/** The seed label of a phase's initial weights: the scratch and distilled students start from the same weights, so the comparison is fair. */
const initSeed = (phase: Phase) =>
  phase === 'teacher'
    ? 'teacher'
    : phase === 'scratch' || phase === 'distill' || phase.startsWith('pretrain-')
      ? 'student'
      : phase;

/** Freezes the layers above the deepest of `layers` (a stage that trains the student only up to them). */
function freezeAbove(model: tf.LayersModel, layers: string[]): void {
  const deepest = Math.max(...layers.map((name) => model.layers.findIndex((l) => l.name === name)));
  model.layers.forEach((l, i) => {
    if (i > deepest) l.trainable = false;
  });
}

function toDevice(split: Split, inputShape: number[]): DeviceSplit {
  return { x: tf.tensor(split.x, [split.n, ...inputShape]), y: tf.tensor1d(split.y, 'int32'), n: split.n };
}

export class RunSession {
  readonly summary: SummaryRow[] = [];
  /** The test-time ensembles evaluated (evaluateEnsembles), with their member models, for the benchmark. */
  private readonly ensembles: BenchEnsemble[] = [];
  /** Trained (or restored) models by phase: later stages learn from them. */
  readonly models = new Map<Phase, tf.LayersModel>();
  /** The reference teacher's outputs (every stage that learns from `teacher` reads them). */
  reference?: TeacherTensors;
  /** The reference teacher itself: with augmentation it runs on every training batch. */
  private referenceSource?: TeacherSource;
  private devices?: Splits<DeviceSplit>;
  /** With `data.unlabeled`: the labeled training rows then the transfer set's, for stages that read a teacher. */
  private transfer?: { host: Float32Array; device: DeviceSplit };
  private currentPhase?: Phase;
  private lastCheckpoint?: string;
  private readonly disposers: Array<() => unknown> = [];
  private readonly t0 = performance.now();
  /** The run folder's stop.request, written after this process started (the editor's Stop). */
  private readonly stopFile: () => boolean;
  private stopFileSeen = false;
  /** The fold of the events written (with a resumed run's earlier ones): run.json carries what the Runs view shows from it. */
  private fold: RunState;

  private constructor(
    readonly prepared: Prepared,
    private readonly options: RunOptions,
    readonly folder: RunFolder,
    private readonly record: RunRecord,
    readonly resuming: boolean,
    fold: RunState | undefined,
  ) {
    this.fold = fold ?? emptyRunState();
    this.stopFile = stopFilePoller(folder.dir, performance.timeOrigin);
  }

  /** A stop asked for by a signal (the CLI's shouldStop) or by the run folder's stop.request. */
  private stopRequested(): boolean {
    if (this.options.shouldStop?.()) return true;
    this.stopFileSeen ||= this.stopFile();
    return this.stopFileSeen;
  }

  /** Creates (or reopens, to resume) the run folder: the first write of a run. */
  static open(prepared: Prepared, options: RunOptions): RunSession {
    const { config, data, backend } = prepared;
    const resuming = options.resumeDir !== undefined;
    const runDir = options.resumeDir ?? options.runDir ?? createRunFolder(config.output.dir, config.name);
    const folder = new RunFolder(runDir);
    const startedAt = new Date();
    const previous = resuming ? readRunRecord(runDir) : undefined;
    const record: RunRecord = {
      runId: folder.id,
      name: config.name,
      status: 'running',
      pid: process.pid,
      pidStart: processStamp(process.pid),
      configFile: previous?.configFile ?? path.resolve(options.configFile!),
      startedAt: previous?.startedAt ?? startedAt.toISOString(),
      updatedAt: startedAt.toISOString(),
      backend,
      normalization: data.normalization.detail,
      setup: runSetup(config),
    };
    const session = new RunSession(
      prepared,
      options,
      folder,
      record,
      resuming,
      resuming ? readFold(runDir) : undefined,
    );
    session.defer(() => disposeTeacher(prepared.teacher));
    for (const extra of prepared.extraTeachers) session.defer(() => disposeTeacher(extra.source));
    // A stop asked for and served (or one that came too late to matter) is not left for the next resume.
    session.defer(() => clearStopRequest(runDir));
    session.defer(() => {
      folder.sync();
      folder.close();
    });
    // Resume reads it: atomic, so a crash never leaves a run folder with half a config.
    if (!resuming) writeJsonAtomic(path.join(runDir, 'config.json'), config);
    session.saveRecord({});
    return session;
  }

  get runDir(): string {
    return this.folder.dir;
  }

  get device(): Splits<DeviceSplit> {
    return this.devices!;
  }

  /** Appends an event to events.jsonl, then passes it on. */
  emit(event: RunEventInput): void {
    const full = this.folder.append(event);
    this.fold = foldRun([full], this.fold);
    this.options.onEvent?.(full);
  }

  saveRecord(patch: Partial<RunRecord>): void {
    Object.assign(this.record, recordView(this.fold), patch, { updatedAt: new Date().toISOString() });
    this.folder.writeRecord(this.record);
  }

  /** Runs `dispose` at close (the last deferred first). */
  defer(dispose: () => unknown): void {
    this.disposers.push(dispose);
  }

  /** Disposes `resource` at close; returns it. */
  own<T extends { dispose(): unknown }>(resource: T): T {
    this.defer(() => resource.dispose());
    return resource;
  }

  /** Announces the run and puts the data on the device. */
  start(phases: Phase[]): void {
    const { config, data, backend } = this.prepared;
    this.emit({
      type: 'run_started',
      runId: this.folder.id,
      name: config.name,
      configFile: this.record.configFile,
      resumed: this.resuming,
      pid: process.pid,
      backend,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      phases,
      data: {
        train: data.train.n,
        validation: data.validation.n,
        test: data.test.n,
        inputShape: data.inputShape,
        classes: data.numClasses,
        classNames: data.classNames,
        ...(data.unlabeled ? { unlabeled: { source: data.unlabeledSource!, examples: data.unlabeled.n } } : {}),
      },
    });
    if (backend.adapter?.software)
      this.emit({
        type: 'warning',
        message: `webgpu runs on a software adapter (${backend.adapter.description || backend.adapter.device}): the CPU emulates the GPU, so this run is much slower than on a real GPU or the tensorflow/wasm backends`,
      });
    this.devices = {
      train: toDevice(data.train, data.inputShape),
      validation: toDevice(data.validation, data.inputShape),
      test: toDevice(data.test, data.inputShape),
    };
    const devices = this.devices;
    this.defer(() => tf.dispose([devices.train, devices.validation, devices.test].flatMap((d) => [d.x, d.y])));
    const rows = transferRows(data);
    if (rows) {
      const device = toDevice(rows, data.inputShape);
      this.transfer = { host: rows.x, device };
      this.defer(() => tf.dispose([device.x, device.y]));
    }
    this.defer(() => disposeTeacherTensors(this.reference));
  }

  /** The teacher's inputs: its `train` outputs cover the transfer set's rows too, when there is one. */
  private get deviceX(): Splits<tf.Tensor> {
    const train = this.transfer?.device.x ?? this.device.train.x;
    return { train, validation: this.device.validation.x, test: this.device.test.x };
  }

  private get hostX(): Splits<Float32Array> {
    const { data } = this.prepared;
    return { train: this.transfer?.host ?? data.train.x, validation: data.validation.x, test: data.test.x };
  }

  /** Builds a model from its seed; the session disposes it. */
  readonly build: ModelBuilder = (architecture, seedLabel, prefix, on) => {
    if (on) throw new Error(`a model built on the student layer "${on}" needs the stage's student (companionBuilder)`);
    return this.buildFor(architecture, seedLabel, prefix, this.prepared.data.inputShape);
  };

  private buildFor(architecture: ArchitectureSpec, seedLabel: string, prefix: string, inputShape: number[]) {
    const { config, data } = this.prepared;
    seedGlobalRandom(mixSeed(config.train.seed, 'init', seedLabel));
    const vocabSize = inputShape === data.inputShape ? data.text?.vocabSize : undefined; // token ids need the vocabulary
    return this.own(buildModel(architecture, inputShape, data.numClasses, prefix, vocabSize));
  }

  /** The builder of a stage's companions: one built `on` a student layer takes that layer's output. */
  private companionBuilder(student: tf.LayersModel): ModelBuilder {
    return (architecture, seedLabel, prefix, on) =>
      this.buildFor(
        architecture,
        seedLabel,
        prefix,
        on ? (student.getLayer(on).outputShape as number[]).slice(1) : this.prepared.data.inputShape,
      );
  }

  /** Trains one phase from its seeded initial weights, or continues it from its last checkpoint. */
  async train(job: PhaseJob): Promise<PhaseResult> {
    const { config, data } = this.prepared;
    const { phase, objective: goal, epochs, learningRate, teacherOut } = job;
    this.currentPhase = phase;
    const model = this.build(job.architecture, initSeed(phase), '');
    if (job.initFrom) model.setWeights(this.models.get(job.initFrom)!.getWeights());
    if (job.trainsUpTo) freezeAbove(model, job.trainsUpTo);
    const companions = job.companions?.(this.companionBuilder(model)) ?? [];
    const training = buildTrainingModel(
      model,
      goal.student,
      this.prepared.teacherShapes.get(phase) ?? new Map(),
      phase,
      companions,
    );
    const checkpoint = this.resuming ? latestCheckpoint(this.runDir, phase) : undefined;
    if (checkpoint) await restoreWeights(training.model, checkpoint);
    if (checkpoint?.progress.done) return this.trained(phase, model, checkpoint.progress.done.test, companions);
    // A stage that reads a teacher learns on the transfer set too; pseudo-labels come from the
    // teacher's precomputed outputs here, or per augmented batch when the teacher runs online.
    const rows =
      this.transfer && (teacherOut || job.onlineTeacher)
        ? await stageRows(
            this.transfer.device,
            data.train.n,
            teacherOut?.logits.train,
            job.onlineTeacher ? undefined : config.distill.pseudoLabels?.threshold,
          )
        : undefined;
    if (rows) this.defer(() => rows.dispose());
    const trainRows = rows?.split ?? this.device.train;
    const examples = rows?.examples ?? { labeled: data.train.n, unlabeled: 0 };
    const stepsPerEpoch = countSteps(trainRows.n, config.data.batchSize, config.data.dropLast ?? false);
    const termState = await this.termStateFor(goal, phase, trainRows, checkpoint);
    this.emit({
      type: 'phase_started',
      phase,
      model: describeModel(model),
      epochs,
      stepsPerEpoch,
      fromEpoch: (checkpoint?.progress.epochsDone ?? 0) + 1,
    });
    this.saveRecord({ phase, epoch: checkpoint?.progress.epochsDone ?? 0 });
    const phaseStart = performance.now();
    const outcome = await trainPhase(
      {
        phase,
        model,
        training,
        train: trainRows,
        validation: this.device.validation,
        teacherTrain: teacherOut && { logits: teacherOut.logits.train, outputs: teacherOut.outputs },
        onlineTeacher: job.onlineTeacher,
        augment: config.data.augment,
        // Online, pseudo-labels are set per augmented batch (offline ones are already in trainRows).
        pseudoLabelThreshold: rows && job.onlineTeacher ? config.distill.pseudoLabels?.threshold : undefined,
        examples,
        teacherValidation: this.reference?.logits.validation,
        loss: goal.loss,
        objective: goal.canonical,
        updates: goal.updates && updateMasks(goal.updates, training.model, companions),
        temperatures: goal.temperatures,
        termState,
        epochs,
        learningRate,
        batchSize: config.data.batchSize,
        dropLast: config.data.dropLast,
        evalBatchSize: config.data.evalBatchSize,
        train_: config.train,
        resumeFrom: checkpoint,
      },
      {
        emitStep: (e) => this.emit(e),
        emitEpoch: (e) => {
          this.emit({ ...e, examples: e.examples ?? examples });
          this.saveRecord({ phase, epoch: e.epoch });
        },
        checkpoint: async (progress, optimizer, bestWeights) => {
          const dir = await writeCheckpoint(this.runDir, {
            progress,
            model: training.model,
            optimizerSlots: (await optimizer.getState()).slots,
            bestWeights,
            termState: await termState?.arrays(),
          });
          this.lastCheckpoint = dir;
          this.emit({ type: 'checkpoint', phase, epoch: progress.epochsDone, path: dir });
          this.folder.sync();
          this.pruneCheckpoints(phase, progress.best?.epoch);
          return dir;
        },
        stopRequested: () => this.stopRequested(),
      },
    );
    termState?.dispose();
    if (outcome.stopped) return { stopped: true };
    const seconds = (performance.now() - phaseStart) / 1000;
    const test = await evaluate(model, this.device.test, config.data.evalBatchSize, this.reference?.logits.test, true);
    const bestEpoch = outcome.progress.best?.epoch ?? outcome.progress.epochsDone;
    const done: PhaseProgress['done'] = {
      stoppedEarly: outcome.stoppedEarly,
      bestEpoch,
      epochs: outcome.progress.epochsDone,
      seconds,
      test,
    };
    const finalDir = await writeCheckpoint(this.runDir, {
      progress: { ...outcome.progress, version: CHECKPOINT_VERSION, done },
      model: training.model,
      optimizerSlots: [],
    });
    this.lastCheckpoint = finalDir;
    this.emit({ type: 'checkpoint', phase, epoch: outcome.progress.epochsDone, path: finalDir });
    this.pruneCheckpoints(phase, outcome.progress.best?.epoch);
    this.emit({ type: 'evaluation', phase, split: 'test', metrics: test });
    this.emit({
      type: 'phase_finished',
      phase,
      epochs: outcome.progress.epochsDone,
      bestEpoch,
      stoppedEarly: outcome.stoppedEarly,
      seconds,
      step: outcome.step,
    });
    this.folder.sync();
    return this.trained(phase, model, test, companions);
  }

  /**
   * The state the phase's loss terms keep across steps (CRD's memory bank), for its training rows;
   * continued from the checkpoint the phase resumes from, which must hold it.
   */
  private async termStateFor(
    goal: Objective,
    phase: Phase,
    rows: DeviceSplit,
    checkpoint: LoadedCheckpoint | undefined,
  ): Promise<TermPhaseState | undefined> {
    if (!goal.phaseState) return undefined;
    const labels = Int32Array.from(await rows.y.data());
    const state = goal.phaseState({ phase, n: rows.n, labels, seed: this.prepared.config.train.seed });
    this.defer(() => state.dispose()); // also on a failure mid-phase (disposing twice is harmless)
    if (checkpoint) {
      try {
        const saved = checkpoint.termState();
        if (!saved) throw new MismatchError('it holds no state of the loss terms (terms.bin), which this config keeps');
        state.restore(saved);
      } catch (err) {
        throw err instanceof MismatchError ? new CheckpointError(checkpoint.dir, err.message) : err;
      }
    }
    return state;
  }

  /** Deletes the checkpoints of `phase` that train.keepCheckpoints / keepBestCheckpoint do not keep. */
  private pruneCheckpoints(phase: Phase, bestEpoch: number | undefined): void {
    const { train } = this.prepared.config;
    pruneCheckpoints(
      this.runDir,
      phase,
      { keepLast: train.keepCheckpoints, keepBest: train.keepBestCheckpoint },
      bestEpoch,
    );
  }

  private trained(phase: Phase, model: tf.LayersModel, test: EvalMetrics, companions: Companion[]): PhaseResult {
    this.models.set(phase, model);
    return { stopped: false, model, test, companions };
  }

  /**
   * Trains a distillation stage on its teacher's outputs: the reference teacher's, those of an
   * earlier stage, or the mean logits of several (an ensemble); then lists it in the summary.
   */
  async trainStage(
    stage: Stage,
    objective: Objective,
    companions: (build: ModelBuilder) => Companion[],
  ): Promise<boolean> {
    const { config, data } = this.prepared;
    const requests = objective.usesTeacher ? objective.teacher : [];
    let teacherOut: TeacherTensors | undefined;
    let onlineTeacher: BatchTeacher | undefined;
    if (objective.usesTeacher) {
      const source = stageTeacher(stage.learnsFrom, this.models, this.referenceSource!);
      const reference = source === this.referenceSource;
      // Augmented batches have no precomputed outputs: the teacher runs on each one.
      if (config.data.augment) onlineTeacher = batchTeacher(source, requests);
      else if (reference) teacherOut = this.reference!;
      else {
        teacherOut = await computeTeacherOutputs(
          source,
          this.deviceX,
          this.hostX,
          data.numClasses,
          requests,
          config.data.evalBatchSize,
        );
      }
    }
    let r: PhaseResult;
    try {
      r = await this.train({
        phase: stage.phase,
        architecture: stage.architecture,
        objective,
        epochs: stage.epochs,
        learningRate: config.train.optimizer.learningRate,
        teacherOut,
        onlineTeacher,
        companions,
        initFrom: stage.initFrom,
        trainsUpTo: stage.trainsUpTo,
      });
    } finally {
      if (teacherOut !== this.reference) disposeTeacherTensors(teacherOut);
    }
    if (r.stopped) return false;
    const distilling = objective.distills;
    const from = [
      ...(objective.usesTeacher ? [teacherLabel(stage.learnsFrom)] : []),
      // A strategy's further teachers teach whoever learns from the teacher.
      ...(objective.usesTeacher && stage.learnsFrom.join() === 'teacher'
        ? this.prepared.extraTeachers.map((e) => e.model)
        : []),
      ...r.companions.map((c) => c.teaches),
    ];
    const name = distilling ? phaseModelName(stage.phase) : 'scratch';
    // A staged run's stages say what they learned and where they started.
    const own = stage.objective?.distill;
    const terms =
      own?.method === 'combined' ? objective.termNames.filter((n) => n !== 'hard' || own.hardWeight > 0) : [];
    const learnedFrom = [
      from.join(' + '),
      ...(stage.objective ? [` (${terms.join(', ')})`] : []),
      ...(stage.initFrom ? [`, from ${phaseModelName(stage.initFrom)}'s weights`] : []),
    ].join('');
    this.summary.push({
      model: name,
      accuracy: r.test.accuracy,
      agreement: r.test.agreement,
      ...(distilling && from.length ? { learnedFrom } : {}),
      ...modelCost(r.model),
    });
    for (const c of r.companions) {
      const test = await evaluate(
        standaloneCompanion(r.model, c),
        this.device.test,
        config.data.evalBatchSize,
        this.reference?.logits.test,
      );
      this.summary.push({
        model: c.row.model,
        accuracy: test.accuracy,
        agreement: test.agreement,
        learnedFrom: c.row.learnedFrom,
        ...companionCost(r.model, c),
      });
    }
    return true;
  }

  /**
   * A teacher's outputs on every split (and the requested ones on the training split): read from
   * the on-disk cache when the same teacher has seen the same inputs before, else computed (and
   * stored, when the teacher is a file). With a lossy top-k cache, what was stored.
   */
  private async teacherOutputs(
    teacher: TeacherSource,
    spec: DistillConfig['teacher'],
    files: string[],
    requests: TeacherOutputRequest[],
  ) {
    const { config, data } = this.prepared;
    const counts = { train: this.transfer?.device.n ?? data.train.n, validation: data.validation.n, test: data.test.n };
    const cacheable = config.cache.teacherOutputs && files.length > 0;
    // An ONNX teacher's layout and logits name change what its bytes compute.
    const teacherOptions =
      spec.source === 'onnx'
        ? teacher.kind === 'onnx' && teacher.inputs
          ? { logits: spec.logits ?? null, tokens: spec.maxLength ?? null } // a text teacher: its own rows (the key's inputs)
          : { layout: spec.layout, logits: spec.logits ?? null, dataShape: data.inputShape }
        : undefined;
    // And so does the execution provider that runs it (see CacheKeyParts.provider).
    const onnx =
      teacher.kind === 'onnx'
        ? { provider: teacher.onnx.provider, providerDetail: teacher.onnx.providerDetail }
        : undefined;
    const tfjsBackend = computedOnTfjs(teacher, requests) ? tfjsBackendKey(this.prepared.backend) : undefined;
    const key = cacheable
      ? teacherCacheKey({
          teacherHash: hashFiles(files),
          // A text teacher's own token ids (its tokenizer, its maxLength) are what it computes on.
          inputs: (teacher.kind === 'onnx' && teacher.inputs) || this.hostX,
          featureNames: requests.map((r) => r.key),
          topK: config.cache.topK,
          teacherOptions,
          provider: onnx?.provider,
          backend: tfjsBackend,
        })
      : undefined;
    const cached = key ? readTeacherCache(config.cache.dir, key) : undefined;
    let outputs = cached
      ? fromCached(cached, counts)
      : await computeTeacherOutputs(
          teacher,
          this.deviceX,
          this.hostX,
          data.numClasses,
          requests,
          config.data.evalBatchSize,
        );
    await outputs.logits.test.data(); // wait for the backend, so the time measured is the real cost
    let cache: { hit: boolean; dir: string; bytes?: number } | undefined;
    const lossy = key !== undefined && config.cache.topK !== undefined && config.cache.topK < data.numClasses;
    if (key && !cached) {
      const written = writeTeacherCache(
        config.cache.dir,
        key,
        await toCached(outputs, data.numClasses),
        config.cache.topK,
        {
          teacher: files[0],
          createdBy: this.folder.id,
          ...(onnx ? { provider: onnx.provider } : {}),
          ...(tfjsBackend ? { backend: tfjsBackend } : {}),
        },
      );
      cache = { hit: false, dir: written.dir, bytes: written.bytes };
      // Train on what was stored (the rebuilt top-k rows), as every later run and every --resume
      // that reads this entry will: the exact outputs would give this run other targets.
      if (lossy) {
        disposeTeacherTensors(outputs);
        outputs = fromCached(written.stored, counts);
      }
    } else if (key) cache = { hit: true, dir: path.join(config.cache.dir, key) };
    return { outputs, cache, cached: cached !== undefined, lossy, onnx };
  }

  /**
   * A strategy's further teachers (multi-teacher KD): each one's outputs from its own cache entry
   * (or computed), its training-split logits added to the reference outputs under its key, its
   * test evaluation and summary row.
   */
  private async teachFurther(): Promise<void> {
    for (const extra of this.prepared.extraTeachers) {
      const { outputs, lossy, cached } = await this.teacherOutputs(extra.source, extra.spec, extra.files, []);
      this.reference!.outputs.set(extra.key, outputs.logits.train);
      const test = await evaluateLogits(outputs.logits.test, this.device.test.y, undefined, true);
      tf.dispose([outputs.logits.validation, outputs.logits.test]);
      if (lossy)
        this.emit({
          type: 'warning',
          message: `${extra.model}'s logits come from a top-${this.prepared.config.cache.topK} cache (${cached ? 'read' : 'written'} now): exact for the most likely classes at T = 1, approximate for the rest`,
        });
      const cost =
        extra.source.kind === 'onnx'
          ? onnxModelCost(extra.source.onnx.file)
          : modelCost((extra.source as { model: tf.LayersModel }).model);
      this.summary.push({ model: extra.model, accuracy: test.accuracy, ...cost });
    }
  }

  /**
   * The reference teacher's outputs, once for all epochs and students (exact: no augmentation),
   * from the on-disk cache when the same teacher has seen the same inputs before; then its test
   * evaluation (unless it was trained in the run) and its summary row. With augmentation, the
   * training batches get the teacher's outputs online instead (trainStage), and these serve
   * validation and test.
   */
  async teach(teacher: TeacherSource, trainedTest?: EvalMetrics): Promise<void> {
    const { config, data, objective } = this.prepared;
    const requests = this.prepared.teacherRequests;
    this.referenceSource = teacher;
    const started = performance.now();
    const counts = { train: this.transfer?.device.n ?? data.train.n, validation: data.validation.n, test: data.test.n };
    const { outputs, cache, cached, lossy, onnx } = await this.teacherOutputs(
      teacher,
      config.teacher,
      this.prepared.teacherFiles,
      requests,
    );
    this.reference = outputs;
    this.emit({
      type: 'teacher_outputs',
      examples: counts.train + counts.validation + counts.test,
      seconds: (performance.now() - started) / 1000,
      ...(cache ? { cache } : {}),
      ...onnx,
    });
    if (lossy)
      this.emit({
        type: 'warning',
        message: `teacher logits come from a top-${config.cache.topK} cache (${cached ? 'read' : 'written'} now; this run, its resumes and later runs all train on the rebuilt rows): exact for the ${config.cache.topK} most likely classes at T = 1, approximate for the rest and at other temperatures`,
      });
    if (config.data.augment && objective.usesTeacher)
      this.emit({
        type: 'warning',
        message: `data.augment is on: the teacher runs online on every augmented training batch (${countSteps(data.train.n, config.data.batchSize, config.data.dropLast ?? false)} per epoch); its ${cached ? 'cached' : 'precomputed'} outputs serve validation and test only, not training batches`,
      });

    let test = trainedTest;
    if (!test) {
      test = await evaluateLogits(outputs.logits.test, this.device.test.y, undefined, true);
      this.emit({ type: 'evaluation', phase: 'teacher', split: 'test', metrics: test });
    }
    const cost =
      teacher.kind === 'onnx'
        ? onnxModelCost(teacher.onnx.file)
        : modelCost((teacher as { model: tf.LayersModel }).model);
    this.summary.push({ model: 'teacher', accuracy: test.accuracy, ...cost });
    await this.teachFurther();
  }

  /**
   * Each test-time ensemble's summary row: the mean of its members' softmax outputs on the test
   * split (accuracy, agreement with the teacher), its cost the sum of theirs; kept for the benchmark.
   */
  async evaluateEnsembles(ensembles: TestTimeEnsemble[]): Promise<void> {
    const { config } = this.prepared;
    for (const e of ensembles) {
      const members = e.members.map((phase) => this.models.get(phase)!);
      const logits = ensembleLogits(members, this.device.test.x, config.data.evalBatchSize);
      let test: EvalMetrics;
      try {
        test = await evaluateLogits(logits, this.device.test.y, this.reference?.logits.test);
      } finally {
        logits.dispose();
      }
      const costs = members.map(modelCost);
      this.summary.push({
        model: e.model,
        accuracy: test.accuracy,
        agreement: test.agreement,
        learnedFrom: `mean softmax of ${e.members.map(phaseModelName).join(', ')}`,
        params: costs.reduce((a, c) => a + c.params, 0),
        bytes: costs.reduce((a, c) => a + c.bytes, 0),
        macs: costs.reduce((a, c) => a + c.macs, 0),
      });
      this.ensembles.push({ model: e.model, members });
    }
  }

  /** The trained models as artifacts (tfjs, ONNX when asked) and the latency benchmark. */
  async deliver(): Promise<Awaited<ReturnType<typeof benchRun>> | undefined> {
    this.currentPhase = undefined;
    const { config, data } = this.prepared;
    const student = this.models.get('distill')!;
    const teacher = config.teacher.source === 'train' ? this.models.get('teacher') : undefined;
    const scratch = this.models.get('scratch');
    const artifacts: Array<['student-tfjs' | 'teacher-tfjs' | 'scratch-tfjs', string, tf.LayersModel]> = [
      ['student-tfjs', 'student', student],
    ];
    if (teacher) artifacts.push(['teacher-tfjs', 'teacher', teacher]);
    if (scratch) artifacts.push(['scratch-tfjs', 'scratch', scratch]);
    for (const [kind, name, model] of artifacts) {
      const dir = path.join(this.runDir, 'artifacts', name);
      const bytes = await saveModel(model, dir, {
        distillStudio: {
          normalization: data.normalization,
          inputShape: data.inputShape,
          classes: data.numClasses,
          classNames: data.classNames,
        },
      });
      this.emit({ type: 'artifact', kind, path: path.join(dir, 'model.json'), bytes });
    }
    // Text: the ids of the students' input rows mean nothing without the recipe (vocabulary, padding).
    if (data.text) writeJsonAtomic(path.join(this.runDir, 'artifacts', 'text-input.json'), data.text.input);
    if (config.export.onnx)
      await exportRunOnnx(
        this.runDir,
        teacher
          ? [
              ['student', student],
              ['teacher', teacher],
            ]
          : [['student', student]],
        (e) => this.emit(e),
      );
    await exportRunPrecisions(this.runDir, config.export.precisions, 'student', student, data, (e) => this.emit(e));
    return config.bench.enabled
      ? benchRun(this.runDir, config, benchOptions(config), (e) => this.emit(e), { ensembles: this.ensembles })
      : undefined;
  }

  finish(bench: Awaited<ReturnType<typeof benchRun>> | undefined): RunResult {
    const seconds = (performance.now() - this.t0) / 1000;
    const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    this.emit({
      type: 'run_finished',
      seconds,
      summary: this.summary,
      latency: bench?.results,
      onnxBytes: bench?.onnxBytes,
      peakRssMiB,
    });
    this.saveRecord({
      status: 'finished',
      finishedAt: new Date().toISOString(),
      summary: this.summary,
      latency: bench?.results,
    });
    return {
      runDir: this.runDir,
      status: 'finished',
      summary: this.summary,
      latency: bench?.results,
      onnxBytes: bench?.onnxBytes,
    };
  }

  /** A stop was requested: the phase checkpointed; the run ends as `stopped`. */
  stop(): RunResult {
    this.emit({
      type: 'run_stopped',
      signal: this.stopFileSeen ? 'stop.request' : 'SIGTERM',
      phase: this.currentPhase,
      lastCheckpoint: this.lastCheckpoint,
    });
    this.saveRecord({ status: 'stopped' });
    return { runDir: this.runDir, status: 'stopped', summary: this.summary };
  }

  /** Records why the run failed (a user error, or an internal one); returns the error to rethrow. */
  fail(err: unknown): unknown {
    if (err instanceof DivergenceError)
      err.message += this.lastCheckpoint
        ? `; the last good checkpoint is ${this.lastCheckpoint}`
        : '; no checkpoint was written before it';
    const reason = (err as Error).message;
    try {
      this.emit({
        type: 'run_failed',
        kind: failureKind(err),
        reason,
        phase: this.currentPhase,
        lastCheckpoint: this.lastCheckpoint,
      });
      this.saveRecord({ status: 'failed', error: reason, finishedAt: new Date().toISOString() });
    } catch {
      // The disk may be what failed; the original error matters more.
    }
    return err;
  }

  /** Runs the disposers, the last deferred first; the first error (if any) is thrown after all ran. */
  async close(): Promise<void> {
    let first: unknown;
    for (const dispose of this.disposers.splice(0).reverse()) {
      try {
        await dispose();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }
}
