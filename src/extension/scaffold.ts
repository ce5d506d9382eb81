/**
 * What "New Distillation Project" writes: a config from the user's answers, and the choices the
 * wizard offers at each step (the same functions drive its pickers and the test that every
 * combination validates). Free of `vscode` and of tfjs: only the schema is read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configSchema, dataSchema, lossTermSchema, type DistillConfigInput } from '../core/config/schema.ts';
import { validateConfigText } from '../core/config/load.ts';
import { writeFileAtomic } from '../core/fsutil.ts';

export type TermType = (typeof lossTermSchema.options)[number]['shape']['type']['value'];
type StrategyInput = NonNullable<DistillConfigInput['strategy']>;
export type StrategyType = StrategyInput['type'];

export type DataAnswer =
  | { source: 'demo' }
  | { source: 'idx'; dir: string }
  | { source: 'csv'; train: string; label: string | number }
  | {
      source: 'images';
      train: string;
      test?: string;
      height: number;
      width: number;
      channels: 'grayscale' | 'rgb';
    }
  | { source: 'npy'; train: NpyPair; test?: NpyPair; layout: 'nhwc' | 'nchw' };
export type DataSource = DataAnswer['source'];

/** Features and labels: two .npy files, or arrays of one .npz named by key. */
export interface NpyPair {
  x: string;
  y: string;
  xKey?: string;
  yKey?: string;
}

/** Examples without labels for the distillation stages (`data.unlabeled`). */
export type UnlabeledAnswer =
  | { source: 'images'; dir: string }
  | { source: 'npy'; x: string; xKey?: string }
  | { source: 'idx'; images: string }
  | { source: 'csv'; file: string };
export type UnlabeledSource = UnlabeledAnswer['source'];

export type TeacherAnswer =
  | { source: 'demo' }
  | { source: 'tfjs'; path: string }
  | { source: 'onnx'; path: string }
  | { source: 'train'; preset: 'cnn' | 'mlp'; width: number };
export type TeacherKind = 'demo' | 'tfjs' | 'onnx' | 'cnn' | 'mlp';

export interface StudentAnswer {
  preset: 'mlp' | 'cnn';
  width: number;
}

/** A student layer and a teacher layer (or ONNX value) whose outputs a term matches. */
export interface LayerPair {
  student: string;
  teacher: string;
}

/** The methods the wizard names; each becomes a `distill` block (`methodConfig`). */
export const METHODS = [
  'kd',
  'dkd',
  'hint',
  'attention',
  'rkd',
  'teacher_free',
  'label_smoothing',
  'combined',
  'none',
] as const;
export type MethodId = (typeof METHODS)[number];

export interface MethodAnswer {
  id: MethodId;
  /** `kd`: the softening temperature and the weight of the hard-label loss. */
  temperature: number;
  alpha: number;
  /** `label_smoothing`: ε of the hard-label cross-entropy. */
  labelSmoothing: number;
  /** `combined`: the terms chosen; the other methods imply theirs. */
  terms: TermType[];
  hint?: LayerPair;
  attention?: LayerPair;
  /** With unlabeled examples: the teacher's confidence from which they take its class as a label. */
  pseudoLabels?: number;
}

/**
 * The method the wizard proposes first: kd at the demo's setting (media/demo/demo.distill.json),
 * T = 1 and alpha = 0.1, the best validation accuracy of media/demo/tune.sweep.json (T in 1, 2, 4,
 * alpha in 0.1, 0.5, three seeds each), so that a new project starts from the tuned setting.
 */
export const DEFAULT_METHOD: Readonly<MethodAnswer> = {
  id: 'kd',
  temperature: 1,
  alpha: 0.1,
  labelSmoothing: 0.1,
  terms: ['kd'],
};

export interface ScaffoldAnswers {
  name: string;
  data: DataAnswer;
  unlabeled?: UnlabeledAnswer;
  teacher: TeacherAnswer;
  student: StudentAnswer;
  method: MethodAnswer;
  strategy: StrategyType;
  epochs: number;
}

// ---- What the schema offers (so the wizard never writes a variant the engine lacks) ----

