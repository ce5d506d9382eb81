/**
 * How a phase's training steps run, behind one interface the loop calls: tfjs's tape (automatic
 * differentiation, every strategy and term) or, where it applies, the written-out dense step
 * (denseStep.ts). Each keeps its own running sums: the loss sums of a logging window and the
 * epoch's correct, labeled and pseudo-labeled rows.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainingStep } from '../../protocol/events.ts';
import type { ObjectiveLoss, TrainingProgress } from '../distill/objective.ts';
import type { Batch } from './batches.ts';
import { DenseStep, denseStepFits } from './denseStep.ts';
import type { GroupedOptimizer } from './groupedOptimizer.ts';
import type { PhaseSetup } from './loop.ts';

export interface StepRunner {
  /** Which one runs, and for the tape why the dense step does not apply (PhaseFinishedEvent.step). */
  readonly kind: TrainingStep;
  /** One step on a batch of `rows` rows. */
  step(batch: Batch, rows: number, lr: number, at: TrainingProgress): void;
  /** The window's loss sums by term (summed over rows), read from the device once; the window restarts. */
  readWindow(): Promise<{ names: string[]; values: ArrayLike<number> }>;
  /** Forgets the window's sums (a stop: they are not logged). */
  dropWindow(): void;
  /** The epoch's correct, labeled and pseudo-labeled rows (accuracy before each update); the epoch restarts. */
  readEpochCounts(): Promise<[number, number, number]>;
  /** Weights and optimizer slots back into the model and the optimizer, before either is read. */
  writeBack(): void;
  dispose(): void;
}

export interface StepRunnerParts {
  setup: PhaseSetup;
  optimizer: GroupedOptimizer;
  /** The trainable weights of `setup.training.model`, in order, and their variables. */
  weights: tf.LayerVariable[];
  variables: tf.Variable[];
  /** Each update's loss, and the variables (indices) it trains. */
  updates: Array<{ loss: ObjectiveLoss }>;
  groups: number[][];
  /** The optimizer's slot names per weight (the weights' stable names). */
  slotNames: string[];
}

export async function createStepRunner(parts: StepRunnerParts): Promise<StepRunner> {
  const dense = denseStepFor(parts.setup);
  if ('reason' in dense) return new TapeStepRunner(parts, { kind: 'tape', reason: dense.reason });
  const { setup, optimizer, weights, slotNames } = parts;
  const step = new DenseStep(
    dense.layers,
    setup.objective!,
    setup.train_.optimizer,
    await optimizer.getState(),
    weights,
  );
  return new DenseStepRunner(step, optimizer, slotNames);
}

/** The dense layers of the phase's student where the written-out step applies to the phase (denseStep.ts), or why not. */
function denseStepFor(setup: PhaseSetup): ReturnType<typeof denseStepFits> {
  if (setup.train_.step === 'tape') return { reason: 'train.step is "tape"' };
  if (!setup.objective) return { reason: "a strategy's own loss terms" };
  return denseStepFits({
    backend: tf.getBackend(),
    model: setup.model,
    trainingModel: setup.training.model,
    objective: setup.objective,
    needsMore:
      !!setup.updates ||
      !!setup.termState ||
      !!setup.temperatures ||
      !!setup.onlineTeacher ||
      (setup.teacherTrain?.outputs.size ?? 0) > 0 ||
      (setup.objective.terms.length > 0 && !setup.teacherTrain),
    allLabeled: (setup.examples?.unlabeled ?? 0) === 0 && setup.pseudoLabelThreshold === undefined,
    optimizer: setup.train_.optimizer,
  });
}

/** tfjs's tape: each update a fresh forward pass under variableGrads; sums stay on the device. */
class TapeStepRunner implements StepRunner {
  private lossSums: Record<string, tf.Scalar> = {};
  private correct: tf.Scalar = tf.scalar(0);
  // Unlabeled rows (label -1) have no accuracy: it is over the labeled rows only.
  private labeled: tf.Scalar = tf.scalar(0);
  // Online pseudo-labels: unlabeled rows that took the teacher's class, summed over the epoch.
  private pseudoLabeled: tf.Scalar = tf.scalar(0);

  constructor(
    private readonly parts: StepRunnerParts,
    readonly kind: TrainingStep,
  ) {}

