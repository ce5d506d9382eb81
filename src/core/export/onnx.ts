/**
 * ONNX export of a tfjs Sequential model, written directly as an ONNX ModelProto (opset 13).
 * The exported model takes the same input as the tfjs one (NHWC images, or flat features):
 * a Transpose to NCHW is inserted before the first conv, and back to NHWC before Flatten, so
 * dense weights keep tfjs's flatten order and no weight has to be permuted but conv kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { exportConv1d, exportEmbedding, exportMeanPool, exportRecurrent } from './onnxText.ts';

export const OPSET = 13;

/** A layer with no ONNX mapping here: names the layer and its class. */
export class ExportError extends Error {
  override name = 'ExportError';
}

/** flat: [batch, features]; nhwc / nchw: images; sequence: [batch, tokens, channels] (text layers). */
type Layout = 'flat' | 'nhwc' | 'nchw' | 'sequence';

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private counter = 0;

  name(base: string): string {
    return `${base}_${this.counter++}`;
  }

  /** Weights are read from the backend once the graph is built (`readWeights`): WebGPU has no sync reads. */
  private readonly pending: Array<{ initializer: onnx.ITensorProto; tensor: tf.Tensor }> = [];

  weight(name: string, t: tf.Tensor, dims = t.shape): string {
    const initializer: onnx.ITensorProto = { name, dataType: onnx.TensorProto.DataType.FLOAT, dims };
    this.initializers.push(initializer);
    this.pending.push({ initializer, tensor: tf.keep(t.clone()) });
    return name;
  }

  async readWeights(): Promise<void> {
    try {
      for (const { initializer, tensor } of this.pending)
        initializer.rawData = new Uint8Array(new Float32Array(await tensor.data()).buffer);
    } finally {
      this.dispose();
    }
  }

  dispose(): void {
    tf.dispose(this.pending.splice(0).map((p) => p.tensor));
  }

  constant(name: string, values: number[]): string {
    this.initializers.push({ name, dataType: onnx.TensorProto.DataType.FLOAT, dims: [], floatData: values });
    return name;
  }

  /** A rank-1 int64 initializer (axes, shapes: inputs of ops since opset 13). */
  int64s(base: string, values: number[]): string {
    const name = this.name(base);
    this.initializers.push({
      name,
      dataType: onnx.TensorProto.DataType.INT64,
      dims: [values.length],
      int64Data: values,
    });
    return name;
  }

  /** A node with several outputs (LSTM's Y, Y_h, Y_c); empty names are outputs not asked for. */
  multi(
    opType: string,
    inputs: string[],
    outputs: number,
    attributes: onnx.IAttributeProto[],
    keep: number[],
  ): string[] {
    const base = this.name(opType.toLowerCase());
    const names = Array.from({ length: outputs }, (_, i) => (keep.includes(i) ? `${base}_out${i}` : ''));
    this.nodes.push({ opType, input: inputs, output: names, name: base, attribute: attributes });
    return names;
  }

  op(opType: string, inputs: string[], attributes: onnx.IAttributeProto[] = [], base = opType.toLowerCase()): string {
    const output = this.name(base);
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute: attributes });
    return output;
  }
}

export const ints = (name: string, v: number[]): onnx.IAttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.INTS,
  ints: v,
});
export const int = (name: string, v: number): onnx.IAttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.INT,
  i: v,
});
const float = (name: string, v: number): onnx.IAttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.FLOAT,
  f: v,
});

export function activation(g: GraphBuilder, x: string, fn: string, layerName: string): string {
  switch (fn) {
    case 'linear':
      return x;
    case 'relu':
      return g.op('Relu', [x]);
    case 'relu6':
      return g.op('Clip', [x, g.constant(g.name('zero'), [0]), g.constant(g.name('six'), [6])]);
    case 'elu':
      return g.op('Elu', [x], [float('alpha', 1)]);
    case 'selu':
      return g.op('Selu', [x]);
    case 'tanh':
      return g.op('Tanh', [x]);
    case 'sigmoid':
      return g.op('Sigmoid', [x]);
    case 'softplus':
      return g.op('Softplus', [x]);
    case 'swish':
      return g.op('Mul', [x, g.op('Sigmoid', [x])], [], 'swish');
    case 'softmax':
      return g.op('Softmax', [x], [int('axis', -1)]);
    default:
      throw new ExportError(
        `layer "${layerName}": activation "${fn}" has no ONNX mapping here; supported: linear, relu, relu6, elu, selu, tanh, sigmoid, softplus, swish, softmax`,
      );
  }
}

