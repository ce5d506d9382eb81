/**
 * A test-time ensemble (born-again's BAN-E, Furlanello et al. 2018): its prediction is the mean of
 * its members' softmax outputs. As logits it is the log of that mean (softmax gives the mean
 * back), so accuracy, cross-entropy, agreement and KL are computed as for one model.
 */
import * as tf from '@tensorflow/tfjs';
import { predictLogits } from '../train/evaluate.ts';

/** The mean of the members' softmax outputs on `x` [n, classes] (inference mode). */
export function ensembleProbabilities(members: tf.LayersModel[], x: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const probs = members.map((m) => tf.softmax(m.apply(x, { training: false }) as tf.Tensor2D));
    return tf.div(probs.length === 1 ? probs[0] : tf.addN(probs), members.length) as tf.Tensor2D;
  });
}

/** The ensemble's logits (log of the mean probabilities) on every example, in batches. */
export function ensembleLogits(members: tf.LayersModel[], x: tf.Tensor, batchSize: number): tf.Tensor2D {
  const perMember = members.map((m) => predictLogits(m, x, batchSize));
  try {
    return tf.tidy(() => {
      const mean = tf.div(tf.addN(perMember.map((l) => tf.softmax(l))), members.length);
      // The smallest float32 normal keeps log finite where every member gives a class 0 probability.
      return tf.log(tf.maximum(mean, 1.1754944e-38)) as tf.Tensor2D;
    });
  } finally {
    tf.dispose(perMember);
  }
}
