import type { ScheduleSpec } from '../config/schema.ts';

/**
 * Learning rate at a step (0-based) of a phase with `stepsPerEpoch * epochs` steps.
 * Computed per step on the host: no tensor and no sync involved.
 */
export function learningRateAt(
  schedule: ScheduleSpec,
  baseLr: number,
  step: number,
  stepsPerEpoch: number,
  epochs: number,
): number {
  switch (schedule.type) {
    case 'constant':
      return baseLr;
    case 'step':
      return baseLr * schedule.gamma ** Math.floor(step / (schedule.everyEpochs * stepsPerEpoch));
    case 'cosine': {
      const warmup = Math.round(schedule.warmupEpochs * stepsPerEpoch);
      if (step < warmup) return (baseLr * (step + 1)) / warmup;
      const total = Math.max(1, epochs * stepsPerEpoch - warmup);
      const progress = Math.min(1, (step - warmup) / total);
      return schedule.minLearningRate + 0.5 * (baseLr - schedule.minLearningRate) * (1 + Math.cos(Math.PI * progress));
    }
  }
}
