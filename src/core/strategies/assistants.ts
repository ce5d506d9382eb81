/**
 * `assistants` (Mirzadeh et al. 2020, teacher-assistant KD): teacher -> assistants[0] -> ... ->
 * student, each with its own architecture and epochs. The assistants train before the baseline.
 */
import type { Phase } from '../../protocol/events.ts';
import { chainNeedsTeacher, studentStage, type Stage, type Strategy } from './strategy.ts';

export const assistants: Strategy<'assistants'> = {
  check: chainNeedsTeacher,
  architectures: (config) =>
    config.strategy.assistants.map((a, i) => ({
      at: ['strategy', 'assistants', i, 'architecture'],
      architecture: a.architecture,
    })),
  stages: (config) => {
    const stages: Stage[] = config.strategy.assistants.map((a, i) => ({
      phase: `assistant-${i + 1}` as Phase,
      architecture: a.architecture,
      epochs: a.epochs ?? config.train.epochs,
      learnsFrom: [i === 0 ? 'teacher' : (`assistant-${i}` as Phase)],
      role: 'assistant',
    }));
    return [...stages, { ...studentStage(config), learnsFrom: [stages.at(-1)!.phase] }];
  },
};
