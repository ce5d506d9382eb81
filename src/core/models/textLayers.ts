/**
 * The one custom tfjs layer of text models: the mean of the token vectors over the tokens that
 * are not padding (the embedding's mask), as fastText averages word vectors. tfjs's own
 * GlobalAveragePooling1D ignores the mask, so padding would dilute short texts. Registered for
 * serialization, so saved models and checkpoints load it by its class name.
 */
import * as tf from '@tensorflow/tfjs';

export class MaskedMeanPooling1D extends tf.layers.Layer {
  static readonly className = 'MaskedMeanPooling1D';

  constructor(args: { name?: string } = {}) {
    super(args);
    this.supportsMasking = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [s[0], s[2]];
  }

  /** The mask is consumed here: the output has no token axis. */
  override computeMask(): tf.Tensor {
    return null as unknown as tf.Tensor; // tfjs's signature has no null, but null is what "no mask" is
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const mask = kwargs.mask as tf.Tensor | undefined;
      if (!mask) return tf.mean(x, 1);
      const m = tf.expandDims(tf.cast(mask, 'float32'), -1);
      // A text of padding only (not produced by the loader, which refuses empty texts) gives zeros.
      return tf.div(tf.sum(tf.mul(x, m), 1), tf.maximum(tf.sum(m, 1), 1));
    });
  }
}
tf.serialization.registerClass(MaskedMeanPooling1D);
