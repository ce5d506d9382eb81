/**
 * The strategies by `strategy.type`. The `satisfies` clause makes a schema variant without a
 * module here a compile error; `strategyFor` binds a config to its strategy.
 */
import type { DistillConfig } from '../config/schema.ts';
import type { Objective, ObjectiveExtension } from '../distill/objective.ts';
import { assistants } from './assistants.ts';
import { bornAgain } from './bornAgain.ts';
import { mutual } from './mutual.ts';
import { rocket } from './rocket.ts';
import { single } from './single.ts';
import { staged } from './staged.ts';
import { multiTeacher } from './multiTeacher.ts';
import type {
  Companion,
  ConfigWith,
  ExtraTeacher,
  ModelBuilder,
  Stage,
  Strategy,
  StrategyArchitecture,
  StrategyProblem,
  StrategyType,
  TestTimeEnsemble,
} from './strategy.ts';

export type {
  Companion,
  ExtraTeacher,
  ModelBuilder,
  Stage,
  StrategyArchitecture,
  StrategyProblem,
  TestTimeEnsemble,
} from './strategy.ts';

export const STRATEGIES = {
  single,
  born_again: bornAgain,
  assistants,
  mutual,
  staged,
  rocket,
  multi_teacher: multiTeacher,
} satisfies { [K in StrategyType]: Strategy<K> };

const registry: { [K in StrategyType]: Strategy<K> } = STRATEGIES;

/** A config's strategy, bound to the config. */
export interface BoundStrategy {
  check(objective: Objective): StrategyProblem[];
  architectures(): StrategyArchitecture[];
  stages(): Stage[];
  terms(): ObjectiveExtension | undefined;
  companions(stage: Stage, build: ModelBuilder): Companion[];
  teachers(): ExtraTeacher[];
  ensembles(): TestTimeEnsemble[];
}

function bind<K extends StrategyType>(config: ConfigWith<K>): BoundStrategy {
  const s: Strategy<K> = registry[config.strategy.type];
  return {
    check: (objective) => s.check(config, objective),
    architectures: () => s.architectures(config),
    stages: () => s.stages(config),
    terms: () => s.terms?.(config),
    companions: (stage, build) => s.companions?.(config, stage, build) ?? [],
    teachers: () => s.teachers?.(config) ?? [],
    ensembles: () => s.ensembles?.(config) ?? [],
  };
}

export function strategyFor(config: DistillConfig): BoundStrategy {
  return bind(config as ConfigWith<StrategyType>);
}
