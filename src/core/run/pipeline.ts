/**
 * A whole distillation run: validate, load data, pick the backend, get the teacher, train the
 * from-scratch baseline and the distilled student, evaluate, save, summarise. Everything that
 * can be wrong with the user's input is checked before the run folder is created.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, DistillConfig, LayerSpec } from '../config/schema.ts';
import { loadConfigFile, parseConfigText, type LoadedConfig } from '../config/load.ts';
import { ConfigError, problemAt, type JsonPath } from '../config/problems.ts';
import { loadDataset, type Dataset, type Split } from '../data/dataset.ts';
import { selectBackend } from '../backend.ts';
import { ArchitectureError, buildModel, describeModel, expandArchitecture } from '../models/build.ts';
import { loadModel, saveModel, ModelFileError } from '../models/io.ts';
import { demoTeacherPath } from '../paths.ts';
import { mixSeed, seedGlobalRandom } from '../random.ts';
import { hintonLoss, supervisedLoss } from '../distill/losses.ts';
import { evaluate, predictLogits, type DeviceSplit } from '../train/evaluate.ts';
import { trainPhase, DivergenceError, type LossFn } from '../train/loop.ts';
import { latestCheckpoint, restoreWeights, writeCheckpoint, CHECKPOINT_VERSION, type PhaseProgress } from '../train/checkpoint.ts';
import type { EvalMetrics, Phase, RunEvent, RunEventInput, SummaryRow, BackendInfo } from '../../protocol/events.ts';
import { modelCost } from '../models/cost.ts';
import { benchOptions, benchRun, exportRunOnnx } from './deliverables.ts';
import type { LatencyResult } from '../../protocol/events.ts';
import { createRunFolder, RunFolder, readRunRecord, type RunRecord, type RunStatus } from './runFolder.ts';

export interface RunOptions {
  /** A config file for a new run. */
  configFile?: string;
  /** A run folder to continue from its last checkpoint. */
  resumeDir?: string;
  /** For a new run: an existing, empty folder to use (the editor creates it to tail it at once). */
  runDir?: string;
  /** Overrides the config's backend (a new run only; a resumed run keeps its own). */
  backend?: DistillConfig['backend'];
  /** Called for every event after it is appended to events.jsonl. */
  onEvent?: (event: RunEvent) => void;
  /** Polled between steps; when true the run checkpoints and ends as `stopped`. */
  shouldStop?: () => boolean;
}

export interface RunResult {
  runDir: string;
  status: RunStatus;
  summary: SummaryRow[];
  latency?: LatencyResult[];
  onnxBytes?: Partial<Record<'teacher' | 'student', number>>;
}

interface Prepared {
  loaded: LoadedConfig;
  config: DistillConfig;
  data: Dataset;
  backend: BackendInfo;
  teacherModel?: tf.LayersModel;
}

function layerTypes(arch: ArchitectureSpec, inputShape: number[]): LayerSpec['type'][] {
  return expandArchitecture(arch, inputShape).map((l) => l.type);
}

/** Turns an architecture that does not fit the data into a config problem at the right line. */
function checkArchitecture(loaded: LoadedConfig, at: JsonPath, arch: ArchitectureSpec, data: Dataset): void {
  try {
    buildModel(arch, data.inputShape, data.numClasses).dispose();
  } catch (err) {
    if (err instanceof ArchitectureError) throw new ConfigError([problemAt(loaded.source, [...at, ...err.path], err.message)]);
    throw err;
  }
}

async function loadTeacher(loaded: LoadedConfig, data: Dataset): Promise<tf.LayersModel> {
  const spec = loaded.config.teacher;
  const file = spec.source === 'demo' ? demoTeacherPath() : spec.source === 'tfjs' ? spec.path : '';
  const at: JsonPath = spec.source === 'tfjs' ? ['teacher', 'path'] : ['teacher', 'source'];
  let model: tf.LayersModel;
  try {
    model = (await loadModel(file)).model;
  } catch (err) {
    if (err instanceof ModelFileError) throw new ConfigError([problemAt(loaded.source, at, err.message)]);
    throw err;
  }
  const inShape = (model.inputs[0].shape as Array<number | null>).slice(1);
  const outShape = (model.outputs[0].shape as Array<number | null>).slice(1);
  const fits = inShape.length === data.inputShape.length && inShape.every((d, i) => d === null || d === data.inputShape[i]);
  const problems = [];
  if (!fits) problems.push(problemAt(loaded.source, at, `the teacher ${file} takes input of shape [${inShape.join(', ')}], but the data has examples of shape [${data.inputShape.join(', ')}]`));
  if (outShape.length !== 1 || outShape[0] !== data.numClasses)
    problems.push(problemAt(loaded.source, at, `the teacher ${file} outputs shape [${outShape.join(', ')}], but the data has ${data.numClasses} classes; expected [${data.numClasses}] logits`));
  if (problems.length > 0) {
    model.dispose();
    throw new ConfigError(problems);
  }
  if (spec.source === 'demo' && loaded.config.data.normalize !== 'scale')
    throw new ConfigError([problemAt(loaded.source, ['data', 'normalize'], `the demo teacher was trained on pixels scaled to [0, 1]; expected "scale", found "${loaded.config.data.normalize}"`)]);
  return model;
}

