/**
 * Everything that can be wrong with the user's input, checked before the run folder exists: the
 * config (or the resumed run's snapshot), the data, the architectures, the strategy, the loss
 * terms against every stage's student and teacher, the backend and the teacher file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, DistillConfig, LayerSpec, TeacherSpec } from '../config/schema.ts';
import { loadConfigFile, parseConfigText, type LoadedConfig } from '../config/load.ts';
import { ConfigError, problemAt, type JsonPath } from '../config/problems.ts';
import { loadDataset, type DataProgress, type Dataset } from '../data/dataset.ts';
import { selectBackend } from '../backend.ts';
import { ArchitectureError, buildModel, expandArchitecture } from '../models/build.ts';
import { loadModel, ModelFileError } from '../models/io.ts';
import { augmentProblems } from '../data/augment.ts';
import { demoTeacherPath } from '../paths.ts';
import {
  canonicalObjective,
  compileObjective,
  type Objective,
  type TeacherOutputRequest,
} from '../distill/objective.ts';
import type { KernelNeeds } from '../kernels.ts';
import { buildTrainingModel, ObjectiveFitError } from '../distill/studentOutputs.ts';
import { teacherOutputShapes, type TeacherSource } from '../distill/teacherOutputs.ts';
import { openOnnxTeacher } from '../models/onnxTeacher.ts';
import { strategyFor, type BoundStrategy, type ExtraTeacher, type Stage } from '../strategies/index.ts';
import { phaseModelName, type BackendInfo, type Phase } from '../../protocol/events.ts';
import { planRun, type RunPlan } from './plan.ts';
import { transferSetProblems } from './transferSet.ts';
import { UnlabeledDataError } from '../data/unlabeled.ts';
import { loadTextTeacher } from './textTeacher.ts';

/** Where a run's config comes from: a config file, or the snapshot in a run folder to resume. */
export interface ConfigOrigin {
  configFile?: string;
  resumeDir?: string;
  backend?: DistillConfig['backend'];
  /** onnxruntime threads for the benchmark where the config leaves `bench.threads` at 0 (a sweep's share of the cores). */
  benchThreads?: number;
}

export interface Prepared {
  loaded: LoadedConfig;
  config: DistillConfig;
  data: Dataset;
  backend: BackendInfo;
  objective: Objective;
  strategy: BoundStrategy;
  plan: RunPlan;
  /** The teacher from a file (tfjs or ONNX); absent when it is trained in the run. */
  teacher?: TeacherSource;
  /** The teacher's files, hashed for the output cache. */
  teacherFiles: string[];
  /** Per stage: shapes of its teacher's outputs that the loss reads, by request key. */
  teacherShapes: Map<Phase, Map<string, number[]>>;
  /** A strategy's further teachers (multi-teacher KD), loaded, with their files for the cache. */
  extraTeachers: Array<ExtraTeacher & { source: TeacherSource; files: string[] }>;
  /** The objectives of stages that do not train on `distill` (a staged run's pre-training stages). */
  stageObjectives: Map<Phase, Objective>;
  /** What the loss terms of every stage read of the reference teacher (computed, and cached, once). */
  teacherRequests: TeacherOutputRequest[];
}

/** The config of a new run, or the snapshot of the run to resume. */
export function loadRunConfig(options: ConfigOrigin): LoadedConfig {
  if (options.resumeDir) {
    const snapshot = path.join(options.resumeDir, 'config.json');
    if (!fs.existsSync(snapshot))
      throw new ConfigError([
        {
          file: options.resumeDir,
          path: [],
          line: 0,
          column: 0,
          offset: 0,
          length: 0,
          message: 'is not a run folder (no config.json); expected a folder under the runs folder',
        },
      ]);
    return withBenchThreads(parseConfigText(fs.readFileSync(snapshot, 'utf8'), snapshot), options.benchThreads);
  }
  const loaded = loadConfigFile(options.configFile!);
  if (options.backend) loaded.config.backend = options.backend;
  return withBenchThreads(loaded, options.benchThreads);
}

function withBenchThreads(loaded: LoadedConfig, threads: number | undefined): LoadedConfig {
  if (threads !== undefined && loaded.config.bench.threads === 0) loaded.config.bench.threads = threads;
  return loaded;
}

/** The layers of a trained model, with its final dense logits layer. */
function trainedLayers(arch: ArchitectureSpec, data: Dataset, inputShape = data.inputShape): LayerSpec[] {
  return [...expandArchitecture(arch, inputShape), { type: 'dense', units: data.numClasses, activation: 'linear' }];
}