const strategySchema = configSchema.shape.strategy.unwrap();
const distillSchema = configSchema.shape.distill.unwrap();

export const TERM_TYPES = lossTermSchema.options.map((o) => o.shape.type.value) as TermType[];
export const STRATEGY_TYPES = strategySchema.options.map((o) => o.shape.type.value) as StrategyType[];
export const DISTILL_METHODS = distillSchema.options.map((o) => o.shape.method.value);

const WIZARD_DATA_SOURCES: DataSource[] = ['demo', 'idx', 'csv', 'images', 'npy'];
/** Sources written in the config by hand: text data needs a tokenizer, columns and a text student the wizard does not ask for. */
export const CONFIG_ONLY_DATA_SOURCES: string[] = ['text'];
const SCHEMA_DATA_SOURCES = dataSchema.options.map((o) => o.shape.source.value as string);

/** The data sources the wizard offers: those it knows that the schema has. */
export function dataChoices(): DataSource[] {
  return WIZARD_DATA_SOURCES.filter((s) => SCHEMA_DATA_SOURCES.includes(s));
}

/** The sources `data.unlabeled` accepts in this schema (none when the key is absent). */
export function unlabeledChoices(): UnlabeledSource[] {
  const known: UnlabeledSource[] = ['images', 'npy', 'idx', 'csv'];
  const demo = dataSchema.options.find((o) => o.shape.source.value === 'demo');
  const field = (demo?.shape as Record<string, unknown> | undefined)?.unlabeled as
    { unwrap?: () => { options?: Array<{ shape: { source: { value: string } } }> } } | undefined;
  const options = field?.unwrap?.().options;
  if (!options) return [];
  const offered = options.map((o) => o.shape.source.value);
  return known.filter((s) => offered.includes(s));
}

/** Whether the examples are 28x28 grayscale images, the input the demo teacher takes. */
function fitsDemoTeacher(data: DataAnswer): boolean {
  if (data.source === 'demo' || data.source === 'idx') return true;
  return data.source === 'images' && data.height === 28 && data.width === 28 && data.channels === 'grayscale';
}

/** Whether the examples are images (CNNs and attention need height, width and channels). */
export function isImageData(data: DataAnswer): boolean {
  // A 2-D NumPy array is a feature table; 4-D arrays are images: the wizard cannot tell before
  // reading them, so NumPy data is offered the image models too and the trainer checks the shape.
  return data.source !== 'csv';
}

export function teacherChoices(data: DataAnswer): TeacherKind[] {
  return [
    ...(fitsDemoTeacher(data) ? (['demo'] as const) : []),
    'tfjs',
    'onnx',
    ...(isImageData(data) ? (['cnn'] as const) : []),
    'mlp',
  ];
}

export function studentChoices(data: DataAnswer): Array<StudentAnswer['preset']> {
  return isImageData(data) ? ['mlp', 'cnn'] : ['mlp'];
}

/**
 * Which terms read a teacher. The extension cannot import the term registry (it loads tfjs);
 * test/scaffold.test.ts checks this table against the registry's `usesTeacher`.
 */
export const TERM_USES_TEACHER: Record<TermType, boolean> = {
  kd: true,
  hint: true,
  attention: true,
  rkd: true,
  dkd: true,
  teacher_free: false,
  crd: true,
  activation_boundary: true,
};

/** The terms a method trains with (none for `kd`, `label_smoothing` and `none`: no `combined` block). */
export function methodTerms(m: Pick<MethodAnswer, 'id' | 'terms'>): TermType[] {
  switch (m.id) {
    case 'hint':
    case 'attention':
    case 'rkd':
      return ['kd', m.id];
    case 'dkd':
    case 'teacher_free':
      return [m.id];
    case 'combined':
      return m.terms;
    default:
      return [];
  }
}

export function methodUsesTeacher(m: Pick<MethodAnswer, 'id' | 'terms'>): boolean {
  if (m.id === 'kd') return true;
  return methodTerms(m).some((t) => TERM_USES_TEACHER[t]);
}

/** Attention maps need conv layers on both sides. */
export function attentionPossible(student: StudentAnswer, teacher: TeacherAnswer): boolean {
  return student.preset === 'cnn' && !(teacher.source === 'train' && teacher.preset === 'mlp');
}