  step(batch: Batch, rows: number, lr: number, at: TrainingProgress): void {
    const { setup, optimizer, variables, updates, groups } = this.parts;
    const prevSums = this.lossSums;
    const prevCorrect = this.correct;
    const prevLabeled = this.labeled;
    const prevPseudoLabeled = this.pseudoLabeled;
    // One scope per step: everything the step makes is released at its end, except the running
    // sums (kept: they survive the gradient's own scope, and are read after the window).
    tf.tidy(() => {
      // This step's loss sums (the batch's), kept through each update's gradient scope.
      const stepSums: Record<string, tf.Scalar> = {};
      updates.forEach((update, u) => {
        const trained = groups[u].map((i) => variables[i]);
        const { grads } = tf.variableGrads(() => {
          const student = setup.training.forward(batch.x, true, batch.teacher);
          const terms = update.loss(student, batch.teacher, batch.y, at);
          for (const [k, v] of Object.entries(terms))
            if (v) {
              // Each update's `total` adds to the step's; the other names are its own.
              const before = stepSums[k];
              const batchSum = v.mul(rows) as tf.Scalar;
              stepSums[k] = tf.keep(before ? before.add(batchSum) : batchSum);
              before?.dispose();
            }
          if (u === 0) {
            // Accuracy is the student's before its update. A label of -1 never equals an
            // argmax, so only labeled rows can count as correct.
            this.correct = tf.keep(prevCorrect.add(student.logits.argMax(1).equal(batch.y).sum().cast('float32')));
            this.labeled = tf.keep(prevLabeled.add(batch.y.greaterEqual(0).sum().cast('float32')));
            if (batch.pseudoLabeled)
              this.pseudoLabeled = tf.keep(prevPseudoLabeled.add(batch.pseudoLabeled.cast('float32')));
          }
          return terms.total;
        }, trained);
        optimizer.apply(
          u,
          trained.map((v) => grads[v.name]),
          lr,
        );
      });
      const sums: Record<string, tf.Scalar> = {};
      for (const [k, v] of Object.entries(stepSums)) {
        sums[k] = prevSums[k] ? tf.keep(prevSums[k].add(v)) : v;
        if (prevSums[k]) v.dispose();
      }
      this.lossSums = sums;
    });
    // The step replaced the running sums and counts.
    tf.dispose([
      ...Object.values(prevSums),
      prevCorrect,
      prevLabeled,
      ...(this.pseudoLabeled !== prevPseudoLabeled ? [prevPseudoLabeled] : []),
    ]);
  }

  async readWindow(): Promise<{ names: string[]; values: ArrayLike<number> }> {
    const names = Object.keys(this.lossSums);
    const stacked = tf.tidy(() => tf.stack(names.map((k) => this.lossSums[k])));
    const values = await stacked.data(); // the one host read per window (async: WebGPU has no sync reads)
    stacked.dispose();
    this.dropWindow();
    return { names, values };
  }

  dropWindow(): void {
    tf.dispose(Object.values(this.lossSums));
    this.lossSums = {};
  }

  async readEpochCounts(): Promise<[number, number, number]> {
    const counts = tf.stack([this.correct, this.labeled, this.pseudoLabeled]);
    const read = await counts.data();
    tf.dispose([counts, this.correct, this.labeled, this.pseudoLabeled]);
    this.correct = tf.scalar(0);
    this.labeled = tf.scalar(0);
    this.pseudoLabeled = tf.scalar(0);
    return [read[0], read[1], read[2]];
  }

  writeBack(): void {
    // The tape updates the model's variables in place.
  }

  dispose(): void {
    this.dropWindow();
    tf.dispose([this.correct, this.labeled, this.pseudoLabeled]);
  }
}

/** The written-out dense step: it keeps the weights, the slots and the sums in its own tensors. */
class DenseStepRunner implements StepRunner {
  readonly kind: TrainingStep = { kind: 'dense' };
  private correct = 0;
  // It trains on labeled rows only (denseStepFits): every row counts for accuracy.
  private rows = 0;

  constructor(
    private readonly dense: DenseStep,
    private readonly optimizer: GroupedOptimizer,
    private readonly slotNames: string[],
  ) {}

  step(batch: Batch, rows: number, lr: number): void {
    this.dense.step({ x: batch.x, y: batch.y, teacherLogits: batch.teacher?.logits }, lr);
    this.rows += rows;
  }

  async readWindow(): Promise<{ names: string[]; values: ArrayLike<number> }> {
    const sums = this.dense.readSums();
    if (!sums) return { names: [], values: [] };
    this.correct += sums.correct;
    const names = Object.keys(sums.loss);
    return { names, values: names.map((k) => sums.loss[k]) };
  }

  dropWindow(): void {
    this.dense.readSums();
  }

  async readEpochCounts(): Promise<[number, number, number]> {
    const counts: [number, number, number] = [this.correct, this.rows, 0];
    this.correct = 0;
    this.rows = 0;
    return counts;
  }

  writeBack(): void {
    this.optimizer.setState(this.dense.writeBack(this.slotNames));
  }

  dispose(): void {
    this.dense.dispose();
  }
}
