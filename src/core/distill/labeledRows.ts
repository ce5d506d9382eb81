/**
 * Rows of a training batch without a label. A transfer set's examples (`data.unlabeled`) carry the
 * label -1: every loss that reads labels (the hard-label cross-entropy, label smoothing, DKD's
 * target class, teacher-free KD's virtual teacher, a mutual peer's labels) averages over the
 * labeled rows of the batch only, and is 0 when it has none; losses on soft targets use every row.
 */
import * as tf from '@tensorflow/tfjs';

export interface LabeledRows {
  /** The labels, with unlabeled rows set to class 0 so that a one-hot of them is valid (their weight is 0). */
  labels: tf.Tensor1D;
  /** 1 for a labeled row, 0 for an unlabeled one (float32). */
  weights: tf.Tensor1D;
}

/** Splits a batch's labels into valid class indices and row weights; no host reads. */
export function labeledRows(labels: tf.Tensor1D): LabeledRows {
  return tf.tidy(() => {
    const int = tf.cast(labels, 'int32');
    const labeled = tf.greaterEqual(int, 0);
    return {
      labels: tf.where(labeled, int, tf.zerosLike(int)) as tf.Tensor1D,
      weights: tf.cast(labeled, 'float32') as tf.Tensor1D,
    };
  });
}