export function methodChoices(student: StudentAnswer, teacher: TeacherAnswer): MethodId[] {
  return METHODS.filter((m) => m !== 'attention' || attentionPossible(student, teacher));
}

/** A pre-training term (a staged run's, written in the config), not offered for the one objective the wizard writes. */
export const PRE_TRAINING_TERMS: TermType[] = ['activation_boundary'];

/** Terms whose settings the wizard does not ask (CRD's layers and memory bank): written in the config. */
export const CONFIG_ONLY_TERMS: TermType[] = ['crd'];

export function termChoices(student: StudentAnswer, teacher: TeacherAnswer): TermType[] {
  return TERM_TYPES.filter(
    (t) =>
      !PRE_TRAINING_TERMS.includes(t) &&
      !CONFIG_ONLY_TERMS.includes(t) &&
      (t !== 'attention' || attentionPossible(student, teacher)),
  );
}

/** Strategies whose stage lists or further teachers the wizard does not ask for: written in the config. */
export const CONFIG_ONLY_STRATEGIES: StrategyType[] = ['staged', 'multi_teacher'];

/** Strategies that pass knowledge from model to model need a method that reads a teacher. */
export function strategyChoices(method: Pick<MethodAnswer, 'id' | 'terms'>): StrategyType[] {
  const chain: StrategyType[] = ['born_again', 'assistants'];
  return STRATEGY_TYPES.filter(
    (s) => !CONFIG_ONLY_STRATEGIES.includes(s) && (methodUsesTeacher(method) || !chain.includes(s)),
  );
}

// ---- Layer names (for hint and attention) ----

type Preset = { type: 'mlp'; hidden: number[] } | { type: 'cnn'; channels: number[]; dense: number[] };

export function studentArchitecture(s: StudentAnswer): Preset {
  return s.preset === 'cnn' ? { type: 'cnn', channels: [s.width], dense: [] } : { type: 'mlp', hidden: [s.width] };
}

function teacherArchitecture(t: { preset: 'cnn' | 'mlp'; width: number }): Preset {
  return t.preset === 'cnn'
    ? { type: 'cnn', channels: [t.width, t.width * 2], dense: [128] }
    : { type: 'mlp', hidden: [t.width, t.width] };
}

/** An assistant halfway in size: the student's kind, four times its width. */
function assistantArchitecture(s: StudentAnswer): Preset {
  return studentArchitecture({ ...s, width: s.width * 4 });
}

/**
 * The layer names the engine gives a preset (src/core/models/build.ts: `<type>_<n>`, then
 * `logits`), for default max pooling and no dropout or batch norm. The test compares them with
 * the built model's.
 */
export function presetLayerNames(arch: Preset, imageInput: boolean): string[] {
  const names: string[] = [];
  if (arch.type === 'mlp') {
    if (imageInput) names.push('flatten_1');
    arch.hidden.forEach((_, i) => names.push(`dense_${i + 1}`));
  } else {
    arch.channels.forEach((_, i) => names.push(`conv2d_${i + 1}`, `maxpool_${i + 1}`));
    names.push('flatten_1');
    arch.dense.forEach((_, i) => names.push(`dense_${i + 1}`));
  }
  return [...names, 'logits'];
}

export function studentLayerNames(a: Pick<ScaffoldAnswers, 'student' | 'data'>): string[] {
  return presetLayerNames(studentArchitecture(a.student), isImageData(a.data));
}

/** The layer names of a TensorFlow.js layers model (model.json), read without loading tfjs. */
export function tfjsLayerNames(modelJson: string): string[] {
  const raw = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as {
    modelTopology?: { config?: { layers?: Array<{ config?: { name?: string } }> } | Array<unknown> };
  };
  const config = raw.modelTopology?.config;
  const layers = Array.isArray(config) ? config : (config?.layers ?? []);
  return (layers as Array<{ config?: { name?: string } }>).flatMap((l) => (l.config?.name ? [l.config.name] : []));
}

