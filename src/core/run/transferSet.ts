/**
 * The unlabeled transfer set in a run. A distillation stage whose loss reads a teacher trains on
 * the labeled training split followed by the transfer set's rows (label -1, or a pseudo-label);
 * the teacher trained in the run, the from-scratch baseline and stages that read no teacher train
 * on the labeled rows alone. The teacher's outputs are computed (and cached) on those combined
 * rows, so the cache key covers the unlabeled examples too.
 */
import type * as tf from '@tensorflow/tfjs';
import type { DistillConfig } from '../config/schema.ts';
import type { Dataset, Split } from '../data/dataset.ts';
import type { Objective } from '../distill/objective.ts';
import { pseudoLabel } from '../distill/pseudoLabels.ts';
import { teacherTermsText } from '../distill/termRegistry.ts';
import type { StrategyProblem } from '../strategies/index.ts';
import type { DeviceSplit } from '../train/evaluate.ts';
import type { EpochExamples } from '../../protocol/events.ts';

/** Config problems of `data.unlabeled` and `distill.pseudoLabels` that the data need not be read for. */
export function transferSetProblems(config: DistillConfig, objective: Objective): StrategyProblem[] {
  const problems: StrategyProblem[] = [];
  const needsTeacher = `expected a distill method with ${teacherTermsText()}`;
  if (config.data.unlabeled && !objective.usesTeacher)
    problems.push({
      at: ['data', 'unlabeled'],
      message: `unlabeled examples are learned from a teacher's outputs, but no loss term reads a teacher; ${needsTeacher}`,
    });
  if (config.distill.pseudoLabels) {
    if (!objective.usesTeacher)
      problems.push({
        at: ['distill', 'pseudoLabels'],
        message: `pseudo-labels are the teacher's classes, but no loss term reads a teacher; ${needsTeacher}`,
      });
    if (!config.data.unlabeled)
      problems.push({
        at: ['distill', 'pseudoLabels'],
        message: 'pseudo-labels are given to unlabeled examples, and there are none; expected data.unlabeled',
      });
  }
  return problems;
}

/** The rows a teacher-reading stage trains on: the labeled training split, then the transfer set (labels -1). */
export function transferRows(data: Dataset): Split | undefined {
  const u = data.unlabeled;
  if (!u) return undefined;
  const x = new Float32Array(data.train.x.length + u.x.length);
  x.set(data.train.x);
  x.set(u.x, data.train.x.length);
  const y = new Int32Array(data.train.n + u.n);
  y.set(data.train.y);
  y.set(u.y, data.train.n);
  return { x, y, n: data.train.n + u.n };
}

/** A stage's training rows with their labels (pseudo-labelled or -1), and what to report per epoch. */
export interface StageRows {
  split: DeviceSplit;
  examples: EpochExamples;
  dispose(): void;
}

/**
 * The transfer rows of a stage, with pseudo-labels from the teacher's logits on them when
 * `threshold` is given (computed once: the logits are the teacher's precomputed outputs; an
 * online teacher labels each augmented batch instead).
 */
export async function stageRows(
  transfer: DeviceSplit,
  labeled: number,
  teacherLogits: tf.Tensor2D | undefined,
  threshold: number | undefined,
): Promise<StageRows> {
  const unlabeled = transfer.n - labeled;
  if (threshold === undefined || !teacherLogits)
    return { split: transfer, examples: { labeled, unlabeled }, dispose: () => {} };
  const { labels, kept } = pseudoLabel(teacherLogits, transfer.y, threshold);
  const pseudoLabeled = (await kept.data())[0];
  kept.dispose();
  return {
    split: { x: transfer.x, y: labels, n: transfer.n },
    examples: { labeled, unlabeled, pseudoLabeled },
    dispose: () => labels.dispose(),
  };
}