/** Everything that can fail because of the user's input, before anything is written. */
async function prepare(loaded: LoadedConfig): Promise<Prepared> {
  const { config } = loaded;
  const data = loadDataset(config.data, config.train.seed);
  tf.env().set('PROD', true); // no debug checks, no console nags; errors still throw
  await tf.setBackend('cpu'); // shape checks need a backend; the real one is chosen below
  const problems = [];
  if (config.train.earlyStopping && config.data.validationFraction === 0)
    problems.push(problemAt(loaded.source, ['train', 'earlyStopping'], 'needs validation data; expected data.validationFraction > 0'));
  if (problems.length) throw new ConfigError(problems);
  checkArchitecture(loaded, ['student', 'architecture'], config.student.architecture, data);
  const types = new Set(layerTypes(config.student.architecture, data.inputShape));
  if (config.teacher.source === 'train') {
    checkArchitecture(loaded, ['teacher', 'architecture'], config.teacher.architecture, data);
    for (const t of layerTypes(config.teacher.architecture, data.inputShape)) types.add(t);
  }
  const backend = await selectBackend(config.backend, types);
  const teacherModel = config.teacher.source === 'train' ? undefined : await loadTeacher(loaded, data);
  return { loaded, config, data, backend, teacherModel };
}

/** Everything `train` would check, without training or writing: the CLI's `validate`. */
export async function checkConfigFully(configFile: string): Promise<{ config: DistillConfig; data: Dataset; backend: BackendInfo }> {
  const loaded = loadConfigFile(configFile);
  const prepared = await prepare(loaded);
  prepared.teacherModel?.dispose();
  return { config: prepared.config, data: prepared.data, backend: prepared.backend };
}

function toDevice(split: Split, inputShape: number[]): DeviceSplit {
  return { x: tf.tensor(split.x, [split.n, ...inputShape]), y: tf.tensor1d(split.y, 'int32'), n: split.n };
}