/** The teacher's layer names when the wizard can know them (not for ONNX: the user names a value). */
export function teacherLayerNames(
  a: Pick<ScaffoldAnswers, 'teacher' | 'data'>,
  demoTeacherPath: string,
): string[] | undefined {
  const t = a.teacher;
  if (t.source === 'demo') return tfjsLayerNames(demoTeacherPath);
  if (t.source === 'tfjs') return tfjsLayerNames(t.path);
  if (t.source === 'train') return presetLayerNames(teacherArchitecture(t), isImageData(a.data));
  return undefined;
}

/**
 * A default pairing: the student's deepest conv (attention) or hidden layer (hint), matched to the
 * teacher's layer of the same name (same depth, same spatial size in these presets), else to the
 * teacher's last layer before its logits.
 */
export function defaultLayerPair(
  kind: 'hint' | 'attention',
  student: string[],
  teacher: string[] | undefined,
): LayerPair {
  const candidates = student.filter((n) =>
    kind === 'attention' ? n.startsWith('conv2d_') : n !== 'logits' && !n.startsWith('flatten_'),
  );
  const s = candidates.at(-1) ?? student.filter((n) => n !== 'logits').at(-1) ?? 'logits';
  if (!teacher) return { student: s, teacher: '' };
  const t = teacher.includes(s) ? s : (teacher.filter((n) => n !== 'logits').at(-1) ?? 'logits');
  return { student: s, teacher: t };
}

// ---- The config ----

/** Paths in the config are written relative to the config's folder, as a user would. */
function rel(folder: string, p: string): string {
  const r = path.relative(folder, p).split(path.sep).join('/');
  return r.startsWith('.') ? r : `./${r}`;
}

function npyPair(folder: string, p: NpyPair): Record<string, string> {
  return {
    x: rel(folder, p.x),
    y: rel(folder, p.y),
    ...(p.xKey ? { xKey: p.xKey } : {}),
    ...(p.yKey ? { yKey: p.yKey } : {}),
  };
}

function dataConfig(folder: string, d: DataAnswer): Record<string, unknown> {
  switch (d.source) {
    case 'demo':
      return { source: 'demo', trainLimit: 2000 };
    case 'idx':
      return { source: 'idx', dir: rel(folder, d.dir) };
    case 'csv':
      return { source: 'csv', train: rel(folder, d.train), label: d.label };
    case 'images':
      return {
        source: 'images',
        train: rel(folder, d.train),
        ...(d.test ? { test: rel(folder, d.test) } : {}),
        height: d.height,
        width: d.width,
        channels: d.channels,
      };
    case 'npy':
      return {
        source: 'npy',
        train: npyPair(folder, d.train),
        ...(d.test ? { test: npyPair(folder, d.test) } : {}),
        layout: d.layout,
      };
  }
}

function unlabeledConfig(folder: string, u: UnlabeledAnswer, data: DataAnswer): Record<string, unknown> {
  switch (u.source) {
    case 'images':
      return { source: 'images', dir: rel(folder, u.dir) };
    case 'npy':
      return {
        source: 'npy',
        x: rel(folder, u.x),
        ...(u.xKey ? { xKey: u.xKey } : {}),
        // The same axis order as the labeled arrays.
        ...(data.source === 'npy' ? { layout: data.layout } : {}),
      };
    case 'idx':
      return { source: 'idx', images: rel(folder, u.images) };
    case 'csv':
      return { source: 'csv', file: rel(folder, u.file) };
  }
}

function teacherConfig(folder: string, t: TeacherAnswer): DistillConfigInput['teacher'] {
  if (t.source === 'demo') return { source: 'demo' };
  if (t.source === 'tfjs') return { source: 'tfjs', path: rel(folder, t.path) };
  if (t.source === 'onnx') return { source: 'onnx', path: rel(folder, t.path) };
  return { source: 'train', architecture: teacherArchitecture(t) };
}

