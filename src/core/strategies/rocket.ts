/**
 * `rocket` (Zhou et al. 2018, rocket launching): the student ("light net") and a booster train
 * together from their seeded initial weights, sharing the student's layers up to `shared`; the
 * booster's own layers take that layer's output. The loss is each model's label cross-entropy plus
 * `weight · Σ (booster − student)² / batch` on the logits, with the booster side a constant under
 * `gradientBlock` (zhougr1993/Rocket-Launching rocket_interval.py). The shared layers learn from
 * all three. The booster is checkpointed with the student (one training model), evaluated and
 * listed with its own summary row, not exported.
 */
import * as tf from '@tensorflow/tfjs';
import { labeledRows } from '../distill/labeledRows.ts';
import { LOGITS } from '../distill/termRegistry.ts';
import { crossEntropy, rocketHintLoss } from '../distill/terms.ts';
import { studentStage, type Strategy } from './strategy.ts';

/** The key of the booster's logits among the training model's outputs. */
export const BOOSTER_LOGITS = 'booster:logits';

export const rocket: Strategy<'rocket'> = {
  check: (config) =>
    config.strategy.shared === LOGITS
      ? [
          {
            at: ['strategy', 'shared'],
            message:
              'the student needs layers of its own after the shared ones, and "logits" is its last; expected an earlier layer (`distill validate` lists them)',
          },
        ]
      : [],
  architectures: (config) => [
    {
      at: ['strategy', 'booster'],
      architecture: config.strategy.booster,
      on: { layer: config.strategy.shared, at: ['strategy', 'shared'] },
    },
  ],
  stages: (config) => [studentStage(config)],
  terms: (config) => {
    const { weight, gradientBlock } = config.strategy;
    return {
      parts: ['booster_hard', 'rocket_hint'],
      loss: (s, _t, y) => {
        const booster = s.outputs.get(BOOSTER_LOGITS) as tf.Tensor2D;
        // The booster's label loss skips unlabeled rows (a transfer set's); the hint uses them all.
        const boosterHard = tf.tidy(() => {
          const rows = labeledRows(y);
          return crossEntropy(booster, rows.labels, rows.weights);
        });
        return [
          [boosterHard, 1],
          [rocketHintLoss(s.logits, booster, gradientBlock), weight],
        ];
      },
    };
  },
  companions: (config, _stage, build) => [
    {
      key: BOOSTER_LOGITS,
      model: build(config.strategy.booster, 'booster', 'booster_', config.strategy.shared),
      on: config.strategy.shared,
      teaches: 'booster (rocket)',
      row: { model: 'booster', learnedFrom: "labels, sharing the student's layers (rocket)" },
    },
  ],
};