/** Explicit [top, left, bottom, right] pads for TF's 'same' (the extra pixel goes bottom/right). */
function samePads(inHW: number[], kernel: number[], strides: number[]): number[] {
  const pads = [0, 0, 0, 0];
  for (let d = 0; d < 2; d++) {
    const out = Math.ceil(inHW[d] / strides[d]);
    const total = Math.max((out - 1) * strides[d] + kernel[d] - inHW[d], 0);
    pads[d] = Math.floor(total / 2);
    pads[d + 2] = total - pads[d];
  }
  return pads;
}

const pair = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : [v as number, v as number]);

/** Builds the ONNX model of a Sequential tfjs model; throws ExportError for unsupported layers. */
export async function toOnnx(
  model: tf.LayersModel,
  options: { name?: string; docString?: string } = {},
): Promise<Uint8Array> {
  const g = new GraphBuilder();
  try {
    return await buildOnnx(g, model, options);
  } finally {
    g.dispose();
  }
}

async function buildOnnx(
  g: GraphBuilder,
  model: tf.LayersModel,
  options: { name?: string; docString?: string },
): Promise<Uint8Array> {
  const inputShape = (model.inputs[0].shape as Array<number | null>).slice(1) as number[];
  let x = 'input';
  let layout: Layout = inputShape.length === 3 ? 'nhwc' : inputShape.length === 2 ? 'sequence' : 'flat';
  /** Text: the padding mask [batch, tokens] (1 = token) of an embedding with maskZero, until a layer reads it. */
  let mask: string | undefined;
  const sequence = (what: string) => {
    if (layout !== 'sequence') throw new ExportError(`layer "${what}" needs a [batch, tokens, channels] input`);
  };
  const toNchw = () => {
    if (layout === 'nhwc') {
      x = g.op('Transpose', [x], [ints('perm', [0, 3, 1, 2])], 'to_nchw');
      layout = 'nchw';
    }
  };
  const toNhwc = () => {
    if (layout === 'nchw') {
      x = g.op('Transpose', [x], [ints('perm', [0, 2, 3, 1])], 'to_nhwc');
      layout = 'nhwc';
    }
  };
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const c = layer.getConfig() as Record<string, unknown>;
    const w = layer.getWeights();
    const inShape = ((layer.input as tf.SymbolicTensor).shape as number[]).slice(1);
    const ln = layer.name;
    switch (cls) {
      case 'Dense': {
        if (layout !== 'flat')
          throw new ExportError(`layer "${ln}": Dense on a ${inShape.length}-D input is not supported; flatten first`);
        const kernel = g.weight(`${ln}.kernel`, w[0]);
        const inputs = [x, kernel];
        if (c.useBias !== false) inputs.push(g.weight(`${ln}.bias`, w[1]));
        x = activation(g, g.op('Gemm', inputs, [], 'dense'), String(c.activation ?? 'linear'), ln);
        break;
      }
      case 'Conv2D': {
        toNchw();
        if (pair(c.dilationRate).some((d) => d !== 1))
          throw new ExportError(`layer "${ln}": dilated Conv2D is not supported`);
        const kernelSize = pair(c.kernelSize);
        const strides = pair(c.strides);
        const kernel = tf.tidy(() => w[0].transpose([3, 2, 0, 1])); // [kh, kw, in, out] -> [out, in, kh, kw]
        const inputs = [x, g.weight(`${ln}.kernel`, kernel)];
        kernel.dispose();
        if (c.useBias !== false) inputs.push(g.weight(`${ln}.bias`, w[1]));
        const pads = c.padding === 'same' ? samePads(inShape.slice(0, 2), kernelSize, strides) : [0, 0, 0, 0];
        x = g.op(
          'Conv',
          inputs,
          [ints('kernel_shape', kernelSize), ints('strides', strides), ints('pads', pads)],
          'conv',
        );
        x = activation(g, x, String(c.activation ?? 'linear'), ln);
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        toNchw();
        const poolSize = pair(c.poolSize);
        const strides = c.strides ? pair(c.strides) : poolSize;
        const pads = c.padding === 'same' ? samePads(inShape.slice(0, 2), poolSize, strides) : [0, 0, 0, 0];
        // TF's average pooling ignores padded cells: ONNX's count_include_pad = 0 (the default).
        x = g.op(
          cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool',
          [x],
          [ints('kernel_shape', poolSize), ints('strides', strides), ints('pads', pads)],
          cls === 'MaxPooling2D' ? 'maxpool' : 'avgpool',
        );
        break;
      }
      case 'BatchNormalization': {
        const axis = Number(c.axis ?? -1);
        if (axis !== -1 && axis !== inShape.length)
          throw new ExportError(
            `layer "${ln}": BatchNormalization over axis ${axis} is not supported (only the channel axis)`,
          );
        if (layout === 'nhwc') toNchw();
        // Weights in tfjs order: gamma, beta, moving mean, moving variance (gamma/beta may be absent).
        const channels = inShape.at(-1)!;
        const names = (layer.weights as Array<{ originalName?: string; name: string }>).map((v) =>
          (v.originalName ?? v.name).split('/').pop()!.replace(/_\d+$/, ''),
        );
        const get = (n: string, fill: number) => {
          const i = names.indexOf(n);
          return i >= 0 ? w[i] : tf.fill([channels], fill);
        };
        const inputs = [
          g.weight(`${ln}.gamma`, get('gamma', 1)),
          g.weight(`${ln}.beta`, get('beta', 0)),
          g.weight(`${ln}.moving_mean`, get('moving_mean', 0)),
          g.weight(`${ln}.moving_variance`, get('moving_variance', 1)),
        ];
        x = g.op('BatchNormalization', [x, ...inputs], [float('epsilon', Number(c.epsilon ?? 1e-3))], 'batchnorm');
        break;
      }
      case 'Activation':
        x = activation(g, x, String(c.activation), ln);
        break;
      case 'Flatten':
        toNhwc();
        if (layout !== 'flat') {
          x = g.op('Flatten', [x], [int('axis', 1)], 'flatten');
          layout = 'flat';
        }
        break;
      case 'Dropout':
        break; // identity at inference
      case 'Embedding': {
        const out = exportEmbedding(g, x, w[0], c, ln);
        x = out.x;
        mask = out.mask;
        layout = 'sequence';
        break;
      }
      case 'Conv1D':
        sequence(ln);
        x = exportConv1d(g, x, w, c, inShape, ln);
        break;
      case 'GlobalMaxPooling1D':
        sequence(ln);
        x = g.op('ReduceMax', [x], [ints('axes', [1]), int('keepdims', 0)], 'maxpool1d');
        layout = 'flat';
        break;
      case 'MaskedMeanPooling1D':
        sequence(ln);
        x = exportMeanPool(g, x, mask);
        mask = undefined;
        layout = 'flat';
        break;
      case 'LSTM':
      case 'GRU':
      case 'Bidirectional':
        sequence(ln);
        x = exportRecurrent(g, x, layer, mask, ln);
        mask = undefined;
        layout = 'flat';
        break;
      default:
        throw new ExportError(
          `layer "${ln}" (${cls}) has no ONNX mapping; supported: Dense, Conv2D, MaxPooling2D, AveragePooling2D, BatchNormalization, Activation, Flatten, Dropout, Embedding, Conv1D, GlobalMaxPooling1D, MaskedMeanPooling1D, LSTM, GRU, Bidirectional (LSTM, GRU)`,
        );
    }
  }
  toNhwc();
  const outputShape = (model.outputs[0].shape as Array<number | null>).slice(1) as number[];
  const last = g.nodes.at(-1);
  if (last) last.output = ['logits'];
  else g.nodes.push({ opType: 'Identity', input: [x], output: ['logits'], name: 'identity' });
  // A node whose output was renamed may be an input of nothing else: it was the last one.
  const dim = (d: number | string) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d });
  const valueInfo = (name: string, shape: Array<number | string>): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map(dim) } } },
  });
  await g.readWeights();
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'Distill Studio',
    producerVersion: '0.1.0',
    docString: options.docString ?? '',
    graph: {
      name: options.name ?? 'model',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo('input', ['batch', ...inputShape])],
      output: [valueInfo('logits', ['batch', ...outputShape])],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}
