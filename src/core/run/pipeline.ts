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
import { canonicalObjective, compileObjective, type Objective, type TeacherOutputRequest } from '../distill/objective.ts';
import type { KernelNeeds } from '../kernels.ts';
import { buildTrainingModel, ObjectiveFitError } from '../distill/studentOutputs.ts';
import { computeTeacherOutputs, disposeTeacherTensors, fromCached, teacherOutputShapes, toCached, type Splits, type TeacherSource, type TeacherTensors } from '../distill/teacherOutputs.ts';
import { hashFiles, readTeacherCache, teacherCacheKey, writeTeacherCache } from '../distill/teacherCache.ts';
import { openOnnxTeacher } from '../models/onnxTeacher.ts';
import { evaluate, evaluateLogits, type DeviceSplit } from '../train/evaluate.ts';
import { trainPhase, DivergenceError } from '../train/loop.ts';
import { latestCheckpoint, restoreWeights, writeCheckpoint, CHECKPOINT_VERSION, type PhaseProgress } from '../train/checkpoint.ts';
import { phaseModelName, type EvalMetrics, type Phase, type RunEvent, type RunEventInput, type SummaryRow, type BackendInfo } from '../../protocol/events.ts';
import { modelCost, onnxModelCost } from '../models/cost.ts';
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

/** One model trained by distillation: an assistant, a generation, or the final student. */
export interface Stage {
  phase: Phase;
  architecture: ArchitectureSpec;
  epochs: number;
  /** Who teaches it: `teacher` or earlier phases (several = the mean of their logits). */
  learnsFrom: Phase[];
}

/** The distillation stages a strategy asks for, in the order they train. */
export function planStages(config: DistillConfig): Stage[] {
  const epochs = config.train.epochs;
  const student = config.student.architecture;
  const strategy = config.strategy;
  if (strategy.type === 'assistants') {
    const stages: Stage[] = strategy.assistants.map((a, i) => ({
      phase: `assistant-${i + 1}` as Phase, architecture: a.architecture, epochs: a.epochs ?? epochs, learnsFrom: [i === 0 ? 'teacher' : (`assistant-${i}` as Phase)],
    }));
    stages.push({ phase: 'distill', architecture: student, epochs, learnsFrom: [stages.at(-1)!.phase] });
    return stages;
  }
  if (strategy.type === 'born_again') {
    const name = (g: number): Phase => (g === strategy.generations ? 'distill' : `generation-${g}`);
    return Array.from({ length: strategy.generations }, (_, i) => {
      const g = i + 1;
      const learnsFrom: Phase[] = g === 1 ? ['teacher'] : strategy.ensemble && g >= 3 ? Array.from({ length: g - 1 }, (_, j) => name(j + 1)) : [name(g - 1)];
      return { phase: name(g), architecture: student, epochs, learnsFrom };
    });
  }
  return [{ phase: 'distill', architecture: student, epochs, learnsFrom: ['teacher'] }];
}

const teacherLabel = (from: Phase[]) => (from.length === 1 ? phaseModelName(from[0]) : `ensemble of ${from.map(phaseModelName).join(', ')}`);

interface Prepared {
  loaded: LoadedConfig;
  config: DistillConfig;
  data: Dataset;
  backend: BackendInfo;
  objective: Objective;
  stages: Stage[];
  /** The teacher from a file (tfjs or ONNX); absent when it is trained in the run. */
  teacher?: TeacherSource;
  /** The teacher's files, hashed for the output cache. */
  teacherFiles: string[];
  /** Per stage: shapes of its teacher's outputs that the loss reads, by request key. */
  teacherShapes: Map<Phase, Map<string, number[]>>;
}

