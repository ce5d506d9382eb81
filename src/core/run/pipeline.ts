/**
 * A whole distillation run: validate, load data, pick the backend, get the teacher, train the
 * from-scratch baseline and the distilled student, evaluate, save, summarise. Everything that
 * can be wrong with the user's input is checked (prepare.ts) before the run folder is created;
 * the run itself is a short script over a RunSession (session.ts), which owns the folder, the
 * events, the device data, the models and their disposal.
 */
import { assertNever } from '../assertNever.ts';
import { compileObjective } from '../distill/objective.ts';
import type { TeacherSource } from '../distill/teacherOutputs.ts';
import { modelCost } from '../models/cost.ts';
import { mixSeed, seedGlobalRandom } from '../random.ts';
import type { EvalMetrics } from '../../protocol/events.ts';
import { loadRunConfig, prepare } from './prepare.ts';
import { RunSession, type RunOptions, type RunResult } from './session.ts';

export { checkConfigFully } from './prepare.ts';
export type { RunOptions, RunResult } from './session.ts';

export async function runDistillation(options: RunOptions): Promise<RunResult> {
  const loaded = loadRunConfig(options);
  seedGlobalRandom(mixSeed(loaded.config.train.seed, 'setup'));
  const prepared = await prepare(loaded, options.onDataProgress);
  const { objective, strategy, plan } = prepared;
  const session = RunSession.open(prepared, options);
  try {
    session.start(plan.phases);
    const supervised = compileObjective({ method: 'none', labelSmoothing: 0 });

    // The teacher: trained here, or loaded from a file; its outputs are computed once.
    let teacher = prepared.teacher;
    let teacherTest: EvalMetrics | undefined;
    if (plan.teacher) {
      const r = await session.train({ phase: 'teacher', objective: supervised, ...plan.teacher });
      if (r.stopped) return session.stop();
      teacher = { kind: 'tfjs', label: 'teacher', model: r.model } satisfies TeacherSource;
      teacherTest = r.test;
    }
    await session.teach(teacher!, teacherTest);

    // Then the assistants, the baseline and the students, in the planned order.
    for (const step of plan.steps) {
      switch (step.kind) {
        case 'scratch': {
          const r = await session.train({ phase: 'scratch', objective: supervised, ...step.job });
          if (r.stopped) return session.stop();
          session.summary.push({
            model: 'scratch',
            accuracy: r.test.accuracy,
            agreement: r.test.agreement,
            ...modelCost(r.model),
          });
          break;
        }
        case 'stage':
          if (
            !(await session.trainStage(step.stage, prepared.stageObjectives.get(step.phase) ?? objective, (build) =>
              strategy.companions(step.stage, build),
            ))
          )
            return session.stop();
          break;
        default:
          assertNever(step, 'plan step');
      }
    }
    // Test-time ensembles of the trained stages (born-again's BAN-E): evaluated, then timed with the others.
    await session.evaluateEnsembles(strategy.ensembles());
    return session.finish(await session.deliver());
  } catch (err) {
    throw session.fail(err);
  } finally {
    await session.close();
  }
}