/** Turns an architecture that does not fit the data into a config problem at the right line. */
function checkArchitecture(
  loaded: LoadedConfig,
  at: JsonPath,
  arch: ArchitectureSpec,
  data: Dataset,
  inputShape = data.inputShape,
): void {
  try {
    // Token ids need the vocabulary; a model on another input (a student layer's output) does not.
    buildModel(
      arch,
      inputShape,
      data.numClasses,
      '',
      inputShape === data.inputShape ? data.text?.vocabSize : undefined,
    ).dispose();
  } catch (err) {
    if (err instanceof ArchitectureError)
      throw new ConfigError([problemAt(loaded.source, [...at, ...err.path], err.message)]);
    throw err;
  }
}

/** The output shape of the student layer a strategy's model is built on (a rocket booster's input). */
function studentLayerShape(loaded: LoadedConfig, on: { layer: string; at: JsonPath }, data: Dataset): number[] {
  const student = buildModel(
    loaded.config.student.architecture,
    data.inputShape,
    data.numClasses,
    '',
    data.text?.vocabSize,
  );
  try {
    const layer = student.layers.find((l) => l.name === on.layer);
    if (!layer)
      throw new ConfigError([
        problemAt(
          loaded.source,
          on.at,
          `the student has no layer "${on.layer}"; its layers are ${student.layers.map((l) => l.name).join(', ')}`,
        ),
      ]);
    return (layer.outputShape as number[]).slice(1);
  } finally {
    student.dispose();
  }
}

/** The files a teacher from a file consists of (model.json and its weights, or the .onnx file). */
function teacherFilesOf(t: TeacherSpec): string[] {
  if (t.source === 'onnx') return [t.path];
  if (t.source === 'train') return [];
  const json = t.source === 'demo' ? demoTeacherPath() : t.path;
  const manifest =
    (JSON.parse(fs.readFileSync(json, 'utf8')) as { weightsManifest?: Array<{ paths: string[] }> }).weightsManifest ??
    [];
  return [json, ...manifest.flatMap((g) => g.paths.map((p) => path.resolve(path.dirname(json), p)))];
}

