/** Runs an exported ONNX model over a data split in onnxruntime-node (CPU): its logits and accuracy. */
import type * as ortTypes from 'onnxruntime-node';
import type { Split } from '../data/dataset.ts';

export interface OnnxSplitResult {
  /** `n * classes` logits, row-major. */
  logits: Float32Array;
  classes: number;
  /** Fraction of examples whose arg-max logit is the label. */
  accuracy: number;
  n: number;
}

export function argmax(row: Float32Array): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

export async function runOnnxOnSplit(
  onnxBytes: Uint8Array,
  split: Split,
  inputShape: number[],
  batch = 256,
): Promise<OnnxSplitResult> {
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const dim = inputShape.reduce((a, b) => a * b, 1);
  const session = await ort.InferenceSession.create(onnxBytes, { executionProviders: ['cpu'] });
  try {
    const chunks: Float32Array[] = [];
    for (let start = 0; start < split.n; start += batch) {
      const m = Math.min(batch, split.n - start);
      const input = new ort.Tensor('float32', split.x.subarray(start * dim, (start + m) * dim), [m, ...inputShape]);
      const out = (await session.run({ input })).logits;
      chunks.push(Float32Array.from(out.data as Float32Array));
    }
    const classes = split.n > 0 ? chunks[0].length / Math.min(batch, split.n) : 0;
    const logits = new Float32Array(split.n * classes);
    let offset = 0;
    for (const c of chunks) {
      logits.set(c, offset);
      offset += c.length;
    }
    let correct = 0;
    for (let i = 0; i < split.n; i++)
      if (argmax(logits.subarray(i * classes, (i + 1) * classes)) === split.y[i]) correct++;
    return { logits, classes, accuracy: split.n > 0 ? correct / split.n : 0, n: split.n };
  } finally {
    await session.release();
  }
}
