/** Who teaches a distillation stage, as a teacher source: the reference teacher, one earlier stage, or the mean logits of several. */
import type * as tf from '@tensorflow/tfjs';
import type { TeacherSource } from '../distill/teacherOutputs.ts';
import type { Phase } from '../../protocol/events.ts';
import { teacherLabel } from './plan.ts';

/**
 * The source of a stage's targets from its `learnsFrom`: `reference` for `['teacher']`, else the
 * trained models of the phases named (an ensemble of their mean logits when there are several).
 */
export function stageTeacher(
  learnsFrom: Phase[],
  models: ReadonlyMap<Phase, tf.LayersModel>,
  reference: TeacherSource,
): TeacherSource {
  if (learnsFrom.length === 1 && learnsFrom[0] === 'teacher') return reference;
  const members = learnsFrom.map((p) => {
    const model = models.get(p);
    if (!model) throw new Error(`a stage learns from ${p}, which has not been trained`);
    return model;
  });
  return members.length === 1
    ? { kind: 'tfjs', label: learnsFrom[0], model: members[0] }
    : { kind: 'ensemble', label: teacherLabel(learnsFrom), members };
}