async function loadTeacher(
  loaded: LoadedConfig,
  data: Dataset,
  requests: TeacherOutputRequest[],
  termAt: (r: TeacherOutputRequest) => JsonPath,
  spec: TeacherSpec = loaded.config.teacher,
  base: JsonPath = ['teacher'],
): Promise<TeacherSource> {
  const at: JsonPath = [...base, spec.source === 'demo' ? 'source' : 'path'];
  if (spec.source === 'onnx' && data.text) return loadTextTeacher(loaded, data, requests, spec, base);
  if (spec.source === 'onnx') {
    const features = [...new Set(requests.map((r) => r.layer).filter((l) => l !== 'logits'))];
    try {
      const onnx = await openOnnxTeacher(spec.path, data.inputShape, data.numClasses, {
        layout: spec.layout,
        logits: spec.logits,
        features,
      });
      return { kind: 'onnx', label: 'teacher', onnx };
    } catch (err) {
      // A value name the graph lacks is the term's mistake: report it there.
      if (err instanceof ModelFileError) {
        const message = err.message;
        const named = requests.find((r) => message.includes(`"${r.layer}"`));
        const where = named ? termAt(named) : at;
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
  const fits =
    inShape.length === data.inputShape.length && inShape.every((d, i) => d === null || d === data.inputShape[i]);
  const problems = [];
  if (!fits)
    problems.push(
      problemAt(
        loaded.source,
        at,
        `the teacher ${file} takes input of shape [${inShape.join(', ')}], but the data has examples of shape [${data.inputShape.join(', ')}]`,
      ),
    );
  if (outShape.length !== 1 || outShape[0] !== data.numClasses)
    problems.push(
      problemAt(
        loaded.source,
        at,
        `the teacher ${file} outputs shape [${outShape.join(', ')}], but the data has ${data.numClasses} classes; expected [${data.numClasses}] logits`,
      ),
    );
  if (problems.length > 0) {
    model.dispose();
    throw new ConfigError(problems);
  }
  if (spec.source === 'demo' && loaded.config.data.normalize !== 'scale')
    throw new ConfigError([
      problemAt(
        loaded.source,
        ['data', 'normalize'],
        `the demo teacher was trained on pixels scaled to [0, 1]; expected "scale", found "${loaded.config.data.normalize}"`,
      ),
    ]);
  return { kind: 'tfjs', label: 'teacher', model };
}

/**
 * Where a term's problem is reported: the term itself for `combined` (a pre-training stage's
 * terms are always combined), else the `distill` section.
 */
function termPath(config: DistillConfig, stage: Stage | undefined, term: number, field: string): JsonPath {
  if (stage?.objective) return [...stage.objective.at, 'terms', term, field];
  return config.distill.method === 'combined' ? ['distill', 'terms', term, field] : ['distill'];
}

/** The objective a stage trains on: its own, or the run's. */
const objectiveOf = (stage: Stage, objective: Objective, own: Map<Phase, Objective>) =>
  own.get(stage.phase) ?? objective;

/**
 * Checks that every stage's student and teacher have the layers the loss terms name, with
 * shapes that fit (building each training model once, then dropping it).
 */
async function checkObjective(
  loaded: LoadedConfig,
  data: Dataset,
  objective: Objective,
  stageObjectives: Map<Phase, Objective>,
  stages: Stage[],
  teacher: TeacherSource | undefined,
): Promise<Map<Phase, Map<string, number[]>>> {
  const { config } = loaded;
  let current: Stage | undefined;
  const problem = (err: unknown): never => {
    if (err instanceof ObjectiveFitError)
      throw new ConfigError([problemAt(loaded.source, termPath(config, current, err.term, err.field), err.message)]);
    throw err;
  };
  const probe = new Float32Array(
    data.train.x.subarray(
      0,
      data.inputShape.reduce((a, b) => a * b, 1),
    ),
  );
  const built = new Map<Phase, tf.LayersModel>();
  const modelOf = (phase: Phase): tf.LayersModel => {
    if (!built.has(phase)) {
      const arch =
        phase === 'teacher'
          ? (config.teacher as { architecture: ArchitectureSpec }).architecture
          : stages.find((s) => s.phase === phase)!.architecture;
      built.set(phase, buildModel(arch, data.inputShape, data.numClasses, '', data.text?.vocabSize));
    }
    return built.get(phase)!;
  };
  const teacherShapes = new Map<Phase, Map<string, number[]>>();
  try {
    for (const stage of stages) {
      current = stage;
      const goal = objectiveOf(stage, objective, stageObjectives);
      const from = stage.learnsFrom[0];
      const source: TeacherSource =
        from === 'teacher' && teacher
          ? teacher
          : { kind: 'tfjs', label: `the teacher of ${stage.phase} (${phaseModelName(from)})`, model: modelOf(from) };
      const shapes = await teacherOutputShapes(source, goal.teacher, probe).catch(problem);
      teacherShapes.set(stage.phase, shapes);
      const student = buildModel(stage.architecture, data.inputShape, data.numClasses, '', data.text?.vocabSize);
      try {
        buildTrainingModel(student, goal.student, shapes, stage.phase);
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
export async function prepare(loaded: LoadedConfig, onDataProgress?: DataProgress): Promise<Prepared> {
  const { config } = loaded;
  const data = await loadDataset(config.data, config.train.seed, onDataProgress, config.cache.dir).catch((err) => {
    // A transfer set that does not fit the labeled data is a problem of the config's data.unlabeled.
    if (err instanceof UnlabeledDataError) throw new ConfigError([problemAt(loaded.source, err.at, err.message)]);
    throw err;
  });
  tf.env().set('PROD', true); // no debug checks, no console nags; errors still throw
  await tf.setBackend('cpu'); // shape checks need a backend; the real one is chosen below
  const strategy = strategyFor(config);
  const problems = [];
  if (config.train.earlyStopping && config.data.validationFraction === 0)
    problems.push(
      problemAt(
        loaded.source,
        ['train', 'earlyStopping'],
        'needs validation data; expected data.validationFraction > 0',
      ),
    );
  if (config.data.source === 'text' && config.data.normalize !== 'none')
    problems.push(
      problemAt(
        loaded.source,
        ['data', 'normalize'],
        `token ids are not normalised; expected "none", found "${config.data.normalize}"`,
      ),
    );
  const augment = config.data.augment;
  if (augment)
    for (const p of augmentProblems(augment, data.inputShape))
      problems.push(problemAt(loaded.source, ['data', 'augment', ...p.at], p.message));
  const objective = compileObjective(config.distill, strategy.terms());
  const stages = strategy.stages();
  const stageObjectives = new Map(
    stages.flatMap((s) => (s.objective ? [[s.phase, compileObjective(s.objective.distill, strategy.terms())]] : [])),
  );
  for (const p of strategy.check(objective)) problems.push(problemAt(loaded.source, p.at, p.message));
  for (const p of transferSetProblems(config, objective)) problems.push(problemAt(loaded.source, p.at, p.message));
  if (problems.length) throw new ConfigError(problems);
  checkArchitecture(loaded, ['student', 'architecture'], config.student.architecture, data);
  // Every model the run trains: its layers, loss terms and optimizer decide the kernels the backend needs.
  const needs: KernelNeeds = {
    layers: trainedLayers(config.student.architecture, data),
    terms: [config.distill, ...stages.flatMap((s) => (s.objective ? [s.objective.distill] : []))].flatMap((d) =>
      canonicalObjective(d).terms.map((t) => t.type),
    ),
    optimizer: config.train.optimizer.type,
    augment: augment !== undefined,
  };
  // An activation-boundary connector is a 1x1 conv (or dense) then batch norm, whatever the student's layers.
  if ([objective, ...stageObjectives.values()].some((o) => o.student.some((r) => r.connectorOf)))
    needs.layers.push(
      { type: 'conv2d', filters: 1, kernelSize: 1, strides: 1, padding: 'same', activation: 'linear' },
      { type: 'batchnorm', momentum: 0.99, epsilon: 1e-3 },
    );
  if (config.teacher.source === 'train') {
    checkArchitecture(loaded, ['teacher', 'architecture'], config.teacher.architecture, data);
    needs.layers.push(...trainedLayers(config.teacher.architecture, data));
  }
  for (const { at, architecture, on } of strategy.architectures()) {
    const inputShape = on ? studentLayerShape(loaded, on, data) : data.inputShape;
    checkArchitecture(loaded, at, architecture, data, inputShape);
    needs.layers.push(...trainedLayers(architecture, data, inputShape));
  }
  const backend = await selectBackend(config.backend, needs);
  // Every stage that learns from the reference teacher reads its outputs, computed once for all.
  const teacherRequests = referenceRequests(stages, objective, stageObjectives);
  const termAt = (r: TeacherOutputRequest): JsonPath => {
    const stage = stages.find((s) => objectiveOf(s, objective, stageObjectives).teacher.includes(r));
    return termPath(config, stage, r.term, r.attentionP === undefined ? 'teacher' : 'pairs');
  };
  const teacher =
    config.teacher.source === 'train' ? undefined : await loadTeacher(loaded, data, teacherRequests, termAt);
  // A strategy's further teachers (multi-teacher KD): their logits only.
  const extraTeachers: Prepared['extraTeachers'] = [];
  try {
    for (const extra of strategy.teachers())
      extraTeachers.push({
        ...extra,
        source: await loadTeacher(loaded, data, [], termAt, extra.spec, extra.at),
        files: teacherFilesOf(extra.spec),
      });
    const teacherShapes = await checkObjective(loaded, data, objective, stageObjectives, stages, teacher);
    return {
      loaded,
      config,
      data,
      backend,
      objective,
      strategy,
      plan: planRun(config, stages, objective.distills),
      teacher,
      teacherFiles: teacherFilesOf(config.teacher),
      extraTeachers,
      teacherShapes,
      stageObjectives,
      teacherRequests,
    };
  } catch (err) {
    await disposeTeacher(teacher);
    for (const extra of extraTeachers) await disposeTeacher(extra.source);
    throw err;
  }
}

/** The outputs of the reference teacher that the stages learning from it read, once per key. */
function referenceRequests(
  stages: Stage[],
  objective: Objective,
  stageObjectives: Map<Phase, Objective>,
): TeacherOutputRequest[] {
  const requests: TeacherOutputRequest[] = [];
  const goals = stages.some((s) => !s.objective) ? [objective] : [];
  for (const s of stages) if (s.objective) goals.push(stageObjectives.get(s.phase)!);
  for (const goal of goals)
    if (goal.usesTeacher) for (const r of goal.teacher) if (!requests.some((q) => q.key === r.key)) requests.push(r);
  return requests;
}

export async function disposeTeacher(teacher: TeacherSource | undefined): Promise<void> {
  if (teacher?.kind === 'tfjs') teacher.model.dispose();
  if (teacher?.kind === 'onnx') await teacher.onnx.dispose();
}

/** `name [shape]` of each layer, for choosing the layers that hint and attention terms name. */
function layerList(model: tf.LayersModel): string[] {
  return model.layers.map((l) => `${l.name} [${(l.outputShape as number[]).slice(1).join(', ')}]`);
}

/** Everything `train` would check, without training or writing: the CLI's `validate`. */
export async function checkConfigFully(
  configFile: string,
  onDataProgress?: DataProgress,
): Promise<{
  config: DistillConfig;
  data: Dataset;
  backend: BackendInfo;
  layers: { student: string[]; teacher?: string[] };
}> {
  const loaded = loadConfigFile(configFile);
  const prepared = await prepare(loaded, onDataProgress);
  const { config, data } = prepared;
  const student = buildModel(config.student.architecture, data.inputShape, data.numClasses, '', data.text?.vocabSize);
  const teacherModel =
    prepared.teacher?.kind === 'tfjs'
      ? prepared.teacher.model
      : config.teacher.source === 'train'
        ? buildModel(config.teacher.architecture, data.inputShape, data.numClasses, '', data.text?.vocabSize)
        : undefined;
  const layers = { student: layerList(student), teacher: teacherModel && layerList(teacherModel) };
  student.dispose();
  if (config.teacher.source === 'train') teacherModel?.dispose();
  await disposeTeacher(prepared.teacher);
  for (const extra of prepared.extraTeachers) await disposeTeacher(extra.source);
  return { config, data, backend: prepared.backend, layers };
}
