/**
 * What a run trains, in order, planned once: the teacher (when it trains in the run), the
 * strategy's assistants, the from-scratch baseline, then its students (generations and the
 * final student). The run_started event lists exactly these phases, and the run trains them.
 */
import type { ArchitectureSpec, DistillConfig } from '../config/schema.ts';
import type { Stage } from '../strategies/index.ts';
import { phaseModelName, type Phase } from '../../protocol/events.ts';

/** A model trained on the labels alone. */
export interface SupervisedJob {
  architecture: ArchitectureSpec;
  epochs: number;
  learningRate: number;
}

/** What trains after the teacher: the baseline, or a distillation stage. */
export type PlanStep =
  { kind: 'scratch'; phase: 'scratch'; job: SupervisedJob } | { kind: 'stage'; phase: Phase; stage: Stage };

export interface RunPlan {
  /** The teacher, when it trains in the run (before anything else). */
  teacher?: SupervisedJob;
  /** Everything after the teacher, in training order. */
  steps: PlanStep[];
  /** Every phase, in training order. */
  phases: Phase[];
}

/** `distills`: whether the students learn from anything but labels (else there is no baseline to compare with). */
export function planRun(config: DistillConfig, stages: Stage[], distills: boolean): RunPlan {
  const learningRate = config.train.optimizer.learningRate;
  const teacher =
    config.teacher.source === 'train'
      ? {
          architecture: config.teacher.architecture,
          epochs: config.teacher.epochs ?? config.train.epochs,
          learningRate: config.teacher.learningRate ?? learningRate,
        }
      : undefined;
  const baseline: PlanStep[] =
    config.baseline && distills
      ? [
          {
            kind: 'scratch',
            phase: 'scratch',
            job: { architecture: config.student.architecture, epochs: config.train.epochs, learningRate },
          },
        ]
      : [];
  const stageSteps = stages.map((stage): PlanStep => ({ kind: 'stage', phase: stage.phase, stage }));
  // Assistants teach, as the teacher does: they train before the baseline, the students after it.
  const cut = stages.findIndex((s) => s.role === 'student');
  const at = cut < 0 ? stages.length : cut;
  const steps = [...stageSteps.slice(0, at), ...baseline, ...stageSteps.slice(at)];
  return { teacher, steps, phases: [...(teacher ? (['teacher'] as const) : []), ...steps.map((s) => s.phase)] };
}

/** Who taught a stage, as the summary names it. */
export const teacherLabel = (from: Phase[]) =>
  from.length === 1 ? phaseModelName(from[0]) : `ensemble of ${from.map(phaseModelName).join(', ')}`;
