/**
 * `staged`: several objectives in sequence for one student. Each pre-training stage
 * (`pretrain-1`, ...) trains the student's architecture with its own loss terms, from the weights
 * the stage before left (the first from the student's seeded initial weights, as the baseline);
 * then `distill` trains the whole student from the last stage's weights. Two-stage FitNets
 * (Romero et al. 2015) is one hint stage then KD; activation-boundary transfer (Heo et al. 2019)
 * is one activation_boundary stage then KD or labels.
 */
import type { Phase } from '../../protocol/events.ts';
import { LOGITS } from '../distill/termRegistry.ts';
import { studentStage, type Stage, type Strategy, type StrategyOf } from './strategy.ts';

type StagedSpec = StrategyOf<'staged'>;

/**
 * The student layers a pre-training stage reads, or undefined when it reads the logits: through
 * the hard-label term, a term on the logits, or a term that names no student layer (kd, dkd,
 * teacher_free read the logits).
 */
function innerLayersRead(stage: StagedSpec['stages'][number]): string[] | undefined {
  if (stage.hardWeight > 0) return undefined;
  const layers: string[] = [];
  for (const term of stage.terms) {
    const named = [
      ...('student' in term ? [term.student] : []),
      ...('pairs' in term ? term.pairs.map((p) => p.student) : []),
    ];
    if (named.length === 0 || named.includes(LOGITS)) return undefined;
    layers.push(...named);
  }
  return layers;
}

export const staged: Strategy<'staged'> = {
  check: () => [],
  architectures: () => [],
  stages: (config) => {
    const pretraining = config.strategy.stages.map((s, i): Stage => ({
      phase: `pretrain-${i + 1}` as Phase,
      architecture: config.student.architecture,
      epochs: s.epochs ?? config.train.epochs,
      learnsFrom: ['teacher'],
      role: 'student',
      objective: {
        at: ['strategy', 'stages', i],
        distill: { method: 'combined', hardWeight: s.hardWeight, labelSmoothing: 0, terms: s.terms },
      },
      ...(i > 0 ? { initFrom: `pretrain-${i}` as Phase } : {}),
      ...(innerLayersRead(s) ? { trainsUpTo: innerLayersRead(s) } : {}),
    }));
    return [...pretraining, { ...studentStage(config), initFrom: pretraining.at(-1)!.phase }];
  },
};
