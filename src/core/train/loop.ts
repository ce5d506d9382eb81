/**
 * One training phase (teacher, scratch student or distilled student): seeded shuffling, the
 * batches (augmented, with the teacher's outputs on them: batches.ts), the optimizer and
 * schedule, per-epoch validation, early stopping, checkpoints and a graceful stop. Loss sums stay
 * on the device and are read once per `logEvery` steps, not every step.
 */
import * as tf from '@tensorflow/tfjs';
import type { DistillConfig } from '../config/schema.ts';
import type {
  EpochEvent,
  EpochExamples,
  EvalMetrics,
  EventPayload,
  LossValues,
  Phase,
  StepEvent,
  TrainingStep,
} from '../../protocol/events.ts';
import type { AugmentSpec } from '../config/schema.ts';
import type { CanonicalObjective, ObjectiveLoss, TrainingProgress } from '../distill/objective.ts';
import type { TermPhaseState } from '../distill/termState.ts';
import type { BatchTeacher } from '../distill/teacherOutputs.ts';
import type { TrainingModel } from '../distill/studentOutputs.ts';
import { mixSeed, permutation, seedGlobalRandom } from '../random.ts';
import {
  CHECKPOINT_VERSION,
  CheckpointError,
  matchByName,
  MismatchError,
  weightNames,
  type LoadedCheckpoint,
  type PhaseProgress,
} from './checkpoint.ts';
import { batchSource, disposeBatch, type TeacherTrainOutputs } from './batches.ts';
import { evaluate, type DeviceSplit } from './evaluate.ts';
import { GroupedOptimizer } from './groupedOptimizer.ts';
import type { OptimizerState } from './optimizer.ts';
import { learningRateAt } from './schedule.ts';
import { stepsPerEpoch as countSteps } from './epochSteps.ts';
import { createStepRunner } from './stepRunner.ts';

export type { TeacherTrainOutputs } from './batches.ts';

/** The loss went NaN or infinite: training further would be on garbage. */
export class DivergenceError extends Error {
  override name = 'DivergenceError';
}

export interface PhaseHooks {
  emitStep(e: EventPayload<StepEvent>): void;
  emitEpoch(e: EventPayload<EpochEvent>): void;
  /** Persists a checkpoint; returns its path. */
  checkpoint(
    progress: PhaseProgress,
    optimizer: { getState(): Promise<OptimizerState> },
    bestWeights: tf.Tensor[] | undefined,
  ): Promise<string>;
  /** True once a stop was requested (SIGTERM/SIGINT): the phase checkpoints and returns. */
  stopRequested(): boolean;
}

export interface PhaseSetup {
  phase: Phase;
  /** The model being trained, as evaluated and exported. */
  model: tf.LayersModel;
  /** The model with the outputs the loss reads and any hint projections: what is optimised and checkpointed. */
  training: TrainingModel;
  train: DeviceSplit;
  validation: DeviceSplit;
  /** The teacher's outputs on `train`, computed once (exact: no augmentation). */
  teacherTrain?: TeacherTrainOutputs;
  /** With augmentation: the teacher, run on each augmented batch. */
  onlineTeacher?: BatchTeacher;
  /** `data.augment`: every training batch is augmented (validation is not). */
  augment?: AugmentSpec;
  /** With an online teacher and `distill.pseudoLabels`: the threshold, applied per augmented batch. */
  pseudoLabelThreshold?: number;
  /** The rows an epoch trains on (labeled, unlabeled), reported with each epoch. */
  examples?: EpochExamples;
  /** The reference teacher's logits on `validation`, for agreement. */
  teacherValidation?: tf.Tensor2D;
  loss: ObjectiveLoss;
  /** The configured terms behind `loss` (Objective.canonical), where nothing else adds to it: lets a dense student take the written-out step. */
  objective?: CanonicalObjective;
  /**
   * A step made of several updates in turn (the paper's deep mutual learning): each a fresh
   * forward pass, its own loss, and the trainable weights of `training.model` it updates (a mask
   * in their order). Without it one update of every weight minimises `loss`.
   */
  updates?: Array<{ loss: ObjectiveLoss; trains: boolean[] }>;
  /** The annealed terms' temperatures at a point of training (Objective.temperatures), logged with each epoch. */
  temperatures?: (at: TrainingProgress) => Record<string, number>;
  /** The state its loss terms keep across steps (CRD's memory bank): told each batch's rows, committed after each step. */
  termState?: TermPhaseState;
  epochs: number;
  learningRate: number;
  batchSize: number;
  /** `data.dropLast`: leave out each epoch's last, incomplete batch. */
  dropLast?: boolean;
  evalBatchSize: number;
  train_: DistillConfig['train'];
  resumeFrom?: LoadedCheckpoint;
}

