/**
 * `mutual` (Zhang et al. 2018, deep mutual learning): the student and a `peer` (its own
 * architecture, default the student's) train together from their seeded initial weights; each
 * adds `weight · KL(other ‖ itself)` at T = 1 to its label loss. With `update: "alternating"` (the
 * paper's algorithm) each step updates the student first, then runs both again and updates the
 * peer against the updated student; `"joint"` updates both from one forward pass. With
 * `distill.method: "none"` it is teacher-free; with KD terms the student also learns from the
 * teacher. The peer is checkpointed with the student (one training model), evaluated and listed,
 * not exported.
 */
import * as tf from '@tensorflow/tfjs';
import { labeledRows } from '../distill/labeledRows.ts';
import { canonicalObjective } from '../distill/objective.ts';
import { crossEntropy, kdDivergence, labelSmoothedCrossEntropy } from '../distill/terms.ts';
import { studentStage, type Strategy } from './strategy.ts';

/** The key of the peer's logits among the training model's outputs. */
export const PEER_LOGITS = 'peer:logits';

/** The parts that train the peer (the others train the student). */
const PEER_PARTS = ['peer_hard', 'peer_mutual'] as const;

export const mutual: Strategy<'mutual'> = {
  check: () => [],
  architectures: (config) =>
    config.strategy.peer ? [{ at: ['strategy', 'peer'], architecture: config.strategy.peer }] : [],
  stages: (config) => [studentStage(config)],
  terms: (config) => {
    const { weight, update } = config.strategy;
    // The peer's label loss is the student's: the same hard-label weight and label smoothing.
    const { hardWeight, labelSmoothing } = canonicalObjective(config.distill);
    return {
      parts: ['peer_hard', 'mutual', 'peer_mutual'],
      // Each model's KL to the other is taken with the other as a constant (kdDivergence does not
      // differentiate its teacher side): each part's gradient reaches one model only.
      loss: (s, _t, y) => {
        const peer = s.outputs.get(PEER_LOGITS) as tf.Tensor2D;
        // The peer's label loss skips unlabeled rows (a transfer set's); the mutual KLs use them all.
        const peerHard = tf.tidy(() => {
          const rows = labeledRows(y);
          return labelSmoothing > 0
            ? labelSmoothedCrossEntropy(peer, rows.labels, labelSmoothing, rows.weights)
            : crossEntropy(peer, rows.labels, rows.weights);
        });
        return [
          [peerHard, hardWeight],
          [kdDivergence(s.logits, peer, 1, 'forward'), weight],
          [kdDivergence(peer, s.logits, 1, 'forward'), weight],
        ];
      },
      ...(update === 'alternating' ? { ownUpdate: { companion: PEER_LOGITS, parts: PEER_PARTS } } : {}),
    };
  },
  companions: (config, stage, build) => [
    {
      key: PEER_LOGITS,
      model: build(config.strategy.peer ?? stage.architecture, 'peer', 'peer_'),
      teaches: 'peer (mutual)',
      row: { model: 'peer', learnedFrom: 'distilled (mutual)' },
    },
  ],
};
