/** The product's compiled objective, called the way the training loop calls it, for loss tests. */
import type * as tf from '@tensorflow/tfjs';
import { compileObjective, type LossTerms } from '../../src/core/distill/objective.ts';

/** Hinton KD as `distill: {method: "kd"}` compiles it: terms hard, kd and total. */
export function hintonTerms(
  student: tf.Tensor2D,
  teacher: tf.Tensor2D,
  labels: tf.Tensor1D,
  { temperature, alpha }: { temperature: number; alpha: number },
): LossTerms {
  const objective = compileObjective({ method: 'kd', temperature, alpha, divergence: 'forward' });
  return objective.loss({ logits: student, outputs: new Map() }, { logits: teacher, outputs: new Map() }, labels, {
    epoch: 1,
    fraction: 0,
  });
}

/** Labels only, as `distill: {method: "none"}` compiles it. */
export function supervisedTerms(student: tf.Tensor2D, labels: tf.Tensor1D): LossTerms {
  return compileObjective({ method: 'none', labelSmoothing: 0 }).loss(
    { logits: student, outputs: new Map() },
    undefined,
    labels,
    { epoch: 1, fraction: 0 },
  );
}
