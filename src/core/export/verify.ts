/** Checks an exported ONNX model against the tfjs model it came from, in onnxruntime-node. */
import * as tf from '@tensorflow/tfjs';
import type * as ortTypes from 'onnxruntime-node';
import { mixSeed, SeededRandom } from '../random.ts';

/**
 * Allowed max |onnxruntime - tfjs|: 1e-5, scaled by the outputs' magnitude when it exceeds 1.
 * Two float32 runtimes sum long dot products in different orders (oneDNN, MLAS, XNNPACK), so
 * logits of size 20 already differ by about 1e-5 with both exports exact.
 */
export const EXPORT_TOLERANCE = 1e-5;

export function exportTolerance(maxAbsOutput: number): number {
  return EXPORT_TOLERANCE * Math.max(1, maxAbsOutput);
}

/**
 * Seeded inputs for the check: values in [0, 1), or for a text model (an embedding first) rows of
 * token ids in 1 .. vocabulary - 1 of random lengths, right-padded with 0 as the loader's rows are.
 */
function checkInputs(model: tf.LayersModel, batch: number, inputShape: number[], rng: SeededRandom): Float32Array {
  const size = batch * inputShape.reduce((a, b) => a * b, 1);
  const first = model.layers[0];
  if (first?.getClassName() !== 'Embedding') return Float32Array.from({ length: size }, () => rng.next());
  const vocab = first.getConfig().inputDim as number;
  const steps = inputShape[0];
  const values = new Float32Array(size);
  for (let i = 0; i < batch; i++) {
    const length = 1 + Math.floor(rng.next() * steps);
    for (let t = 0; t < length; t++) values[i * steps + t] = 1 + Math.floor(rng.next() * (vocab - 1));
  }
  return values;
}

/** Max |onnxruntime - tfjs| over seeded random inputs (see checkInputs), and the largest |output|. */
export async function onnxMaxAbsDiff(
  model: tf.LayersModel,
  onnxBytes: Uint8Array,
  batch = 16,
): Promise<{ maxAbsDiff: number; maxAbsOutput: number }> {
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const inputShape = (model.inputs[0].shape as number[]).slice(1);
  const rng = new SeededRandom(mixSeed('export-check'));
  const values = checkInputs(model, batch, inputShape, rng);
  const session = await ort.InferenceSession.create(onnxBytes);
  try {
    const got = (await session.run({ input: new ort.Tensor('float32', values, [batch, ...inputShape]) })).logits
      .data as Float32Array;
    const out = tf.tidy(() => model.predict(tf.tensor(values, [batch, ...inputShape])) as tf.Tensor);
    const want = await out.data();
    out.dispose();
    let maxAbsDiff = 0;
    let maxAbsOutput = 0;
    for (let i = 0; i < want.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(want[i] - got[i]));
      maxAbsOutput = Math.max(maxAbsOutput, Math.abs(want[i]));
    }
    return { maxAbsDiff, maxAbsOutput };
  } finally {
    await session.release();
  }
}
