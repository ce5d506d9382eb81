/**
 * `born_again` (Furlanello et al. 2018): `generations` students of the student's architecture;
 * generation 1 learns from the teacher, each later one from the one before, or with
 * `generationTeacher: "mean-of-earlier"` (from generation 3) from the mean logits of all earlier
 * ones. The last is the distilled student. BAN-E, the paper's test-time ensemble (the mean of
 * every generation's softmax), is its own summary row, `ban-ensemble`.
 */
import type { Phase } from '../../protocol/events.ts';
import { logitTermsText } from '../distill/termRegistry.ts';
import { chainNeedsTeacher, type Strategy } from './strategy.ts';

export const bornAgain: Strategy<'born_again'> = {
  check: (config, objective) => {
    const { generationTeacher, generations } = config.strategy;
    const problems = chainNeedsTeacher(config, objective);
    // An ensemble's mean logits are all it gives.
    if (objective.teacher.length > 0 && generationTeacher === 'mean-of-earlier' && generations >= 3)
      problems.push({
        at: ['strategy', 'generationTeacher'],
        message: `the mean of earlier generations gives logits only, but a loss term reads intermediate teacher outputs; expected "previous", or only logit-based terms (${logitTermsText()})`,
      });
    return problems;
  },
  architectures: () => [],
  stages: (config) => {
    const { generations, generationTeacher } = config.strategy;
    const ensemble = generationTeacher === 'mean-of-earlier';
    const name = (g: number): Phase => (g === generations ? 'distill' : `generation-${g}`);
    return Array.from({ length: generations }, (_, i) => {
      const g = i + 1;
      const learnsFrom: Phase[] =
        g === 1
          ? ['teacher']
          : ensemble && g >= 3
            ? Array.from({ length: g - 1 }, (_, j) => name(j + 1))
            : [name(g - 1)];
      return {
        phase: name(g),
        architecture: config.student.architecture,
        epochs: config.train.epochs,
        learnsFrom,
        role: 'student',
      };
    });
  },
  ensembles: (config) => [
    {
      model: 'ban-ensemble',
      members: bornAgain.stages(config).map((s) => s.phase),
    },
  ],
};