export interface PhaseOutcome {
  progress: PhaseProgress;
  /** How the steps ran (PhaseFinishedEvent.step). */
  step: TrainingStep;
  stopped: boolean;
  stoppedEarly: boolean;
  lastCheckpoint?: string;
}

export async function trainPhase(setup: PhaseSetup, hooks: PhaseHooks): Promise<PhaseOutcome> {
  const { model, train, phase, train_: cfg } = setup;
  const weights = setup.training.model.trainableWeights;
  const variables = weights.map((w) => w.read() as tf.Variable);
  const updates: Array<{ loss: ObjectiveLoss; trains?: boolean[] }> = setup.updates ?? [{ loss: setup.loss }];
  const slotNames = weights.map((w) => w.originalName);
  // Each update trains its own variables (all of them, with one update).
  const groups = updates.map((u) => variables.flatMap((_, i) => (!u.trains || u.trains[i] ? [i] : [])));
  // Slots are named after the weights' stable names (dense_1/kernel), as the checkpoint stores them.
  const optimizer = new GroupedOptimizer(cfg.optimizer, variables, slotNames, groups);
  const stepsPerEpoch = countSteps(train.n, setup.batchSize, setup.dropLast ?? false);
  let progress: PhaseProgress = {
    version: CHECKPOINT_VERSION,
    phase,
    epochsDone: 0,
    stepInEpoch: 0,
    globalStep: 0,
    rngState: 0,
    optimizerStep: 0,
    best: null,
    epochsWithoutImprovement: 0,
  };
  let bestWeights: tf.Tensor[] | undefined;
  if (setup.resumeFrom) {
    const from = setup.resumeFrom;
    progress = { ...from.progress };
    try {
      optimizer.setState({ step: progress.optimizerStep, slots: from.optimizerSlots() });
      const best = from.bestWeights();
      const expected = weightNames(setup.training.model);
      if (best)
        bestWeights = matchByName(best, expected, 'best weights').map((w) => tf.keep(tf.tensor(w.data, w.shape)));
    } catch (err) {
      optimizer.dispose();
      throw err instanceof MismatchError ? new CheckpointError(from.dir, err.message) : err;
    }
  }
  const nextBatch = batchSource({
    train,
    seed: cfg.seed,
    augment: setup.augment,
    teacherTrain: setup.teacherTrain,
    onlineTeacher: setup.onlineTeacher,
    pseudoLabelThreshold: setup.pseudoLabelThreshold,
  });
  const runner = await createStepRunner({ setup, optimizer, weights, variables, updates, groups, slotNames });
  const step = runner.kind;
  const early = cfg.earlyStopping;
  let lastCheckpoint: string | undefined;
  let stoppedEarly = false;

  const saveCheckpoint = async () => {
    progress.optimizerStep = optimizer.stepCount;
    lastCheckpoint = await hooks.checkpoint(progress, optimizer, bestWeights);
  };

  try {
    for (let epoch = progress.epochsDone + 1; epoch <= setup.epochs; epoch++) {
      const order = permutation(train.n, mixSeed(cfg.seed, 'shuffle', epoch));
      // Dropout masks draw from Math.random: reseed per epoch, or continue a checkpointed stream.
      const rng = seedGlobalRandom(mixSeed(cfg.seed, phase, 'dropout', epoch));
      if (progress.stepInEpoch > 0) rng.state = progress.rngState;
      const epochStart = performance.now();
      let windowStart = epochStart;
      let windowSteps = 0;
      let windowSamples = 0;
      let epochSamples = 0;
      const epochLossSums: Record<string, number> = {};
      let epochSteps = 0;
      let lr = setup.learningRate;

      for (let s = progress.stepInEpoch; s < stepsPerEpoch; s++) {
        // The loop is synchronous tensor work: yield so signal handlers (graceful stop) can run.
        await new Promise((resolve) => setImmediate(resolve));
        if (hooks.stopRequested()) {
          progress.stepInEpoch = s;
          progress.rngState = rng.state;
          runner.dropWindow();
          runner.writeBack();
          await saveCheckpoint();
          return { progress, stopped: true, stoppedEarly: false, lastCheckpoint, step };
        }
        const start = s * setup.batchSize;
        const end = Math.min(train.n, start + setup.batchSize);
        lr = learningRateAt(cfg.schedule, setup.learningRate, progress.globalStep, stepsPerEpoch, setup.epochs);
        const at = { epoch, fraction: progress.globalStep / (stepsPerEpoch * setup.epochs) };
        // The batch (and any async work for it: an online ONNX teacher) before the step.
        const batch = await nextBatch(epoch, s, order.subarray(start, end));
        setup.termState?.beforeStep(order.subarray(start, end), epoch, s);
        try {
          runner.step(batch, end - start, lr, at);
          setup.termState?.afterStep();
        } finally {
          disposeBatch(batch);
        }

        progress.globalStep += 1;
        windowSteps += 1;
        windowSamples += end - start;
        epochSamples += end - start;
        const lastStep = s === stepsPerEpoch - 1;
        if (progress.globalStep % cfg.logEvery === 0 || lastStep) {
          const { names, values } = await runner.readWindow();
          const loss: LossValues = {};
          // Name the term that went bad first: a bad term makes the total bad too.
          const bad = [...names.keys()]
            .sort((a, b) => Number(names[a] === 'total') - Number(names[b] === 'total'))
            .find((i) => !Number.isFinite(values[i]));
          if (bad !== undefined)
            throw new DivergenceError(
              `the ${names[bad]} loss became ${values[bad]} ${windowSteps > 1 ? `in the ${windowSteps} steps up to` : 'at'} ${phase} step ${progress.globalStep} (epoch ${epoch})`,
            );
          names.forEach((k, i) => {
            loss[k] = values[i] / windowSamples;
            epochLossSums[k] = (epochLossSums[k] ?? 0) + values[i];
          });
          epochSteps += windowSamples;
          const now = performance.now();
          hooks.emitStep({
            type: 'step',
            phase,
            epoch,
            step: progress.globalStep,
            learningRate: lr,
            loss,
            samplesPerSecond: windowSamples / ((now - windowStart) / 1000),
          });
          windowStart = now;
          windowSteps = 0;
          windowSamples = 0;
        }
      }
      const [correctCount, labeledCount, pseudoCount] = await runner.readEpochCounts();
      runner.writeBack();
      const trainAccuracy = labeledCount > 0 ? correctCount / labeledCount : 0;
      progress.stepInEpoch = 0;
      progress.epochsDone = epoch;
      const seconds = (performance.now() - epochStart) / 1000;
      const validation: EvalMetrics | null =
        setup.validation.n > 0
          ? await evaluate(model, setup.validation, setup.evalBatchSize, setup.teacherValidation)
          : null;
      hooks.emitEpoch({
        type: 'epoch',
        phase,
        epoch,
        epochs: setup.epochs,
        learningRate: lr,
        train: {
          loss: Object.fromEntries(Object.entries(epochLossSums).map(([k, v]) => [k, v / epochSteps])),
          accuracy: trainAccuracy,
        },
        validation,
        seconds,
        samplesPerSecond: epochSamples / seconds,
        // T as the epoch's last step used it.
        ...(setup.temperatures
          ? {
              temperatures: setup.temperatures({
                epoch,
                fraction: (progress.globalStep - 1) / (stepsPerEpoch * setup.epochs),
              }),
            }
          : {}),
        ...(setup.examples && setup.pseudoLabelThreshold !== undefined
          ? { examples: { ...setup.examples, pseudoLabeled: pseudoCount } }
          : {}),
      });
      if (validation) {
        const improved = !progress.best || validation.accuracy > progress.best.accuracy + (early?.minDelta ?? 0);
        if (improved) {
          progress.best = { accuracy: validation.accuracy, epoch };
          progress.epochsWithoutImprovement = 0;
          if (early?.restoreBest) {
            tf.dispose(bestWeights ?? []);
            bestWeights = setup.training.model.getWeights().map((w) => tf.keep(w.clone()));
          }
        } else progress.epochsWithoutImprovement += 1;
      }
      stoppedEarly = !!early && progress.epochsWithoutImprovement >= early.patience;
      if (epoch % cfg.checkpointEvery === 0 && epoch < setup.epochs && !stoppedEarly) await saveCheckpoint();
      if (stoppedEarly) break;
    }
    if (early?.restoreBest && bestWeights) setup.training.model.setWeights(bestWeights);
    return { progress, stopped: false, stoppedEarly, lastCheckpoint, step };
  } finally {
    runner.dispose();
    optimizer.dispose();
    tf.dispose(bestWeights ?? []);
  }
}
