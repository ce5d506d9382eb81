/**
 * What the online teacher costs per training batch on the current backend: the offline path
 * gathers the batch's rows of the precomputed teacher outputs; the online path (data.augment)
 * gathers the examples, augments them and runs the teacher's forward pass on them. Each timed run
 * ends with a host read of its result, so the backend has finished the work.
 */
import * as tf from '@tensorflow/tfjs';
import type { AugmentSpec } from '../config/schema.ts';
import { augmentBatch, augmentParams, augmentSeed } from '../data/augment.ts';
import { batchTeacher } from '../distill/teacherOutputs.ts';
import { predictLogits } from '../train/evaluate.ts';
import { permutation } from '../random.ts';
import { timeRuns, type BenchOptions } from './latency.ts';

export interface OnlineTeacherCost {
  backend: string;
  batch: number;
  /** Median ms per batch of each path. */
  offlineGatherMs: number;
  augmentMs: number;
  onlineMs: number;
  runs: { offline: number; augment: number; online: number };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Times both paths on `x` (the training examples, [n, h, w, c]) with the teacher `model`. */
export async function measureOnlineTeacher(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  spec: AugmentSpec,
  batch: number,
  options: Pick<BenchOptions, 'warmup' | 'minRuns' | 'minSeconds'>,
): Promise<OnlineTeacherCost> {
  const n = x.shape[0];
  const logits = predictLogits(model, x, 1000); // what the offline path gathers from
  const teacher = batchTeacher({ kind: 'tfjs', label: 'teacher', model }, []);
  const order = permutation(n, 1);
  let step = 0;
  const rowsOf = () => {
    const start = (step++ * batch) % Math.max(1, n - batch);
    return order.subarray(start, start + batch);
  };
  const opts = { ...options, batchSizes: [batch], threads: 0 };
  try {
    const offline = await timeRuns(async () => {
      const got = tf.tidy(() => tf.gather(logits, tf.tensor1d(rowsOf(), 'int32')));
      await got.data();
      got.dispose();
    }, opts);
    const augmentOnly = await timeRuns(async () => {
      const rows = rowsOf();
      const got = tf.tidy(() =>
        augmentBatch(
          tf.gather(x, tf.tensor1d(rows, 'int32')) as tf.Tensor4D,
          spec,
          augmentParams(spec, rows.length, augmentSeed(0, 1, step)),
        ),
      );
      await got.data();
      got.dispose();
    }, opts);
    const online = await timeRuns(async () => {
      const rows = rowsOf();
      const xb = tf.tidy(() =>
        augmentBatch(
          tf.gather(x, tf.tensor1d(rows, 'int32')) as tf.Tensor4D,
          spec,
          augmentParams(spec, rows.length, augmentSeed(0, 1, step)),
        ),
      );
      const out = await teacher.run(xb);
      await out.logits.data();
      tf.dispose([xb, out.logits]);
    }, opts);
    return {
      backend: tf.getBackend(),
      batch,
      offlineGatherMs: median(offline),
      augmentMs: median(augmentOnly),
      onlineMs: median(online),
      runs: { offline: offline.length, augment: augmentOnly.length, online: online.length },
    };
  } finally {
    logits.dispose();
  }
}
