/**
 * Where a training step's batch comes from: the rows of the training split, with the teacher's
 * outputs on them when the loss reads a teacher. Offline (no augmentation), those outputs are
 * gathered from the ones computed once for the split; online (augmentation on), the gathered
 * examples are augmented on the device and the teacher runs on the augmented batch, since no
 * precomputed output fits it. Any async work (an ONNX teacher reads the batch to the host) is
 * done here, before the step's synchronous scope; the caller disposes the batch after the step.
 */
import * as tf from '@tensorflow/tfjs';
import type { AugmentSpec } from '../config/schema.ts';
import { augmentBatch, augmentParams, augmentSeed } from '../data/augment.ts';
import type { TeacherBatch } from '../distill/objective.ts';
import { pseudoLabel } from '../distill/pseudoLabels.ts';
import type { BatchTeacher } from '../distill/teacherOutputs.ts';
import type { DeviceSplit } from './evaluate.ts';

/** The teacher's outputs on the training split, aligned with its rows (gathered per batch). */
export interface TeacherTrainOutputs {
  logits: tf.Tensor2D;
  outputs: Map<string, tf.Tensor>;
}

/** One step's examples, labels (-1: unlabeled) and, when the loss reads a teacher, its outputs on them. */
export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor1D;
  teacher?: TeacherBatch;
  /** With online pseudo-labels: how many unlabeled rows of the batch took the teacher's class (int32 scalar). */
  pseudoLabeled?: tf.Scalar;
}

export interface BatchSourceOptions {
  train: DeviceSplit;
  /** `train.seed`: with the epoch and the step, it seeds the augmentation. */
  seed: number;
  augment?: AugmentSpec;
  /** Offline: the teacher's outputs on `train` (exact only without augmentation). */
  teacherTrain?: TeacherTrainOutputs;
  /** Online: the teacher run on each (augmented) batch. */
  onlineTeacher?: BatchTeacher;
  /** Online with `distill.pseudoLabels`: confident unlabeled rows take the teacher's class on this batch. */
  pseudoLabelThreshold?: number;
}

export type BatchSource = (epoch: number, step: number, rows: Int32Array) => Promise<Batch>;

export function batchSource(options: BatchSourceOptions): BatchSource {
  const { train, seed, augment, teacherTrain, onlineTeacher, pseudoLabelThreshold } = options;
  if (teacherTrain && onlineTeacher)
    throw new Error('a phase learns from precomputed or online teacher outputs, not both');
  if (augment && teacherTrain)
    throw new Error('precomputed teacher outputs do not fit augmented batches: the teacher must run online');
  return async (epoch, step, rows) => {
    const { x, y } = tf.tidy(() => {
      const idx = tf.tensor1d(rows, 'int32');
      const raw = tf.gather(train.x, idx);
      return {
        x: augment
          ? augmentBatch(
              raw as tf.Tensor4D,
              augment,
              augmentParams(augment, rows.length, augmentSeed(seed, epoch, step)),
            )
          : raw,
        y: tf.gather(train.y, idx) as tf.Tensor1D,
      };
    });
    if (onlineTeacher) {
      let teacher: TeacherBatch;
      try {
        teacher = await onlineTeacher.run(x);
      } catch (err) {
        tf.dispose([x, y]);
        throw err;
      }
      if (pseudoLabelThreshold === undefined) return { x, y, teacher };
      // The teacher saw this augmentation of the rows, so its pseudo-labels are for this batch only.
      const { labels, kept } = pseudoLabel(teacher.logits, y, pseudoLabelThreshold);
      y.dispose();
      return { x, y: labels, teacher, pseudoLabeled: kept };
    }
    if (!teacherTrain) return { x, y };
    const keys = [...teacherTrain.outputs.keys()];
    // A tidy keeps the tensors of arrays and objects it returns, not those of a Map.
    const [logits, ...outputs] = tf.tidy(() => {
      const idx = tf.tensor1d(rows, 'int32');
      return [teacherTrain.logits, ...keys.map((k) => teacherTrain.outputs.get(k)!)].map((t) => tf.gather(t, idx));
    });
    return { x, y, teacher: { logits: logits as tf.Tensor2D, outputs: new Map(keys.map((k, i) => [k, outputs[i]])) } };
  };
}

export function disposeBatch(batch: Batch): void {
  tf.dispose([
    batch.x,
    batch.y,
    ...(batch.teacher ? [batch.teacher.logits, ...batch.teacher.outputs.values()] : []),
    ...(batch.pseudoLabeled ? [batch.pseudoLabeled] : []),
  ]);
}
