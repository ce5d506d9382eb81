/**
 * What a strategy (`strategy.type`) decides: which models train, in which order, who teaches
 * whom, what it adds to the loss and to the summary. Each strategy is one module implementing
 * `Strategy`; the registry in index.ts is checked against the schema's union.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec, DistillConfig, DistillSpec, StrategySpec, TeacherSpec } from '../config/schema.ts';
import type { JsonPath } from '../config/problems.ts';
import type { Objective, ObjectiveExtension } from '../distill/objective.ts';
import { teacherTermsText } from '../distill/termRegistry.ts';
import type { MeasuredModel, Phase, SummaryRow } from '../../protocol/events.ts';

export type StrategyType = StrategySpec['type'];
export type StrategyOf<K extends StrategyType> = Extract<StrategySpec, { type: K }>;
/** A config whose strategy is of type K. */
export type ConfigWith<K extends StrategyType> = DistillConfig & { strategy: StrategyOf<K> };

/** One model trained by distillation: an assistant, a generation, or the final student. */
export interface Stage {
  phase: Phase;
  architecture: ArchitectureSpec;
  epochs: number;
  /** Who teaches it: `teacher` or earlier phases (several = the mean of their logits). */
  learnsFrom: Phase[];
  /**
   * `assistant`: a teacher of later stages, trained before the from-scratch baseline (as the
   * teacher is); `student`: the student's architecture, trained after it.
   */
  role: 'assistant' | 'student';
  /**
   * Its own objective, where a stage does not train on `distill` (a staged run's pre-training
   * stages), and where it is in the config (for messages about its terms).
   */
  objective?: { at: JsonPath; distill: DistillSpec };
  /** An earlier phase (same architecture) whose trained weights it starts from, instead of its seeded ones. */
  initFrom?: Phase;
  /**
   * The student layers its loss reads, where it reads no logits: it trains only the layers up to
   * the deepest of them (and its projections or connectors); the layers above keep their weights.
   */
  trainsUpTo?: string[];
}

/** A problem of the config: where it is and what is wrong, as in ConfigProblem. */
export interface StrategyProblem {
  at: JsonPath;
  message: string;
}

/**
 * Builds a model of the run: seeded with `mixSeed(seed, 'init', seedLabel)`, its layers named with
 * `prefix`; with `on`, a model whose input is the output of the stage's student layer `on` (a
 * rocket-launching booster's own layers), else one that takes the data.
 */
export type ModelBuilder = (
  architecture: ArchitectureSpec,
  seedLabel: string,
  prefix: string,
  on?: string,
) => tf.LayersModel;

/** An architecture a strategy trains; with `on`, built on the output of that student layer (named at `on.at`). */
export interface StrategyArchitecture {
  at: JsonPath;
  architecture: ArchitectureSpec;
  on?: { layer: string; at: JsonPath };
}

/** A model trained together with a stage, in one training model (the mutual-learning peer). */
export interface Companion {
  /** Its logits' key among the training model's outputs: the strategy's terms read them there. */
  key: string;
  model: tf.LayersModel;
  /** The student layer whose output it takes (the layers it shares with the student); default the student's input. */
  on?: string;
  /** Added to the stage's `learnedFrom` in the summary. */
  teaches: string;
  /** Its own summary row, after the stage's: evaluated on the test split, with its cost. */
  row: { model: SummaryRow['model']; learnedFrom: string };
}

export interface Strategy<K extends StrategyType> {
  /**
   * Problems of a config this strategy cannot train, reported with the config's other problems
   * before anything is built or written.
   */
  check(config: ConfigWith<K>, objective: Objective): StrategyProblem[];
  /** Architectures it trains besides the student's and the teacher's, where they are in the config (checked against the data, and for the backend's kernels). */
  architectures(config: ConfigWith<K>): StrategyArchitecture[];
  /** The distillation stages in training order: assistants first, the final student (`distill`) last. */
  stages(config: ConfigWith<K>): Stage[];
  /** Loss terms it adds to every distillation stage, after the configured ones. */
  terms?(config: ConfigWith<K>): ObjectiveExtension;
  /** Models trained together with a stage, built right after its student. */
  companions?(config: ConfigWith<K>, stage: Stage, build: ModelBuilder): Companion[];
  /**
   * Teachers from files besides `teacher`, where they are in the config: loaded and checked with
   * it, their outputs computed (or read from the cache) once each, each with its own summary row
   * (`teacher-2`, ...); their training-split logits reach the loss as the teacher output `key`.
   */
  teachers?(config: ConfigWith<K>): ExtraTeacher[];
  /** Test-time ensembles of trained stages, each evaluated, timed and listed as its own summary row. */
  ensembles?(config: ConfigWith<K>): TestTimeEnsemble[];
}

/** A test-time ensemble: the mean of its members' softmax outputs (born-again's BAN-E). */
export interface TestTimeEnsemble {
  model: SummaryRow['model'] & MeasuredModel;
  members: Phase[];
}

/** A further teacher of a strategy (multi-teacher KD). */
export interface ExtraTeacher {
  at: JsonPath;
  spec: TeacherSpec;
  /** Its summary row and label, `teacher-2`, ... */
  model: `teacher-${number}`;
  /** Its logits' key among the teacher's outputs on a training batch. */
  key: string;
}

/** The one stage of a strategy that trains the student alone. */
export function studentStage(config: DistillConfig): Stage {
  return {
    phase: 'distill',
    architecture: config.student.architecture,
    epochs: config.train.epochs,
    learnsFrom: ['teacher'],
    role: 'student',
  };
}

/** A chain passes knowledge from model to model: it needs a loss term that reads a teacher. */
export function chainNeedsTeacher(config: DistillConfig, objective: Objective): StrategyProblem[] {
  if (objective.usesTeacher) return [];
  return [
    {
      at: ['strategy', 'type'],
      message: `"${config.strategy.type}" passes knowledge from model to model, but no loss term reads a teacher; expected "single", or a distill method with ${teacherTermsText()}`,
    },
  ];
}
