/** Builds tfjs models from the config's declarative architectures. */
import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, LayerSpec } from '../config/schema.ts';
import type { ModelInfo } from '../../protocol/events.ts';
import { MaskedMeanPooling1D } from './textLayers.ts';

/** The layers of a `text` architecture: embedding, encoder, dropout, dense. */
function expandText(arch: Extract<ArchitectureSpec, { type: 'text' }>): LayerSpec[] {
  const layers: LayerSpec[] = [{ type: 'embedding', dim: arch.embeddingDim, maskPadding: arch.encoder !== 'conv' }];
  if (arch.encoder === 'mean') layers.push({ type: 'meanpool' });
  else if (arch.encoder === 'conv') {
    for (let i = 0; i < arch.convLayers; i++)
      layers.push({
        type: 'conv1d',
        filters: arch.units,
        kernelSize: arch.kernelSize,
        padding: 'same',
        activation: 'relu',
      });
    layers.push({ type: 'globalmaxpool1d' });
  } else layers.push({ type: arch.encoder, units: arch.units, bidirectional: arch.bidirectional });
  if (arch.dropout > 0) layers.push({ type: 'dropout', rate: arch.dropout });
  for (const units of arch.dense) layers.push({ type: 'dense', units, activation: 'relu' });
  return layers;
}

/** Layers that read a [tokens, channels] sequence. */
const SEQUENCE_LAYERS = new Set<LayerSpec['type']>(['conv1d', 'meanpool', 'globalmaxpool1d', 'lstm', 'gru']);
/** Layers that use the padding mask of an embedding with maskPadding (tfjs passes it through dropout). */
const MASK_READERS = new Set<LayerSpec['type']>(['meanpool', 'lstm', 'gru']);

/** The layer list an architecture expands to, without the final logits layer. */
export function expandArchitecture(arch: ArchitectureSpec, inputShape: number[]): LayerSpec[] {
  const layers: LayerSpec[] = [];
  const image = inputShape.length === 3;
  if (arch.type === 'layers') return arch.layers;
  if (arch.type === 'text') return expandText(arch);
  if (arch.type === 'mlp') {
    if (inputShape.length > 1) layers.push({ type: 'flatten' });
    for (const units of arch.hidden) {
      layers.push({ type: 'dense', units, activation: arch.batchNorm ? 'linear' : arch.activation });
      if (arch.batchNorm)
        layers.push({ type: 'batchnorm', momentum: 0.99, epsilon: 1e-3 }, { type: 'activation', fn: arch.activation });
      if (arch.dropout > 0) layers.push({ type: 'dropout', rate: arch.dropout });
    }
    return layers;
  }
  if (!image)
    throw new ArchitectureError(
      ['type'],
      `a "cnn" needs image input (height, width, channels); this data has shape [${inputShape.join(', ')}]`,
    );
  for (const filters of arch.channels) {
    layers.push({
      type: 'conv2d',
      filters,
      kernelSize: arch.kernelSize,
      strides: 1,
      padding: 'same',
      activation: arch.batchNorm ? 'linear' : arch.activation,
    });
    if (arch.batchNorm)
      layers.push({ type: 'batchnorm', momentum: 0.99, epsilon: 1e-3 }, { type: 'activation', fn: arch.activation });
    if (arch.pool !== 'none')
      layers.push({ type: arch.pool === 'max' ? 'maxpool' : 'avgpool', poolSize: 2, padding: 'valid' });
  }
  layers.push({ type: 'flatten' });
  for (const units of arch.dense) {
    if (arch.dropout > 0) layers.push({ type: 'dropout', rate: arch.dropout });
    layers.push({ type: 'dense', units, activation: arch.activation });
  }
  if (arch.dropout > 0) layers.push({ type: 'dropout', rate: arch.dropout });
  return layers;
}

