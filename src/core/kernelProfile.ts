/**
 * The tfjs kernels our training step, evaluation, optimizers and every loss term call, measured
 * by running the real code under `tf.profile` on the cpu backend (which has every kernel).
 * `npm run kernels` writes the result to src/core/kernelTable.json; a test fails when it is
 * stale. A backend is checked against the kernels a config needs before a run starts, so a
 * missing one is named up front instead of failing at step 1.
 */
import * as tf from '@tensorflow/tfjs';
import {
  ACTIVATIONS,
  type AugmentSpec,
  type LayerSpec,
  type LossTermSpec,
  type OptimizerSpec,
} from './config/schema.ts';
import { augmentBatch, augmentParams } from './data/augment.ts';
import { buildModel } from './models/build.ts';
import { compileObjective } from './distill/objective.ts';
import { attentionMap } from './distill/terms.ts';
import { Optimizer } from './train/optimizer.ts';
import { evaluateLogits } from './train/evaluate.ts';

export interface KernelTable {
  /** Step, gathering batches, cross-entropy, evaluation: needed by every run. */
  common: string[];
  layers: Record<LayerSpec['type'], string[]>;
  activations: Record<(typeof ACTIVATIONS)[number], string[]>;
  terms: Record<LossTermSpec['type'], string[]>;
  optimizers: Record<OptimizerSpec['type'], string[]>;
  /** Augmenting a batch of images (data.augment: crop, flip and translate). */
  augment: string[];
}

async function kernelsOf(fn: () => void | Promise<void>): Promise<Set<string>> {
  const info = await tf.profile(fn as () => tf.TensorContainer);
  // The profile also lists op scopes ("fusedMatMul__op"); keep real kernels only.
  return new Set(info.kernelNames.filter((k) => tf.getKernel(k, 'cpu')));
}

const without = (a: Set<string>, b: Set<string>) => [...a].filter((k) => !b.has(k)).sort();

/**
 * A forward and backward pass of `layers` on [2, 6, 6, 2] inputs (text layers: two right-padded
 * rows of 6 token ids of a 10-word vocabulary), with the loss of a run.
 */
async function stepKernels(layers: LayerSpec[], labelSmoothing = 0): Promise<Set<string>> {
  const text = layers[0]?.type === 'embedding';
  // buildModel flattens a text model's output itself where it needs to.
  const flat =
    text || layers.some((l) => l.type === 'flatten') ? layers : [...layers, { type: 'flatten' } as LayerSpec];
  const model = buildModel({ type: 'layers', layers: flat }, text ? [6] : [6, 6, 2], 3, '', text ? 10 : undefined);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const x = text
    ? tf.tensor2d([
        [1, 2, 3, 9, 0, 0],
        [4, 5, 0, 0, 0, 0],
      ])
    : tf.randomUniform([2, 6, 6, 2], 0, 1, 'float32', 1);
  const y = tf.tensor1d([0, 2], 'int32');
  const objective = compileObjective({ method: 'none', labelSmoothing });
  const used = await kernelsOf(() => {
    const { value, grads } = tf.variableGrads(
      () =>
        objective.loss(
          { logits: model.apply(x, { training: true }) as tf.Tensor2D, outputs: new Map() },
          undefined,
          y,
          { epoch: 1, fraction: 0 },
        ).total,
      variables,
    );
    tf.dispose([value, ...Object.values(grads)]);
  });
  tf.dispose([x, y]);
  model.dispose();
  return used;
}

const conv = (activation: (typeof ACTIVATIONS)[number]): LayerSpec => ({
  type: 'conv2d',
  filters: 2,
  kernelSize: 3,
  strides: 1,
  padding: 'same',
  activation,
});

/** Each layer after a trainable conv, so that its gradient kernels run too (the conv's own are subtracted). */
const LAYER_PROBES: Record<LayerSpec['type'], LayerSpec[]> = {
  dense: [{ type: 'flatten' }, { type: 'dense', units: 4, activation: 'linear' }],
  conv2d: [conv('linear'), conv('linear')],
  batchnorm: [conv('linear'), { type: 'batchnorm', momentum: 0.99, epsilon: 1e-3 }],
  activation: [conv('linear'), { type: 'activation', fn: 'linear' }],
  maxpool: [conv('linear'), { type: 'maxpool', poolSize: 2, padding: 'valid' }],
  avgpool: [conv('linear'), { type: 'avgpool', poolSize: 2, padding: 'valid' }],
  flatten: [conv('linear')],
  dropout: [conv('linear'), { type: 'dropout', rate: 0.5 }],
  // Text layers after an embedding (its own kernels, with and without the padding mask, are subtracted).
  embedding: [{ type: 'embedding', dim: 3, maskPadding: false }],
  conv1d: [
    { type: 'embedding', dim: 3, maskPadding: false },
    { type: 'conv1d', filters: 2, kernelSize: 3, padding: 'same', activation: 'linear' },
  ],
  meanpool: [{ type: 'embedding', dim: 3, maskPadding: true }, { type: 'meanpool' }],
  globalmaxpool1d: [{ type: 'embedding', dim: 3, maskPadding: false }, { type: 'globalmaxpool1d' }],
  lstm: [
    { type: 'embedding', dim: 3, maskPadding: true },
    { type: 'lstm', units: 2, bidirectional: false },
  ],
  gru: [
    { type: 'embedding', dim: 3, maskPadding: true },
    { type: 'gru', units: 2, bidirectional: false },
  ],
};

