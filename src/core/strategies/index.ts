/**
 * The strategies by `strategy.type`. The `satisfies` clause makes a schema variant without a
 * module here a compile error; `strategyFor` binds a config to its strategy.
 */
import type { ArchitectureSpec, DistillConfig } from '../config/schema.ts';
import type { JsonPath } from '../config/problems.ts';
import type { Objective, ObjectiveExtension } from '../distill/objective.ts';
import { assistants } from './assistants.ts';
import { bornAgain } from './bornAgain.ts';
import { mutual } from './mutual.ts';
import { single } from './single.ts';
import type {
  Companion,
  ConfigWith,
  ModelBuilder,
  Stage,
  Strategy,
  StrategyProblem,
  StrategyType,
} from './strategy.ts';

export type { Companion, ModelBuilder, Stage, StrategyProblem } from './strategy.ts';

export const STRATEGIES = {
  single,
  born_again: bornAgain,
  assistants,
  mutual,
} satisfies { [K in StrategyType]: Strategy<K> };

const registry: { [K in StrategyType]: Strategy<K> } = STRATEGIES;

/** A config's strategy, bound to the config. */
export interface BoundStrategy {
  check(objective: Objective): StrategyProblem[];
  architectures(): Array<{ at: JsonPath; architecture: ArchitectureSpec }>;
  stages(): Stage[];
  terms(): ObjectiveExtension | undefined;
  companions(stage: Stage, build: ModelBuilder): Companion[];
}

function bind<K extends StrategyType>(config: ConfigWith<K>): BoundStrategy {
  const s: Strategy<K> = registry[config.strategy.type];
  return {
    check: (objective) => s.check(config, objective),
    architectures: () => s.architectures(config),
    stages: () => s.stages(config),
    terms: () => s.terms?.(config),
    companions: (stage, build) => s.companions?.(config, stage, build) ?? [],
  };
}

export function strategyFor(config: DistillConfig): BoundStrategy {
  return bind(config as ConfigWith<StrategyType>);
}
