/** Evaluation and batched inference, with one (async) host read per call rather than per batch. */
import * as tf from '@tensorflow/tfjs';
import type { EvalMetrics } from '../../protocol/events.ts';

/** A split as tensors on the backend: examples [n, ...shape] and int32 labels [n]. */
export interface DeviceSplit {
  x: tf.Tensor;
  y: tf.Tensor1D;
  n: number;
}

function forward(model: tf.LayersModel, x: tf.Tensor): tf.Tensor2D {
  return model.apply(x, { training: false }) as tf.Tensor2D;
}

/** Logits of `model` for every example, computed in batches (inference mode: no dropout, running BN statistics). */
export function predictLogits(model: tf.LayersModel, x: tf.Tensor, batchSize: number): tf.Tensor2D {
  const n = x.shape[0];
  if (n === 0) return tf.zeros([0, model.outputs[0].shape[1] as number]);
  const parts: tf.Tensor2D[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    parts.push(tf.tidy(() => forward(model, x.slice(start, size))));
  }
  const all = parts.length === 1 ? parts[0] : tf.concat(parts);
  if (parts.length > 1) tf.dispose(parts);
  return all;
}

/**
 * Accuracy and cross-entropy against the labels; with teacher logits also top-1 agreement and
 * KL(teacher || model) at T = 1.
 */
export async function evaluate(
  model: tf.LayersModel,
  split: DeviceSplit,
  batchSize: number,
  teacherLogits?: tf.Tensor2D,
  withConfusion = false,
): Promise<EvalMetrics> {
  if (split.n === 0) return { accuracy: NaN, loss: NaN, examples: 0 };
  const logits = predictLogits(model, split.x, batchSize);
  try {
    return await evaluateLogits(logits, split.y, teacherLogits, withConfusion);
  } finally {
    logits.dispose();
  }
}

/** The metrics of `evaluate` from logits already computed (an ONNX teacher's, for instance). */
export async function evaluateLogits(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  teacherLogits?: tf.Tensor2D,
  withConfusion = false,
): Promise<EvalMetrics> {
  const n = logits.shape[0];
  if (n === 0) return { accuracy: NaN, loss: NaN, examples: 0 };
  const k = logits.shape[1];
  const [predicted, totals] = tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits);
    const predicted = logits.argMax(1);
    const correct = predicted.equal(labels).sum().cast('float32');
    const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(labels, k), logProbs)));
    let agree: tf.Tensor = tf.scalar(0);
    let kl: tf.Tensor = tf.scalar(0);
    if (teacherLogits) {
      agree = predicted.equal(teacherLogits.argMax(1)).sum().cast('float32');
      const logP = tf.logSoftmax(teacherLogits);
      kl = tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logProbs)));
    }
    return [predicted, tf.stack([correct, ce, agree, kl])];
  });
  const [correct, ce, agree, kl] = await totals.data();
  const metrics: EvalMetrics = { accuracy: correct / n, loss: ce / n, examples: n };
  if (withConfusion) {
    const [p, y] = await Promise.all([predicted.data(), labels.data()]);
    metrics.confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    for (let i = 0; i < n; i++) metrics.confusion[y[i]][p[i]] += 1;
  }
  tf.dispose([predicted, totals]);
  if (teacherLogits) {
    metrics.agreement = agree / n;
    metrics.klToTeacher = kl / n;
  }
  return metrics;
}
