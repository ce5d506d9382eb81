/** Size and compute of a model, from its layers: what a smaller student actually saves. */
import * as fs from 'node:fs';
import type * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';

export interface ModelCost {
  params: number;
  /** Weights at fp32 (trainable and running statistics). */
  bytes: number;
  /** Multiply-adds for one example: dense in*out, conv outH*outW*out*kh*kw*in, conv1d, lstm / gru per token; others (an embedding lookup) count 0. */
  macs: number;
}

export function modelCost(model: tf.LayersModel): ModelCost {
  let macs = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const inShape = (layer.input as tf.SymbolicTensor).shape;
    const outShape = (layer.output as tf.SymbolicTensor).shape;
    if (cls === 'Dense') macs += (inShape.at(-1) as number) * (outShape.at(-1) as number);
    else if (cls === 'Conv2D') {
      const [kh, kw] = (layer.getConfig().kernelSize as number[]) ?? [1, 1];
      const [, oh, ow, oc] = outShape as number[];
      macs += oh * ow * oc * kh * kw * (inShape[3] as number);
    } else if (cls === 'Conv1D') {
      const [k] = (layer.getConfig().kernelSize as number[]) ?? [1];
      const [, steps, oc] = outShape as number[];
      macs += steps * oc * k * (inShape[2] as number);
    } else if (cls === 'LSTM' || cls === 'GRU' || cls === 'Bidirectional') {
      // Per token: gates x (input + hidden) x hidden; a bidirectional layer runs two.
      const inner =
        cls === 'Bidirectional' ? (layer as unknown as { forwardLayer: tf.layers.Layer }).forwardLayer : layer;
      const gates = inner.getClassName() === 'LSTM' ? 4 : 3;
      const units = inner.getConfig().units as number;
      const [, steps, features] = inShape as number[];
      macs += (cls === 'Bidirectional' ? 2 : 1) * steps * gates * (features + units) * units;
    }
  }
  const params = model.countParams();
  return { params, bytes: params * 4, macs };
}

/**
 * Parameters and fp32 size of an ONNX model, counted from its initializers. Multiply-adds are not
 * counted: they need the shapes of every intermediate value (shape inference), which we do not run.
 */
export function onnxModelCost(file: string): Omit<ModelCost, 'macs'> {
  const proto = onnx.ModelProto.decode(fs.readFileSync(file));
  let params = 0;
  for (const init of proto.graph?.initializer ?? [])
    params += (init.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
  return { params, bytes: params * 4 };
}