/** A term with the schema's defaults written out, so the user sees every knob. */
function termConfig(type: TermType, m: MethodAnswer): Record<string, unknown> {
  const fields: Record<string, unknown> =
    type === 'hint'
      ? { student: m.hint?.student, teacher: m.hint?.teacher }
      : type === 'attention'
        ? { pairs: [{ student: m.attention?.student, teacher: m.attention?.teacher }] }
        : type === 'kd'
          ? { temperature: m.temperature }
          : {};
  const parsed = lossTermSchema.safeParse({ type, ...fields });
  // Invalid answers (an empty layer name) are written as given: validation then names the field.
  return parsed.success ? parsed.data : { type, ...fields };
}

/** Pseudo-labels come from the teacher: offered when there are unlabeled examples and a term reads it. */
export function pseudoLabelsPossible(a: Pick<ScaffoldAnswers, 'unlabeled' | 'method'>): boolean {
  return a.unlabeled !== undefined && methodUsesTeacher(a.method);
}

export function methodConfig(m: MethodAnswer, pseudoLabels = false): NonNullable<DistillConfigInput['distill']> {
  const pseudo = pseudoLabels && m.pseudoLabels !== undefined ? { pseudoLabels: { threshold: m.pseudoLabels } } : {};
  if (m.id === 'kd') return { method: 'kd', temperature: m.temperature, alpha: m.alpha, ...pseudo };
  if (m.id === 'none') return { method: 'none' };
  if (m.id === 'label_smoothing') return { method: 'none', labelSmoothing: m.labelSmoothing };
  return {
    method: 'combined',
    hardWeight: 1,
    terms: methodTerms(m).map((t) => termConfig(t, m)) as Array<(typeof lossTermSchema)['_input']>,
    ...pseudo,
  };
}

function strategyConfig(type: StrategyType, student: StudentAnswer): StrategyInput {
  if (type === 'assistants')
    return { type: 'assistants', assistants: [{ architecture: assistantArchitecture(student) }] };
  // A booster as large as an assistant, sharing the student's first layer (presetLayerNames).
  if (type === 'rocket')
    return {
      type: 'rocket',
      shared: student.preset === 'cnn' ? 'conv2d_1' : 'dense_1',
      booster: assistantArchitecture(student),
    };
  return strategySchema.parse({ type }) as StrategyInput;
}

export function scaffoldConfig(folder: string, a: ScaffoldAnswers): DistillConfigInput {
  const data = dataConfig(folder, a.data);
  if (a.unlabeled) data.unlabeled = unlabeledConfig(folder, a.unlabeled, a.data);
  // No $schema: the extension binds *.distill.json to its schema (contributes.jsonValidation).
  return {
    name: a.name,
    data: data as DistillConfigInput['data'],
    teacher: teacherConfig(folder, a.teacher),
    student: { architecture: studentArchitecture(a.student) },
    distill: methodConfig(a.method, pseudoLabelsPossible(a)),
    strategy: strategyConfig(a.strategy, a.student),
    train: { epochs: a.epochs, optimizer: { type: 'adam', learningRate: 0.001 }, seed: 0 },
    baseline: true,
    output: { dir: '.distill/runs' },
  };
}

export function scaffoldText(folder: string, a: ScaffoldAnswers): string {
  return `${JSON.stringify(scaffoldConfig(folder, a), null, 2)}\n`;
}

export class ScaffoldError extends Error {
  override name = 'ScaffoldError';
}

/** The problems the trainer would report for these answers, each with its field (empty: valid). */
export function scaffoldProblems(folder: string, a: ScaffoldAnswers): string[] {
  const file = path.join(folder, `${a.name}.distill.json`);
  return validateConfigText(scaffoldText(folder, a), file).problems.map(
    (p) => `${p.path.join('.') || '(root)'}: ${p.message}`,
  );
}

/** Writes `<folder>/<name>.distill.json`; refuses to overwrite; returns the file. */
export function writeScaffold(folder: string, a: ScaffoldAnswers): string {
  const file = path.join(folder, `${a.name}.distill.json`);
  if (fs.existsSync(file)) throw new ScaffoldError(`${file} already exists`);
  // The same validator the trainer uses: never write a config the trainer would refuse.
  const problems = scaffoldProblems(folder, a);
  if (problems.length) throw new ScaffoldError(problems.join('; '));
  writeFileAtomic(file, scaffoldText(folder, a));
  return file;
}