/** The layers of a probe whose variants need kernels of their own (a bidirectional RNN reverses its input). */
const probeVariants = (probe: LayerSpec[]): LayerSpec[][] => {
  const last = probe.at(-1)!;
  if (last.type === 'lstm' || last.type === 'gru')
    return [probe, [...probe.slice(0, -1), { ...last, bidirectional: true }]];
  if (last.type === 'embedding') return [probe, [{ ...last, maskPadding: true }, { type: 'meanpool' }]];
  return [probe];
};

/** Each term with its defaults, on logits and a [2, 3, 3, 2] feature map where it reads features. */
const TERM_PROBES: Record<LossTermSpec['type'], LossTermSpec> = {
  kd: { type: 'kd', weight: 1, temperature: 4, divergence: 'forward' },
  hint: { type: 'hint', weight: 1, student: 'f', teacher: 'f', distance: 'mse' },
  attention: { type: 'attention', weight: 500, pairs: [{ student: 'f', teacher: 'f' }], p: 2 },
  rkd: { type: 'rkd', distanceWeight: 25, angleWeight: 50, student: 'logits', teacher: 'logits' },
  dkd: { type: 'dkd', alpha: 1, beta: 8, temperature: 4, warmupEpochs: 0 },
  teacher_free: { type: 'teacher_free', weight: 1, temperature: 20, correctProbability: 0.9 },
  activation_boundary: { type: 'activation_boundary', weight: 0.003, student: 'f', teacher: 'f', margin: 1 },
  crd: {
    type: 'crd',
    weight: 0.8,
    student: 'f',
    teacher: 'f',
    featureDim: 4,
    negatives: 3,
    temperature: 0.07,
    momentum: 0.5,
    sampling: 'other_classes',
  },
};

async function termKernels(term: LossTermSpec, extra?: LossTermSpec): Promise<Set<string>> {
  const objective = compileObjective({
    method: 'combined',
    hardWeight: 1,
    labelSmoothing: 0,
    terms: extra ? [term, extra] : [term],
  });
  const logits = tf.variable(tf.randomNormal([3, 4], 0, 1, 'float32', 2)) as tf.Variable<tf.Rank.R2>;
  const features = tf.variable(tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 3));
  const y = tf.tensor1d([0, 3, 1], 'int32');
  const teacherLogits = tf.randomNormal([3, 4], 0, 1, 'float32', 4) as tf.Tensor2D;
  const teacherFeatures = tf.randomNormal([3, 3, 3, 2], 0, 1, 'float32', 5);
  // CRD's embedding heads give [batch, featureDim] (4 in its probe); its memory bank is stepped with the batch.
  const embedded = tf.variable(tf.randomNormal([3, 4], 0, 1, 'float32', 6));
  const outputs = (f: tf.Tensor) =>
    new Map<string, tf.Tensor>(objective.student.map((r) => [r.key, r.embedding ? embedded : f]));
  const state = objective.phaseState?.({ phase: 'probe', n: 6, labels: Int32Array.of(0, 3, 1, 2, 0, 3), seed: 0 });
  let teacherOutputs = new Map<string, tf.Tensor>();
  const used = await kernelsOf(() => {
    state?.beforeStep(Int32Array.of(0, 1, 2), 1, 0);
    // The teacher's attention maps are computed once per run, outside the step: measured here too.
    teacherOutputs = new Map(
      objective.teacher.map((r) => [
        r.key,
        r.attentionP === undefined ? teacherFeatures : attentionMap(teacherFeatures as tf.Tensor4D, r.attentionP),
      ]),
    );
    const { value, grads } = tf.variableGrads(
      () =>
        objective.loss({ logits, outputs: outputs(features) }, { logits: teacherLogits, outputs: teacherOutputs }, y, {
          epoch: 1,
          fraction: 0,
        }).total,
      [logits, features, embedded],
    );
    tf.dispose([value, ...Object.values(grads)]);
    state?.afterStep();
  });
  state?.dispose();
  tf.dispose([logits, features, embedded, y, teacherLogits, teacherFeatures, ...teacherOutputs.values()]);
  return used;
}

