import * as tf from '@tensorflow/tfjs';

/** Loss terms of one batch, each a scalar tensor; `total` is what is minimised. */
export interface LossTerms {
  total: tf.Scalar;
  /** Cross-entropy against the true labels. */
  hard: tf.Scalar;
  /** Hinton's soft-target term, already scaled by T² (absent without a teacher). */
  kd?: tf.Scalar;
}

/** Mean cross-entropy of logits against integer labels (PyTorch's F.cross_entropy). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits);
    const oneHot = tf.oneHot(labels, logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(oneHot, logProbs))).div(logits.shape[0]) as tf.Scalar;
  });
}

/**
 * KL(teacher || student) of the distributions softened at temperature T, averaged over the batch
 * and scaled by T² so its gradient keeps the same magnitude as T changes (Hinton et al. 2015).
 * Equals PyTorch's `F.kl_div(F.log_softmax(s/T), F.softmax(t/T), reduction='batchmean') * T*T`.
 */
export function softTargetKl(studentLogits: tf.Tensor2D, teacherLogits: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(tf.div(studentLogits, temperature));
    const logP = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const kl = tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)));
    return kl.mul(temperature * temperature / studentLogits.shape[0]) as tf.Scalar;
  });
}

export interface HintonOptions {
  temperature: number;
  /** Weight of the hard-label cross-entropy; the soft-target term gets 1 - alpha. */
  alpha: number;
}

/** Hinton KD: alpha * CE(student, labels) + (1 - alpha) * T² * KL(teacher_T || student_T). */
export function hintonLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  { temperature, alpha }: HintonOptions,
): LossTerms {
  const hard = crossEntropy(studentLogits, labels);
  const kd = softTargetKl(studentLogits, teacherLogits, temperature);
  const total = tf.tidy(() => tf.add(tf.mul(hard, alpha), tf.mul(kd, 1 - alpha)) as tf.Scalar);
  return { total, hard, kd };
}

/** Plain supervised training: the from-scratch baseline and teacher training. */
export function supervisedLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): LossTerms {
  const hard = crossEntropy(logits, labels);
  return { total: hard, hard };
}
