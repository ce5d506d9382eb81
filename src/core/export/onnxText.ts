/**
 * ONNX nodes for the text layers of a tfjs model (opset 13). The model's input holds token ids as
 * float32 [batch, tokens] (the tfjs input); they are cast to int64 for a Gather of the embedding.
 * A padding mask (ids != 0) follows an embedding with maskZero, and its readers use it as tfjs
 * does: the masked mean divides by the number of tokens; LSTM / GRU get `sequence_lens` (tokens
 * per text), which equals tfjs's masking for right-padded rows (the loader's rows are).
 * Gate order: Keras LSTM kernels are [i, f, c, o], ONNX's are [i, o, f, c]; GRU is [z, r, h] in
 * both, and tfjs's GRU is ONNX's linear_before_reset = 0 (the reset gate before the recurrent matmul).
 */
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { activation as activationOf, ExportError, int, ints, type GraphBuilder } from './onnx.ts';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const INT32 = onnx.TensorProto.DataType.INT32;

/** Gather of the embedding table by the ids; with maskZero, also the float mask [batch, tokens]. */
export function exportEmbedding(
  g: GraphBuilder,
  x: string,
  table: tf.Tensor,
  config: Record<string, unknown>,
  ln: string,
): { x: string; mask?: string } {
  const ids = g.op('Cast', [x], [int('to', INT64)], 'token_ids');
  const out = g.op('Gather', [g.weight(`${ln}.embeddings`, table), ids], [int('axis', 0)], 'embedding');
  if (!config.maskZero) return { x: out };
  const isPad = g.op('Equal', [x, g.constant(g.name('zero'), [0])], [], 'is_padding');
  const mask = g.op('Cast', [g.op('Not', [isPad], [], 'is_token')], [int('to', FLOAT)], 'mask');
  return { x: out, mask };
}

/** [batch, tokens, in] -> Conv over tokens -> [batch, tokens', out], TF's `same` / `valid` padding. */
export function exportConv1d(
  g: GraphBuilder,
  x: string,
  w: tf.Tensor[],
  c: Record<string, unknown>,
  inShape: number[],
  ln: string,
): string {
  const k = (c.kernelSize as number[])[0];
  const stride = (c.strides as number[])[0];
  if ((c.dilationRate as number[])[0] !== 1) throw new ExportError(`layer "${ln}": dilated Conv1D is not supported`);
  if (c.padding === 'causal') throw new ExportError(`layer "${ln}": causal Conv1D is not supported`);
  const kernel = tf.tidy(() => w[0].transpose([2, 1, 0])); // [k, in, out] -> [out, in, k]
  const inputs = [g.op('Transpose', [x], [ints('perm', [0, 2, 1])], 'to_ncl'), g.weight(`${ln}.kernel`, kernel)];
  kernel.dispose();
  if (c.useBias !== false) inputs.push(g.weight(`${ln}.bias`, w[1]));
  let pads = [0, 0];
  if (c.padding === 'same') {
    const steps = inShape[0];
    const total = Math.max((Math.ceil(steps / stride) - 1) * stride + k - steps, 0);
    pads = [Math.floor(total / 2), total - Math.floor(total / 2)];
  }
  const y = g.op('Conv', inputs, [ints('kernel_shape', [k]), ints('strides', [stride]), ints('pads', pads)], 'conv1d');
  const activated = activationOf(g, y, String(c.activation ?? 'linear'), ln);
  return g.op('Transpose', [activated], [ints('perm', [0, 2, 1])], 'to_nlc');
}

/** Mean over tokens; with a mask, over the real tokens only (as MaskedMeanPooling1D). */
export function exportMeanPool(g: GraphBuilder, x: string, mask: string | undefined): string {
  if (!mask) return g.op('ReduceMean', [x], [ints('axes', [1]), int('keepdims', 0)], 'meanpool');
  const m = g.op('Unsqueeze', [mask, g.int64s('axes', [2])], [], 'mask3');
  const sum = g.op(
    'ReduceSum',
    [g.op('Mul', [x, m], [], 'masked'), g.int64s('axes', [1])],
    [int('keepdims', 0)],
    'sum',
  );
  const count = g.op('ReduceSum', [m, g.int64s('axes', [1])], [int('keepdims', 0)], 'count');
  const safe = g.op('Max', [count, g.constant(g.name('one'), [1])], [], 'count_safe');
  return g.op('Div', [sum, safe], [], 'meanpool');
}