/** An architecture that does not fit the data; `path` is relative to the architecture object. */
export class ArchitectureError extends Error {
  override name = 'ArchitectureError';
  constructor(
    readonly path: Array<string | number>,
    message: string,
  ) {
    super(message);
  }
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

function makeLayer(spec: LayerSpec, name: string, inputShape?: number[], vocabSize?: number): tf.layers.Layer {
  const first = inputShape ? { inputShape } : {};
  switch (spec.type) {
    case 'embedding':
      return tf.layers.embedding({
        ...first,
        name,
        inputDim: vocabSize!,
        outputDim: spec.dim,
        maskZero: spec.maskPadding,
      });
    case 'conv1d':
      return tf.layers.conv1d({
        ...first,
        name,
        filters: spec.filters,
        kernelSize: spec.kernelSize,
        padding: spec.padding,
        activation: spec.activation,
      });
    case 'meanpool':
      return new MaskedMeanPooling1D({ name });
    case 'globalmaxpool1d':
      return tf.layers.globalMaxPooling1d({ name });
    case 'lstm':
    case 'gru': {
      // Sigmoid gates, as PyTorch and ONNX (tfjs defaults to hard sigmoid); the final state only.
      const options = { units: spec.units, recurrentActivation: 'sigmoid' as const, returnSequences: false };
      if (!spec.bidirectional)
        return spec.type === 'lstm' ? tf.layers.lstm({ ...options, name }) : tf.layers.gru({ ...options, name });
      const inner = spec.type === 'lstm' ? tf.layers.lstm(options) : tf.layers.gru(options);
      return tf.layers.bidirectional({ layer: inner as tf.RNN, mergeMode: 'concat', name });
    }
    case 'dense':
      return tf.layers.dense({ ...first, name, units: spec.units, activation: spec.activation });
    case 'conv2d':
      return tf.layers.conv2d({
        ...first,
        name,
        filters: spec.filters,
        kernelSize: pair(spec.kernelSize),
        strides: pair(spec.strides),
        padding: spec.padding,
        activation: spec.activation,
      });
    case 'batchnorm':
      return tf.layers.batchNormalization({ ...first, name, momentum: spec.momentum, epsilon: spec.epsilon });
    case 'activation':
      return tf.layers.activation({ ...first, name, activation: spec.fn });
    case 'maxpool':
    case 'avgpool': {
      const options = {
        ...first,
        name,
        poolSize: pair(spec.poolSize),
        strides: spec.strides === undefined ? undefined : pair(spec.strides),
        padding: spec.padding,
      };
      return spec.type === 'maxpool' ? tf.layers.maxPooling2d(options) : tf.layers.averagePooling2d(options);
    }
    case 'flatten':
      return tf.layers.flatten({ ...first, name });
    case 'dropout':
      return tf.layers.dropout({ ...first, name, rate: spec.rate });
  }
}

/**
 * A Sequential model: the architecture's layers, then a dense layer with one logit per class.
 * Layer names are `<type>_<n>` and `logits`, the same in every model, so checkpoints and
 * named intermediate layers stay stable. Initialisation draws from Math.random (see random.ts).
 */
export function buildModel(
  arch: ArchitectureSpec,
  inputShape: number[],
  numClasses: number,
  namePrefix = '',
  vocabSize?: number,
): tf.Sequential {
  const specs = expandArchitecture(arch, inputShape);
  const model = tf.sequential();
  const counts = new Map<string, number>();
  let shape = inputShape;
  if (vocabSize !== undefined && specs[0]?.type !== 'embedding')
    throw new ArchitectureError(
      arch.type === 'layers' ? ['layers', 0] : ['type'],
      `text data gives token ids, which need an embedding first; expected an architecture of type "text", or a first layer {"type": "embedding", "dim": ...}`,
    );
  /** An embedding whose padding mask is still unread (its index), to check who consumes it. */
  let pendingMask: number | undefined;
  specs.forEach((spec, i) => {
    const n = (counts.get(spec.type) ?? 0) + 1;
    counts.set(spec.type, n);
    const layerPath = arch.type === 'layers' ? ['layers', i] : ['type'];
    if (spec.type === 'embedding') {
      if (i !== 0 || vocabSize === undefined)
        throw new ArchitectureError(
          layerPath,
          vocabSize === undefined
            ? 'an embedding layer takes token ids, which only text data gives (data.source "text")'
            : 'an embedding layer must be the first layer (it reads the token ids)',
        );
      if (spec.maskPadding) pendingMask = i;
    } else if (pendingMask !== undefined && spec.type !== 'dropout' && spec.type !== 'activation') {
      if (!MASK_READERS.has(spec.type))
        throw new ArchitectureError(
          layerPath,
          `a ${spec.type} layer does not use the padding mask of the embedding before it; expected meanpool, lstm or gru after an embedding with maskPadding, or "maskPadding": false on the embedding`,
        );
      pendingMask = undefined;
    }
    if (SEQUENCE_LAYERS.has(spec.type) && shape.length !== 2)
      throw new ArchitectureError(
        layerPath,
        `a ${spec.type} layer needs a sequence of token vectors (tokens, channels), as an embedding gives, but its input has shape [${shape.join(', ')}]`,
      );
    if ((spec.type === 'conv2d' || spec.type === 'maxpool' || spec.type === 'avgpool') && shape.length !== 3)
      throw new ArchitectureError(
        layerPath,
        `a ${spec.type} layer needs an image-shaped input (height, width, channels), but its input has shape [${shape.join(', ')}]`,
      );
    if (spec.type === 'dense' && shape.length !== 1)
      throw new ArchitectureError(
        layerPath,
        `a dense layer needs a flat input, but its input has shape [${shape.join(', ')}]; add {"type": "flatten"} before it`,
      );
    try {
      model.add(makeLayer(spec, `${namePrefix}${spec.type}_${n}`, i === 0 ? inputShape : undefined, vocabSize));
    } catch (err) {
      throw new ArchitectureError(
        layerPath,
        `this layer does not fit its input of shape [${shape.join(', ')}]: ${(err as Error).message}`,
      );
    }
    const out = model.outputs[0].shape.slice(1) as number[];
    if (out.some((d) => d !== null && d <= 0))
      throw new ArchitectureError(
        layerPath,
        `this layer shrinks its input of shape [${shape.join(', ')}] to nothing (output [${out.join(', ')}])`,
      );
    shape = out;
  });
  if (shape.length !== 1) {
    const n = (counts.get('flatten') ?? 0) + 1;
    model.add(tf.layers.flatten({ name: `${namePrefix}flatten_${n}`, ...(specs.length === 0 ? { inputShape } : {}) }));
  }
  model.add(
    tf.layers.dense({
      name: `${namePrefix}logits`,
      units: numClasses,
      ...(specs.length === 0 && shape.length === 1 ? { inputShape } : {}),
    }),
  );
  return model;
}

export function describeModel(model: tf.LayersModel): ModelInfo {
  const params = model.countParams();
  const layers = model.layers.map((l) => {
    const c = l.getConfig() as Record<string, unknown>;
    const detail = c.units ?? c.filters ?? c.rate ?? c.activation ?? '';
    return `${l.getClassName()}${detail !== '' ? `(${String(detail)})` : ''}`;
  });
  return { params, bytes: params * 4, layers };
}
