/**
 * The optimizer of a training step made of several updates (deep mutual learning's alternating
 * form): one Optimizer per group of variables, each stepped once per training step, so each
 * variable's slots and bias corrections are those of one optimizer over it alone. To checkpoints
 * it is one optimizer: one step count, every group's slots by variable name.
 */
import type * as tf from '@tensorflow/tfjs';
import type { OptimizerSpec } from '../config/schema.ts';
import { Optimizer, type OptimizerState } from './optimizer.ts';

export class GroupedOptimizer {
  private readonly groups: Array<{ optimizer: Optimizer; names: Set<string> }>;

  /** `groups`: for each update, the indices (into `variables`) it trains; every variable in one group. */
  constructor(spec: OptimizerSpec, variables: tf.Variable[], names: string[], groups: number[][]) {
    this.groups = groups.map((indices) => ({
      optimizer: new Optimizer(
        spec,
        indices.map((i) => variables[i]),
        indices.map((i) => names[i]),
      ),
      names: new Set(indices.map((i) => `${names[i]}/`)),
    }));
  }

  get stepCount(): number {
    return this.groups[0].optimizer.stepCount;
  }

  /** One update of group `group` with its variables' gradients, in that group's order. */
  apply(group: number, grads: tf.Tensor[], lr: number): void {
    this.groups[group].optimizer.apply(grads, lr);
  }

  async getState(): Promise<OptimizerState> {
    const states = await Promise.all(this.groups.map((g) => g.optimizer.getState()));
    return { step: states[0].step, slots: states.flatMap((s) => s.slots) };
  }

  /** Restores each group from the slots of its variables (`<variable>/<slot>`); a mismatch is the Optimizer's MismatchError. */
  setState(state: OptimizerState): void {
    const groupOf = (slot: string) =>
      this.groups.findIndex((g) => g.names.has(slot.slice(0, slot.lastIndexOf('/') + 1)));
    this.groups.forEach((g, i) => {
      // Slots of no group go to the first, whose check names them as extra.
      const own = state.slots.filter((s) => groupOf(s.name) === i || (i === 0 && groupOf(s.name) < 0));
      g.optimizer.setState({ step: state.step, slots: own });
    });
  }

  dispose(): void {
    for (const g of this.groups) g.optimizer.dispose();
  }
}