export async function runDistillation(options: RunOptions): Promise<RunResult> {
  const resuming = options.resumeDir !== undefined;
  let loaded: LoadedConfig;
  if (options.resumeDir) {
    const snapshot = path.join(options.resumeDir, 'config.json');
    if (!fs.existsSync(snapshot)) throw new ConfigError([{ file: options.resumeDir, path: [], line: 0, column: 0, offset: 0, length: 0, message: 'is not a run folder (no config.json); expected a folder under the runs folder' }]);
    loaded = parseConfigText(fs.readFileSync(snapshot, 'utf8'), snapshot);
  } else {
    loaded = loadConfigFile(options.configFile!);
    if (options.backend) loaded.config.backend = options.backend;
  }
  seedGlobalRandom(mixSeed(loaded.config.train.seed, 'setup'));
  const prepared = await prepare(loaded);
  const { config, data, backend } = prepared;

  const runDir = options.resumeDir ?? options.runDir ?? createRunFolder(config.output.dir, config.name);
  const folder = new RunFolder(runDir);
  const startedAt = new Date();
  const previous = resuming ? readRunRecord(runDir) : undefined;
  const record: RunRecord = {
    runId: folder.id,
    name: config.name,
    status: 'running',
    pid: process.pid,
    configFile: previous?.configFile ?? path.resolve(options.configFile!),
    startedAt: previous?.startedAt ?? startedAt.toISOString(),
    updatedAt: startedAt.toISOString(),
    backend,
    normalization: data.normalization.detail,
  };
  const emit = (event: RunEventInput) => {
    const full = folder.append(event);
    options.onEvent?.(full);
  };
  const saveRecord = (patch: Partial<RunRecord>) => {
    Object.assign(record, patch, { updatedAt: new Date().toISOString() });
    folder.writeRecord(record);
  };
  if (!resuming) fs.writeFileSync(path.join(runDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  saveRecord({});

  const phases: Phase[] = [];
  if (config.teacher.source === 'train') phases.push('teacher');
  const distilling = config.distill.method !== 'none';
  if (config.baseline && distilling) phases.push('scratch');
  phases.push('distill');
  emit({
    type: 'run_started', runId: folder.id, name: config.name, configFile: record.configFile, resumed: resuming, pid: process.pid,
    backend, node: process.version, platform: `${process.platform}-${process.arch}`, phases,
    data: { train: data.train.n, validation: data.validation.n, test: data.test.n, inputShape: data.inputShape, classes: data.numClasses, classNames: data.classNames },
  });

  const device = {
    train: toDevice(data.train, data.inputShape),
    validation: toDevice(data.validation, data.inputShape),
    test: toDevice(data.test, data.inputShape),
  };
  const t0 = performance.now();
  const summary: SummaryRow[] = [];
  let currentPhase: Phase | undefined;
  let lastCheckpoint: string | undefined;
  const owned: tf.Tensor[] = [];
  const models: tf.LayersModel[] = [];
  try {
    const runPhase = async (phase: Phase, arch: ArchitectureSpec, loss: LossFn, epochs: number, learningRate: number, teacher?: { train: tf.Tensor2D; validation: tf.Tensor2D; test: tf.Tensor2D }) => {
      currentPhase = phase;
      // The scratch and distilled students start from the same weights: the comparison is fair.
      seedGlobalRandom(mixSeed(config.train.seed, 'init', phase === 'teacher' ? 'teacher' : 'student'));
      const model = buildModel(arch, data.inputShape, data.numClasses);
      const checkpoint = resuming ? latestCheckpoint(runDir, phase) : undefined;
      if (checkpoint) await restoreWeights(model, checkpoint);
      if (checkpoint?.progress.done) return { model, test: checkpoint.progress.done.test };
      const stepsPerEpoch = Math.ceil(data.train.n / config.data.batchSize);
      emit({ type: 'phase_started', phase, model: describeModel(model), epochs, stepsPerEpoch, fromEpoch: (checkpoint?.progress.epochsDone ?? 0) + 1 });
      saveRecord({ phase, epoch: checkpoint?.progress.epochsDone ?? 0 });
      const phaseStart = performance.now();
      const outcome = await trainPhase(
        {
          phase, model, train: device.train, validation: device.validation, teacherTrain: teacher?.train, teacherValidation: teacher?.validation,
          loss, epochs, learningRate, batchSize: config.data.batchSize, evalBatchSize: config.data.evalBatchSize, train_: config.train, resumeFrom: checkpoint,
        },
        {
          emitStep: (e) => emit(e),
          emitEpoch: (e) => {
            emit(e);
            saveRecord({ phase, epoch: e.epoch });
          },
          checkpoint: async (progress, optimizer, bestWeights) => {
            const dir = await writeCheckpoint(runDir, { progress, model, optimizerSlots: optimizer.getState().slots, bestWeights });
            lastCheckpoint = dir;
            emit({ type: 'checkpoint', phase, epoch: progress.epochsDone, path: dir });
            folder.sync();
            return dir;
          },
          stopRequested: () => options.shouldStop?.() ?? false,
        },
      );
      if (outcome.stopped) return { model, stopped: true as const };
      const seconds = (performance.now() - phaseStart) / 1000;
      const test = evaluate(model, device.test, config.data.evalBatchSize, teacher?.test, true);
      const bestEpoch = outcome.progress.best?.epoch ?? outcome.progress.epochsDone;
      const done: PhaseProgress['done'] = { stoppedEarly: outcome.stoppedEarly, bestEpoch, epochs: outcome.progress.epochsDone, seconds, test };
      const finalDir = await writeCheckpoint(runDir, { progress: { ...outcome.progress, version: CHECKPOINT_VERSION, done }, model, optimizerSlots: [] });
      lastCheckpoint = finalDir;
      emit({ type: 'checkpoint', phase, epoch: outcome.progress.epochsDone, path: finalDir });
      emit({ type: 'evaluation', phase, split: 'test', metrics: test });
      emit({ type: 'phase_finished', phase, epochs: outcome.progress.epochsDone, bestEpoch, stoppedEarly: outcome.stoppedEarly, seconds });
      folder.sync();
      return { model, test };
    };

    const stop = (): RunResult => {
      emit({ type: 'run_stopped', signal: 'SIGTERM', phase: currentPhase, lastCheckpoint });
      saveRecord({ status: 'stopped' });
      return { runDir, status: 'stopped', summary };
    };

    // Teacher: trained here, or loaded and evaluated.
    let teacher = prepared.teacherModel;
    let teacherTest: EvalMetrics;
    const trainLr = config.train.optimizer.learningRate;
    if (config.teacher.source === 'train') {
      const r = await runPhase('teacher', config.teacher.architecture, (l, _t, y) => supervisedLoss(l, y), config.teacher.epochs ?? config.train.epochs, config.teacher.learningRate ?? trainLr);
      if ('stopped' in r) return stop();
      teacher = r.model;
      teacherTest = r.test;
    } else {
      teacherTest = evaluate(teacher!, device.test, config.data.evalBatchSize, undefined, true);
      emit({ type: 'evaluation', phase: 'teacher', split: 'test', metrics: teacherTest });
    }
    models.push(teacher!);
    summary.push({ model: 'teacher', accuracy: teacherTest.accuracy, ...modelCost(teacher!) });

    // Teacher outputs once for all epochs and both students: exact, since there is no augmentation.
    const outputsStart = performance.now();
    const logits = {
      train: predictLogits(teacher!, device.train.x, config.data.evalBatchSize),
      validation: predictLogits(teacher!, device.validation.x, config.data.evalBatchSize),
      test: predictLogits(teacher!, device.test.x, config.data.evalBatchSize),
    };
    owned.push(logits.train, logits.validation, logits.test);
    logits.test.dataSync(); // wait for the backend, so the time below is the real cost
    emit({ type: 'teacher_outputs', examples: data.train.n + data.validation.n + data.test.n, seconds: (performance.now() - outputsStart) / 1000 });
    const epochs = config.train.epochs;
    const studentArch = config.student.architecture;

    let scratchModel: tf.LayersModel | undefined;
    if (phases.includes('scratch')) {
      const r = await runPhase('scratch', studentArch, (l, _t, y) => supervisedLoss(l, y), epochs, trainLr, logits);
      if ('stopped' in r) return stop();
      scratchModel = r.model;
      models.push(r.model);
      summary.push({ model: 'scratch', accuracy: r.test.accuracy, agreement: r.test.agreement, ...modelCost(r.model) });
    }

    const distill = config.distill;
    const kdLoss: LossFn = distill.method === 'kd'
      ? (l, t, y) => hintonLoss(l, t!, y, { temperature: distill.temperature, alpha: distill.alpha })
      : (l, _t, y) => supervisedLoss(l, y);
    const r = await runPhase('distill', studentArch, kdLoss, epochs, trainLr, logits);
    if ('stopped' in r) return stop();
    models.push(r.model);
    summary.push({ model: distilling ? 'distilled' : 'scratch', accuracy: r.test.accuracy, agreement: r.test.agreement, ...modelCost(r.model) });

    const artifacts: Array<['student-tfjs' | 'teacher-tfjs' | 'scratch-tfjs', string, tf.LayersModel]> = [['student-tfjs', 'student', r.model]];
    if (config.teacher.source === 'train') artifacts.push(['teacher-tfjs', 'teacher', teacher!]);
    if (scratchModel) artifacts.push(['scratch-tfjs', 'scratch', scratchModel]);
    for (const [kind, name, model] of artifacts) {
      const dir = path.join(runDir, 'artifacts', name);
      const bytes = await saveModel(model, dir, { distillStudio: { normalization: data.normalization, inputShape: data.inputShape, classes: data.numClasses, classNames: data.classNames } });
      emit({ type: 'artifact', kind, path: path.join(dir, 'model.json'), bytes });
    }
    if (config.export.onnx) {
      const toExport: Array<['student' | 'teacher', tf.LayersModel]> = [['student', r.model]];
      if (config.teacher.source === 'train') toExport.push(['teacher', teacher!]);
      await exportRunOnnx(runDir, toExport, emit);
    }
    let bench: Awaited<ReturnType<typeof benchRun>> | undefined;
    if (config.bench.enabled) {
      currentPhase = undefined;
      bench = await benchRun(runDir, config, benchOptions(config), emit);
    }
    const seconds = (performance.now() - t0) / 1000;
    const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    emit({ type: 'run_finished', seconds, summary, latency: bench?.results, onnxBytes: bench?.onnxBytes, peakRssMiB });
    saveRecord({ status: 'finished', finishedAt: new Date().toISOString(), summary });
    return { runDir, status: 'finished', summary, latency: bench?.results, onnxBytes: bench?.onnxBytes };
  } catch (err) {
    if (err instanceof DivergenceError)
      err.message += lastCheckpoint ? `; the last good checkpoint is ${lastCheckpoint}` : '; no checkpoint was written before it';
    const user = err instanceof ConfigError || err instanceof DivergenceError;
    const reason = (err as Error).message;
    try {
      emit({ type: 'run_failed', kind: user ? 'user' : 'internal', reason, phase: currentPhase, lastCheckpoint });
      saveRecord({ status: 'failed', error: reason, finishedAt: new Date().toISOString() });
    } catch {
      // The disk may be what failed; the original error matters more.
    }
    throw err;
  } finally {
    folder.sync();
    folder.close();
    tf.dispose(owned);
    for (const m of models) m.dispose();
    tf.dispose([device.train, device.validation, device.test].flatMap((d) => [d.x, d.y]));
  }
}