/** The layers of a trained model, with its final dense logits layer. */
function trainedLayers(arch: ArchitectureSpec, data: Dataset): LayerSpec[] {
  return [...expandArchitecture(arch, data.inputShape), { type: 'dense', units: data.numClasses, activation: 'linear' }];
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

/** The files a teacher from a file consists of (model.json and its weights, or the .onnx file). */
function teacherFilesOf(config: DistillConfig): string[] {
  const t = config.teacher;
  if (t.source === 'onnx') return [t.path];
  if (t.source === 'train') return [];
  const json = t.source === 'demo' ? demoTeacherPath() : t.path;
  const manifest = (JSON.parse(fs.readFileSync(json, 'utf8')) as { weightsManifest?: Array<{ paths: string[] }> }).weightsManifest ?? [];
  return [json, ...manifest.flatMap((g) => g.paths.map((p) => path.resolve(path.dirname(json), p)))];
}

async function loadTeacher(loaded: LoadedConfig, data: Dataset, objective: Objective): Promise<TeacherSource> {
  const spec = loaded.config.teacher;
  const at: JsonPath = spec.source === 'demo' ? ['teacher', 'source'] : ['teacher', 'path'];
  if (spec.source === 'onnx') {
    const features = [...new Set(objective.teacher.map((r) => r.layer).filter((l) => l !== 'logits'))];
    try {
      const onnx = await openOnnxTeacher(spec.path, data.inputShape, data.numClasses, { layout: spec.layout, logits: spec.logits, features });
      return { kind: 'onnx', label: 'teacher', onnx };
    } catch (err) {
      // A value name the graph lacks is the term's mistake: report it there.
      if (err instanceof ModelFileError) {
        const message = err.message;
        const named = objective.teacher.find((r) => message.includes(`"${r.layer}"`));
        const where = named ? termPath(loaded.config, named.term, named.attentionP === undefined ? 'teacher' : 'pairs') : at;
        throw new ConfigError([problemAt(loaded.source, where, message)]);
      }
      throw err;
    }
  }
  const file = spec.source === 'demo' ? demoTeacherPath() : spec.source === 'tfjs' ? spec.path : '';
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
  return { kind: 'tfjs', label: 'teacher', model };
}

/** Where a term's problem is reported: the term itself for `combined`, else the `distill` section. */
function termPath(config: DistillConfig, term: number, field: string): JsonPath {
  return config.distill.method === 'combined' ? ['distill', 'terms', term, field] : ['distill'];
}

/**
 * Checks that every stage's student and teacher have the layers the loss terms name, with
 * shapes that fit (building each training model once, then dropping it).
 */
async function checkObjective(loaded: LoadedConfig, data: Dataset, objective: Objective, stages: Stage[], teacher: TeacherSource | undefined): Promise<Map<Phase, Map<string, number[]>>> {
  const { config } = loaded;
  const problem = (err: unknown): never => {
    if (err instanceof ObjectiveFitError) throw new ConfigError([problemAt(loaded.source, termPath(config, err.term, err.field), err.message)]);
    throw err;
  };
  const probe = new Float32Array(data.train.x.subarray(0, data.inputShape.reduce((a, b) => a * b, 1)));
  const built = new Map<Phase, tf.LayersModel>();
  const modelOf = (phase: Phase): tf.LayersModel => {
    if (!built.has(phase)) {
      const arch = phase === 'teacher' ? (config.teacher as { architecture: ArchitectureSpec }).architecture : stages.find((s) => s.phase === phase)!.architecture;
      built.set(phase, buildModel(arch, data.inputShape, data.numClasses));
    }
    return built.get(phase)!;
  };
  const teacherShapes = new Map<Phase, Map<string, number[]>>();
  try {
    if (objective.teacher.length > 0 && config.strategy.type === 'born_again' && config.strategy.ensemble && config.strategy.generations >= 3)
      throw new ConfigError([problemAt(loaded.source, ['strategy', 'ensemble'], 'an ensemble of generations gives logits only, but a loss term reads intermediate teacher outputs; expected false, or only logit-based terms (kd, dkd, rkd on logits)')]);
    for (const stage of stages) {
      const from = stage.learnsFrom[0];
      const source: TeacherSource = from === 'teacher' && teacher ? teacher : { kind: 'tfjs', label: `the teacher of ${stage.phase} (${phaseModelName(from)})`, model: modelOf(from) };
      const shapes = await teacherOutputShapes(source, objective.teacher, probe).catch(problem);
      teacherShapes.set(stage.phase, shapes);
      const student = buildModel(stage.architecture, data.inputShape, data.numClasses);
      try {
        buildTrainingModel(student, objective.student, shapes, stage.phase);
      } catch (err) {
        problem(err);
      } finally {
        student.dispose();
      }
    }
  } finally {
    for (const m of built.values()) m.dispose();
  }
  return teacherShapes;
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
  const objective = compileObjective(config.distill, config.strategy.type === 'mutual' ? { weight: config.strategy.weight } : undefined);
  if (!objective.usesTeacher && (config.strategy.type === 'born_again' || config.strategy.type === 'assistants'))
    problems.push(problemAt(loaded.source, ['strategy', 'type'], `"${config.strategy.type}" passes knowledge from model to model, but no loss term reads a teacher; expected "single", or a distill method with kd, hint, attention, rkd or dkd`));
  if (problems.length) throw new ConfigError(problems);
  checkArchitecture(loaded, ['student', 'architecture'], config.student.architecture, data);
  // Every model the run trains: its layers, loss terms and optimizer decide the kernels the backend needs.
  const needs: KernelNeeds = { layers: trainedLayers(config.student.architecture, data), terms: canonicalObjective(config.distill).terms.map((t) => t.type), optimizer: config.train.optimizer.type };
  if (config.teacher.source === 'train') {
    checkArchitecture(loaded, ['teacher', 'architecture'], config.teacher.architecture, data);
    needs.layers.push(...trainedLayers(config.teacher.architecture, data));
  }
  if (config.strategy.type === 'assistants')
    config.strategy.assistants.forEach((a, i) => {
      checkArchitecture(loaded, ['strategy', 'assistants', i, 'architecture'], a.architecture, data);
      needs.layers.push(...trainedLayers(a.architecture, data));
    });
  if (config.strategy.type === 'mutual' && config.strategy.peer) {
    checkArchitecture(loaded, ['strategy', 'peer'], config.strategy.peer, data);
    needs.layers.push(...trainedLayers(config.strategy.peer, data));
  }
  const stages = planStages(config);
  const backend = await selectBackend(config.backend, needs);
  const teacher = config.teacher.source === 'train' ? undefined : await loadTeacher(loaded, data, objective);
  try {
    const teacherShapes = await checkObjective(loaded, data, objective, stages, teacher);
    return { loaded, config, data, backend, objective, stages, teacher, teacherFiles: teacherFilesOf(config), teacherShapes };
  } catch (err) {
    await disposeTeacher(teacher);
    throw err;
  }
}

async function disposeTeacher(teacher: TeacherSource | undefined): Promise<void> {
  if (teacher?.kind === 'tfjs') teacher.model.dispose();
  if (teacher?.kind === 'onnx') await teacher.onnx.dispose();
}

/** `name [shape]` of each layer, for choosing the layers that hint and attention terms name. */
function layerList(model: tf.LayersModel): string[] {
  return model.layers.map((l) => `${l.name} [${(l.outputShape as number[]).slice(1).join(', ')}]`);
}

/** Everything `train` would check, without training or writing: the CLI's `validate`. */
export async function checkConfigFully(configFile: string): Promise<{ config: DistillConfig; data: Dataset; backend: BackendInfo; layers: { student: string[]; teacher?: string[] } }> {
  const loaded = loadConfigFile(configFile);
  const prepared = await prepare(loaded);
  const { config, data } = prepared;
  const student = buildModel(config.student.architecture, data.inputShape, data.numClasses);
  const teacherModel = prepared.teacher?.kind === 'tfjs' ? prepared.teacher.model : config.teacher.source === 'train' ? buildModel(config.teacher.architecture, data.inputShape, data.numClasses) : undefined;
  const layers = { student: layerList(student), teacher: teacherModel && layerList(teacherModel) };
  student.dispose();
  if (config.teacher.source === 'train') teacherModel?.dispose();
  await disposeTeacher(prepared.teacher);
  return { config, data, backend: prepared.backend, layers };
}

function toDevice(split: Split, inputShape: number[]): DeviceSplit {
  return { x: tf.tensor(split.x, [split.n, ...inputShape]), y: tf.tensor1d(split.y, 'int32'), n: split.n };
}

/**
 * The reference teacher's outputs, once for all epochs and students (exact: no augmentation),
 * from the on-disk cache when the same teacher has seen the same inputs before.
 */
async function referenceOutputs(prepared: Prepared, teacher: TeacherSource, requests: TeacherOutputRequest[], deviceX: Splits<tf.Tensor>, runId: string, emit: (e: RunEventInput) => void): Promise<TeacherTensors> {
  const { config, data } = prepared;
  const started = performance.now();
  const hostX = { train: data.train.x, validation: data.validation.x, test: data.test.x };
  const counts = { train: data.train.n, validation: data.validation.n, test: data.test.n };
  const cacheable = config.cache.teacherOutputs && prepared.teacherFiles.length > 0;
  // An ONNX teacher's layout and logits name change what its bytes compute.
  const teacherOptions = config.teacher.source === 'onnx' ? { layout: config.teacher.layout, logits: config.teacher.logits ?? null, dataShape: data.inputShape } : undefined;
  // And so does the execution provider that runs it (see CacheKeyParts.provider).
  const onnx = teacher.kind === 'onnx' ? { provider: teacher.onnx.provider, providerDetail: teacher.onnx.providerDetail } : undefined;
  const key = cacheable ? teacherCacheKey({ teacherHash: hashFiles(prepared.teacherFiles), inputs: hostX, featureNames: requests.map((r) => r.key), topK: config.cache.topK, teacherOptions, provider: onnx?.provider }) : undefined;
  const cached = key ? readTeacherCache(config.cache.dir, key) : undefined;
  const outputs = cached ? fromCached(cached, counts) : await computeTeacherOutputs(teacher, deviceX, hostX, data.numClasses, requests, config.data.evalBatchSize);
  await outputs.logits.test.data(); // wait for the backend, so the time below is the real cost
  let cache: { hit: boolean; dir: string; bytes?: number } | undefined;
  if (key && !cached) {
    const written = writeTeacherCache(config.cache.dir, key, await toCached(outputs, data.numClasses), config.cache.topK, { teacher: prepared.teacherFiles[0], createdBy: runId, ...(onnx ? { provider: onnx.provider } : {}) });
    cache = { hit: false, dir: written.dir, bytes: written.bytes };
  } else if (key) cache = { hit: true, dir: path.join(config.cache.dir, key) };
  emit({ type: 'teacher_outputs', examples: counts.train + counts.validation + counts.test, seconds: (performance.now() - started) / 1000, ...(cache ? { cache } : {}), ...onnx });
  if (cached && config.cache.topK !== undefined && config.cache.topK < data.numClasses)
    emit({ type: 'warning', message: `teacher logits come from a top-${config.cache.topK} cache: exact for the ${config.cache.topK} most likely classes at T = 1, approximate for the rest and at other temperatures` });
  return outputs;
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

  const { objective, stages } = prepared;
  const mutual = config.strategy.type === 'mutual' ? config.strategy : undefined;
  const distilling = config.distill.method !== 'none' || mutual !== undefined;
  const phases: Phase[] = [];
  if (config.teacher.source === 'train') phases.push('teacher');
  for (const stage of stages) if (stage.phase.startsWith('assistant-')) phases.push(stage.phase);
  if (config.baseline && distilling) phases.push('scratch');
  for (const stage of stages) if (!stage.phase.startsWith('assistant-')) phases.push(stage.phase);
  emit({
    type: 'run_started', runId: folder.id, name: config.name, configFile: record.configFile, resumed: resuming, pid: process.pid,
    backend, node: process.version, platform: `${process.platform}-${process.arch}`, phases,
    data: { train: data.train.n, validation: data.validation.n, test: data.test.n, inputShape: data.inputShape, classes: data.numClasses, classNames: data.classNames },
  });
  if (backend.adapter?.software)
    emit({ type: 'warning', message: `webgpu runs on a software adapter (${backend.adapter.description || backend.adapter.device}): the CPU emulates the GPU, so this run is much slower than on a real GPU or the tensorflow/wasm backends` });

  const device = {
    train: toDevice(data.train, data.inputShape),
    validation: toDevice(data.validation, data.inputShape),
    test: toDevice(data.test, data.inputShape),
  };
  const deviceX = { train: device.train.x, validation: device.validation.x, test: device.test.x };
  const hostX = { train: data.train.x, validation: data.validation.x, test: data.test.x };
  const t0 = performance.now();
  const summary: SummaryRow[] = [];
  let currentPhase: Phase | undefined;
  let lastCheckpoint: string | undefined;
  /** Trained (or restored) models by phase: later stages learn from them. */
  const trained = new Map<Phase, tf.LayersModel>();
  let reference: TeacherTensors | undefined;
  let teacher = prepared.teacher;
  const supervised = compileObjective({ method: 'none', labelSmoothing: 0 });
  /** The mutual-learning peer of the final student (trained, or restored, with it). */
  let peer: tf.LayersModel | undefined;
  try {
    const runPhase = async (phase: Phase, arch: ArchitectureSpec, goal: Objective, epochs: number, learningRate: number, teacherOut?: TeacherTensors) => {
      currentPhase = phase;
      // The scratch and distilled students start from the same weights: the comparison is fair.
      const initSeed = phase === 'teacher' ? 'teacher' : phase === 'scratch' || phase === 'distill' ? 'student' : phase;
      seedGlobalRandom(mixSeed(config.train.seed, 'init', initSeed));
      const model = buildModel(arch, data.inputShape, data.numClasses);
      if (mutual && phase === 'distill') {
        seedGlobalRandom(mixSeed(config.train.seed, 'init', 'peer'));
        peer = buildModel(mutual.peer ?? arch, data.inputShape, data.numClasses, 'peer_');
      }
      const training = buildTrainingModel(model, goal.student, prepared.teacherShapes.get(phase) ?? new Map(), phase, phase === 'distill' ? peer : undefined);
      const checkpoint = resuming ? latestCheckpoint(runDir, phase) : undefined;
      if (checkpoint) await restoreWeights(training.model, checkpoint);
      if (checkpoint?.progress.done) return { model, test: checkpoint.progress.done.test };
      const stepsPerEpoch = Math.ceil(data.train.n / config.data.batchSize);
      emit({ type: 'phase_started', phase, model: describeModel(model), epochs, stepsPerEpoch, fromEpoch: (checkpoint?.progress.epochsDone ?? 0) + 1 });
      saveRecord({ phase, epoch: checkpoint?.progress.epochsDone ?? 0 });
      const phaseStart = performance.now();
      const outcome = await trainPhase(
        {
          phase, model, training, train: device.train, validation: device.validation,
          teacherTrain: teacherOut && { logits: teacherOut.logits.train, outputs: teacherOut.outputs }, teacherValidation: reference?.logits.validation,
          loss: goal.loss, epochs, learningRate, batchSize: config.data.batchSize, evalBatchSize: config.data.evalBatchSize, train_: config.train, resumeFrom: checkpoint,
        },
        {
          emitStep: (e) => emit(e),
          emitEpoch: (e) => {
            emit(e);
            saveRecord({ phase, epoch: e.epoch });
          },
          checkpoint: async (progress, optimizer, bestWeights) => {
            const dir = await writeCheckpoint(runDir, { progress, model: training.model, optimizerSlots: (await optimizer.getState()).slots, bestWeights });
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
      const test = await evaluate(model, device.test, config.data.evalBatchSize, reference?.logits.test, true);
      const bestEpoch = outcome.progress.best?.epoch ?? outcome.progress.epochsDone;
      const done: PhaseProgress['done'] = { stoppedEarly: outcome.stoppedEarly, bestEpoch, epochs: outcome.progress.epochsDone, seconds, test };
      const finalDir = await writeCheckpoint(runDir, { progress: { ...outcome.progress, version: CHECKPOINT_VERSION, done }, model: training.model, optimizerSlots: [] });
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

    // Teacher: trained here, or loaded from a file.
    const trainLr = config.train.optimizer.learningRate;
    let teacherTest: EvalMetrics | undefined;
    if (config.teacher.source === 'train') {
      const r = await runPhase('teacher', config.teacher.architecture, supervised, config.teacher.epochs ?? config.train.epochs, config.teacher.learningRate ?? trainLr);
      if ('stopped' in r) return stop();
      teacher = { kind: 'tfjs', label: 'teacher', model: r.model };
      trained.set('teacher', r.model);
      teacherTest = r.test;
    }

    const requests = objective.usesTeacher ? objective.teacher : [];
    reference = await referenceOutputs(prepared, teacher!, requests, deviceX, folder.id, emit);

    if (!teacherTest) {
      teacherTest = await evaluateLogits(reference.logits.test, device.test.y, undefined, true);
      emit({ type: 'evaluation', phase: 'teacher', split: 'test', metrics: teacherTest });
    }
    const teacherCost = teacher!.kind === 'onnx' ? onnxModelCost(teacher!.onnx.file) : modelCost((teacher as { model: tf.LayersModel }).model);
    summary.push({ model: 'teacher', accuracy: teacherTest.accuracy, ...teacherCost });

    // Each stage learns from its teacher's outputs: the reference teacher's, or those of earlier stages.
    const outputsOf = async (from: Phase[]): Promise<TeacherTensors> => {
      if (from.length === 1 && from[0] === 'teacher') return reference!;
      const members = from.map((p) => trained.get(p)!);
      const source: TeacherSource = members.length === 1 ? { kind: 'tfjs', label: from[0], model: members[0] } : { kind: 'ensemble', label: teacherLabel(from), members };
      return computeTeacherOutputs(source, deviceX, hostX, data.numClasses, requests, config.data.evalBatchSize);
    };
    const runStage = async (stage: Stage) => {
      const teacherOut = objective.usesTeacher ? await outputsOf(stage.learnsFrom) : undefined;
      try {
        return await runPhase(stage.phase, stage.architecture, objective, stage.epochs, trainLr, teacherOut);
      } finally {
        if (teacherOut !== reference) disposeTeacherTensors(teacherOut);
      }
    };

    let scratchModel: tf.LayersModel | undefined;
    let student: tf.LayersModel | undefined;
    for (const phase of phases) {
      if (phase === 'teacher') continue;
      if (phase === 'scratch') {
        const r = await runPhase('scratch', config.student.architecture, supervised, config.train.epochs, trainLr);
        if ('stopped' in r) return stop();
        scratchModel = r.model;
        trained.set('scratch', r.model);
        summary.push({ model: 'scratch', accuracy: r.test.accuracy, agreement: r.test.agreement, ...modelCost(r.model) });
        continue;
      }
      const stage = stages.find((s) => s.phase === phase)!;
      const r = await runStage(stage);
      if ('stopped' in r) return stop();
      trained.set(phase, r.model);
      if (phase === 'distill') student = r.model;
      const name = distilling ? phaseModelName(phase) : 'scratch';
      const from = [...(objective.usesTeacher ? [teacherLabel(stage.learnsFrom)] : []), ...(mutual && phase === 'distill' ? ['peer (mutual)'] : [])];
      summary.push({ model: name, accuracy: r.test.accuracy, agreement: r.test.agreement, ...(distilling && from.length ? { learnedFrom: from.join(' + ') } : {}), ...modelCost(r.model) });
      if (mutual && phase === 'distill' && peer) {
        const peerTest = await evaluate(peer, device.test, config.data.evalBatchSize, reference?.logits.test);
        summary.push({ model: 'peer', accuracy: peerTest.accuracy, agreement: peerTest.agreement, learnedFrom: 'distilled (mutual)', ...modelCost(peer) });
      }
    }
    currentPhase = undefined;

    const artifacts: Array<['student-tfjs' | 'teacher-tfjs' | 'scratch-tfjs', string, tf.LayersModel]> = [['student-tfjs', 'student', student!]];
    if (config.teacher.source === 'train') artifacts.push(['teacher-tfjs', 'teacher', trained.get('teacher')!]);
    if (scratchModel) artifacts.push(['scratch-tfjs', 'scratch', scratchModel]);
    for (const [kind, name, model] of artifacts) {
      const dir = path.join(runDir, 'artifacts', name);
      const bytes = await saveModel(model, dir, { distillStudio: { normalization: data.normalization, inputShape: data.inputShape, classes: data.numClasses, classNames: data.classNames } });
      emit({ type: 'artifact', kind, path: path.join(dir, 'model.json'), bytes });
    }
    if (config.export.onnx) {
      const toExport: Array<['student' | 'teacher', tf.LayersModel]> = [['student', student!]];
      if (config.teacher.source === 'train') toExport.push(['teacher', trained.get('teacher')!]);
      await exportRunOnnx(runDir, toExport, emit);
    }
    let bench: Awaited<ReturnType<typeof benchRun>> | undefined;
    if (config.bench.enabled) bench = await benchRun(runDir, config, benchOptions(config), emit);
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
    disposeTeacherTensors(reference);
    for (const m of trained.values()) m.dispose();
    peer?.dispose();
    await disposeTeacher(prepared.teacher);
    tf.dispose([device.train, device.validation, device.test].flatMap((d) => [d.x, d.y]));
  }
}
