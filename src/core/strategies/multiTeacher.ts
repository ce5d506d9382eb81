/**
 * `multi_teacher`: one student learns from `teacher` and the further `teachers` at once. Each
 * further teacher is loaded and checked as `teacher` is, its outputs computed (or read from the
 * cache, one entry per teacher) once, and listed in the summary as `teacher-2`, ...; the term it
 * adds weighs each teacher's KL by fixed weights or per example by its confidence on the label
 * (CA-MKD, Zhang et al. 2022).
 */
import * as tf from '@tensorflow/tfjs';
import { multiTeacherKd } from '../distill/terms.ts';
import { studentStage, type ExtraTeacher, type StrategyProblem, type Strategy } from './strategy.ts';

/** The key of further teacher `i` (0-based) logits among a training batch's teacher outputs. */
const teacherKey = (i: number) => `teacher-${i + 2}:logits`;

export const multiTeacher: Strategy<'multi_teacher'> = {
  check: (config) => {
    const { teachers, weighting, weights } = config.strategy;
    const problems: StrategyProblem[] = [];
    teachers.forEach((t, i) => {
      if (t.source === 'train')
        problems.push({
          at: ['strategy', 'teachers', i, 'source'],
          message:
            'a further teacher is read from a file; expected "demo", "tfjs" or "onnx" (the one teacher trained in the run is `teacher`)',
        });
    });
    if (weights && weighting !== 'fixed')
      problems.push({ at: ['strategy', 'weights'], message: 'weights are for `weighting: "fixed"` only' });
    if (weights && weights.length !== teachers.length + 1)
      problems.push({
        at: ['strategy', 'weights'],
        message: `expected ${teachers.length + 1} weights (\`teacher\`, then each of \`teachers\`), found ${weights.length}`,
      });
    if (weights && weights.every((w) => w === 0))
      problems.push({ at: ['strategy', 'weights'], message: 'expected at least one weight above 0' });
    // The further teachers' outputs are precomputed; they do not run on augmented batches.
    if (config.data.augment)
      problems.push({
        at: ['data', 'augment'],
        message:
          'multi-teacher KD reads every teacher\'s precomputed outputs, which augmented batches do not have; expected no data.augment with strategy "multi_teacher"',
      });
    return problems;
  },
  architectures: () => [],
  stages: (config) => [studentStage(config)],
  teachers: (config) =>
    config.strategy.teachers.map((spec, i): ExtraTeacher => ({
      at: ['strategy', 'teachers', i],
      spec,
      model: `teacher-${i + 2}`,
      key: teacherKey(i),
    })),
  terms: (config) => {
    const { teachers, temperature, weighting, weights, weight } = config.strategy;
    return {
      parts: ['multi_kd'],
      usesTeacher: true,
      loss: (s, t, y) => {
        const logits = [t!.logits, ...teachers.map((_, i) => t!.outputs.get(teacherKey(i)) as tf.Tensor2D)];
        return [[multiTeacherKd(s.logits, logits, y, temperature, weighting, weights), weight]];
      },
    };
  },
};
