/**
 * Pseudo-labels (Lee 2013): an unlabeled example whose teacher is confident enough (its largest
 * softmax probability at T = 1 is at least `threshold`) takes the teacher's most likely class as
 * its hard label; the other unlabeled examples keep -1 and stay out of the hard-label loss.
 * Tensors in, tensors out, no host reads: it runs once on the teacher's cached outputs before a
 * phase, or on each batch when the teacher runs online (augmented batches).
 */
import * as tf from '@tensorflow/tfjs';

export interface PseudoLabeled {
  /** `labels` with the confident unlabeled rows set to the teacher's argmax (int32). */
  labels: tf.Tensor1D;
  /** How many unlabeled rows got a pseudo-label (int32 scalar). */
  kept: tf.Scalar;
}

/**
 * `teacherLogits` [n, classes] and `labels` [n] (-1 = unlabeled) of the same rows. Labeled rows
 * are never changed. The caller disposes the result.
 */
export function pseudoLabel(teacherLogits: tf.Tensor2D, labels: tf.Tensor1D, threshold: number): PseudoLabeled {
  if (teacherLogits.shape[0] !== labels.shape[0])
    throw new Error(
      `pseudoLabel: ${teacherLogits.shape[0]} rows of teacher logits for ${labels.shape[0]} labels; expected the same rows`,
    );
  return tf.tidy(() => {
    const confidence = tf.max(tf.softmax(teacherLogits), 1);
    const argmax = tf.cast(tf.argMax(teacherLogits, 1), 'int32');
    const own = tf.cast(labels, 'int32');
    const take = tf.logicalAnd(tf.less(own, 0), tf.greaterEqual(confidence, threshold));
    return {
      labels: tf.where(take, argmax, own) as tf.Tensor1D,
      kept: tf.sum(tf.cast(take, 'int32')) as tf.Scalar,
    };
  });
}