const OPTIMIZER_PROBES: Record<OptimizerSpec['type'], OptimizerSpec> = {
  adam: { type: 'adam', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
  adamw: { type: 'adamw', learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
  sgd: { type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
};

async function optimizerKernels(spec: OptimizerSpec): Promise<Set<string>> {
  const v = tf.variable(tf.ones([2, 2]));
  const g = tf.ones([2, 2]);
  const optimizer = new Optimizer(spec, [v]);
  const used = await kernelsOf(() => optimizer.apply([g], 1e-3));
  optimizer.dispose();
  tf.dispose([v, g]);
  return used;
}

/** Gathering a batch from the split and the teacher's outputs, the accuracy count, evaluation. */
async function commonKernels(): Promise<Set<string>> {
  const x = tf.randomUniform([4, 3]);
  const idx = tf.tensor1d([2, 0], 'int32');
  const labels = tf.tensor1d([0, 1, 2, 0], 'int32');
  const used = await kernelsOf(async () => {
    tf.tidy(() => {
      const xb = tf.gather(x, idx);
      xb.argMax(1).equal(tf.gather(labels, idx)).sum().cast('float32').add(tf.scalar(0)).mul(2);
      labels.greaterEqual(0).sum().cast('float32'); // labeled rows, for the train accuracy
      tf.stack([xb.sum(), xb.sum()]);
      tf.concat([xb, xb]);
      x.slice(0, 2);
      tf.div(tf.addN([xb, xb]), 2);
    });
    await evaluateLogits(x as tf.Tensor2D, labels, x as tf.Tensor2D, true);
  });
  tf.dispose([x, idx, labels]);
  return used;
}

/** Every transform on a batch of images, as the batch source applies them. */
async function augmentKernels(): Promise<Set<string>> {
  const x = tf.randomUniform([2, 4, 4, 1]) as tf.Tensor4D;
  const spec: AugmentSpec = { crop: { padding: 1 }, flip: true, translate: { pixels: 1 } };
  const used = await kernelsOf(() => {
    augmentBatch(x, spec, augmentParams(spec, 2, 1));
  });
  x.dispose();
  return used;
}

/** Measures the table on the cpu backend (restores the previous backend). */
export async function profileKernels(): Promise<KernelTable> {
  const previous = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const common = await commonKernels();
    for (const k of [...(await stepKernels([])), ...(await stepKernels([], 0.1))]) common.add(k);
    const layers = {} as KernelTable['layers'];
    const convKernels = await stepKernels([conv('linear')]);
    const embeddingKernels = await stepKernels(LAYER_PROBES.embedding);
    for (const [type, probe] of Object.entries(LAYER_PROBES) as Array<[LayerSpec['type'], LayerSpec[]]>) {
      const used = new Set<string>();
      for (const variant of probeVariants(probe)) for (const k of await stepKernels(variant)) used.add(k);
      const before = probe[0].type === 'embedding' ? embeddingKernels : convKernels;
      layers[type] =
        type === 'conv2d' || type === 'dense' || type === 'embedding'
          ? without(used, common)
          : without(used, new Set([...common, ...before]));
    }
    const activations = {} as KernelTable['activations'];
    for (const fn of ACTIVATIONS)
      activations[fn] = without(await stepKernels([conv(fn)]), new Set([...common, ...layers.conv2d]));
    const terms = {} as KernelTable['terms'];
    for (const [type, probe] of Object.entries(TERM_PROBES) as Array<[LossTermSpec['type'], LossTermSpec]>) {
      terms[type] = without(await termKernels(probe), common);
      if (type === 'hint')
        terms[type] = [
          ...new Set([
            ...terms[type],
            ...without(await termKernels({ ...probe, distance: 'cosine' } as LossTermSpec), common),
          ]),
        ].sort();
      if (type === 'attention')
        terms[type] = [
          ...new Set([...terms[type], ...without(await termKernels({ ...probe, p: 3 } as LossTermSpec), common)]),
        ].sort();
      if (type === 'kd')
        terms[type] = [
          ...new Set([
            ...terms[type],
            ...without(await termKernels({ ...probe, divergence: 'reverse' } as LossTermSpec), common),
          ]),
        ].sort();
    }
    const optimizers = {} as KernelTable['optimizers'];
    for (const [type, spec] of Object.entries(OPTIMIZER_PROBES) as Array<[OptimizerSpec['type'], OptimizerSpec]>)
      optimizers[type] = without(await optimizerKernels(spec), common);
    const augment = without(await augmentKernels(), common);
    return { common: [...common].sort(), layers, activations, terms, optimizers, augment };
  } finally {
    if (previous && previous !== 'cpu') await tf.setBackend(previous);
  }
}
