/** Which weights each update of a training step trains (deep mutual learning's alternating updates). */
import type * as tf from '@tensorflow/tfjs';
import type { UpdateStep } from './objective.ts';

/** A model trained with the student in one training model, its logits under `key`. */
interface Companion {
  key: string;
  model: tf.LayersModel;
}

/**
 * For each update, a mask over the training model's trainable weights: a companion's own, or the
 * student's (everything that is no companion's: its layers and hint projections).
 */
export function updateMasks(
  updates: UpdateStep[],
  training: tf.LayersModel,
  companions: Companion[],
): Array<{ loss: UpdateStep['loss']; trains: boolean[] }> {
  const weightsOf = (key: string) => {
    const c = companions.find((m) => m.key === key);
    if (!c) throw new Error(`an update trains the companion "${key}", which the stage does not have`);
    return new Set(c.model.trainableWeights.map((w) => w.originalName));
  };
  const companionWeights = new Set(companions.flatMap((c) => [...weightsOf(c.key)]));
  return updates.map((u) => {
    const own = u.trains === 'student' ? undefined : weightsOf(u.trains.companion);
    return {
      loss: u.loss,
      trains: training.trainableWeights.map((w) =>
        own ? own.has(w.originalName) : !companionWeights.has(w.originalName),
      ),
    };
  });
}