/** A cell's weights in ONNX's layout: W [gates*H, in], R [gates*H, H], B [2*gates*H] (the recurrent bias is 0). */
function cellWeights(cell: tf.layers.Layer, lstm: boolean): { W: tf.Tensor; R: tf.Tensor; B: tf.Tensor } {
  const [kernel, recurrent, bias] = cell.getWeights();
  const gates = lstm ? 4 : 3;
  // LSTM blocks i, f, c, o -> i, o, f, c; GRU keeps z, r, h.
  const order = lstm ? [0, 3, 1, 2] : [0, 1, 2];
  return tf.tidy(() => {
    const reorder = (t: tf.Tensor) => {
      const blocks = tf.split(t, gates, t.rank - 1);
      return tf.concat(
        order.map((i) => blocks[i]),
        t.rank - 1,
      );
    };
    const units = recurrent.shape[0];
    const b = bias ? reorder(bias) : tf.zeros([gates * units]);
    return {
      W: reorder(kernel).transpose(),
      R: reorder(recurrent).transpose(),
      B: tf.concat([b, tf.zeros([gates * units])]),
    };
  });
}

/** tfjs LSTM / GRU (or Bidirectional of one, concat): the final hidden state(s) as [batch, directions * H]. */
export function exportRecurrent(
  g: GraphBuilder,
  x: string,
  layer: tf.layers.Layer,
  mask: string | undefined,
  ln: string,
): string {
  const bidirectional = layer.getClassName() === 'Bidirectional';
  const wrapper = layer as unknown as {
    forwardLayer: tf.layers.Layer;
    backwardLayer: tf.layers.Layer;
    mergeMode: string;
  };
  const cells = bidirectional ? [wrapper.forwardLayer, wrapper.backwardLayer] : [layer];
  if (bidirectional && wrapper.mergeMode !== 'concat')
    throw new ExportError(
      `layer "${ln}": Bidirectional merge mode "${wrapper.mergeMode}" is not supported (only concat)`,
    );
  const kind = cells[0].getClassName();
  if (kind !== 'LSTM' && kind !== 'GRU')
    throw new ExportError(`layer "${ln}": Bidirectional of ${kind} is not supported`);
  const lstm = kind === 'LSTM';
  const c = cells[0].getConfig() as Record<string, unknown>;
  if (c.returnSequences || c.returnState || c.stateful || (c.goBackwards && !bidirectional))
    throw new ExportError(
      `layer "${ln}": only the final state of a forward (or bidirectional) ${kind} is exported (returnSequences, returnState, stateful and goBackwards are not)`,
    );
  if (c.activation !== 'tanh' || c.recurrentActivation !== 'sigmoid')
    throw new ExportError(
      `layer "${ln}": ${kind} with activation "${String(c.activation)}" and recurrent activation "${String(c.recurrentActivation)}" is not supported; expected tanh and sigmoid (ONNX's defaults)`,
    );
  if (!lstm && c.resetAfter) throw new ExportError(`layer "${ln}": GRU with resetAfter is not supported`);
  const units = c.units as number;
  const parts = cells.map((cell) => cellWeights(cell, lstm));
  const stacked = tf.tidy(() => ({
    W: tf.stack(parts.map((p) => p.W)),
    R: tf.stack(parts.map((p) => p.R)),
    B: tf.stack(parts.map((p) => p.B)),
  }));
  tf.dispose(parts.flatMap((p) => [p.W, p.R, p.B]));
  const inputs = [
    g.op('Transpose', [x], [ints('perm', [1, 0, 2])], 'to_tnc'),
    g.weight(`${ln}.W`, stacked.W),
    g.weight(`${ln}.R`, stacked.R),
    g.weight(`${ln}.B`, stacked.B),
  ];
  tf.dispose([stacked.W, stacked.R, stacked.B]);
  if (mask) {
    const lengths = g.op('ReduceSum', [mask, g.int64s('axes', [1])], [int('keepdims', 0)], 'lengths');
    inputs.push(g.op('Cast', [lengths], [int('to', INT32)], 'sequence_lens'));
  }
  const attributes = [
    int('hidden_size', units),
    {
      name: 'direction',
      type: onnx.AttributeProto.AttributeType.STRING,
      s: new TextEncoder().encode(bidirectional ? 'bidirectional' : 'forward'),
    },
    ...(lstm ? [] : [int('linear_before_reset', 0)]),
  ];
  const [, hidden] = g.multi(kind, inputs, lstm ? 3 : 2, attributes, [1]);
  // Y_h: [directions, batch, H] -> [batch, directions * H], forward then backward (Keras's concat).
  const batchFirst = g.op('Transpose', [hidden], [ints('perm', [1, 0, 2])], 'to_batch_first');
  return g.op('Flatten', [batchFirst], [int('axis', 1)], 'final_state');
}
