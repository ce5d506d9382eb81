/**
 * Adam, AdamW and SGD with momentum, following PyTorch's update rules so hyper-parameters carry
 * over from PyTorch recipes. Written here rather than using tf.train.* for per-step learning
 * rates, PyTorch's weight-decay semantics, and a state that checkpoints and restores exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerSpec } from '../config/schema.ts';
import { matchByName, type NamedArray } from './checkpoint.ts';

export interface OptimizerState {
  step: number;
  /** Every slot (m, v or momentum buffer) of every variable, named `<variable>/<slot>`, in variable order. */
  slots: NamedArray[];
}

/** The slots each variable has, by name. */
function slotNames(spec: OptimizerSpec): string[] {
  if (spec.type === 'sgd') return spec.momentum > 0 ? ['momentum'] : [];
  return ['m', 'v'];
}

export class Optimizer {
  private step = 0;
  private readonly slots: tf.Variable[][];
  private readonly slotNames: string[][];

  /**
   * `names`: stable names of the variables (a layer weight's `dense_1/kernel`) that the state's
   * slots are named after; by default their positions (`0`, `1`, ...).
   */
  constructor(
    readonly spec: OptimizerSpec,
    private readonly variables: tf.Variable[],
    names: string[] = variables.map((_, i) => String(i)),
  ) {
    const perVariable = slotNames(spec);
    this.slotNames = names.map((n) => perVariable.map((slot) => `${n}/${slot}`));
    // tidy: the zeros a slot starts from are released (a variable keeps its own reference).
    this.slots = variables.map((v) => perVariable.map(() => tf.tidy(() => tf.variable(tf.zerosLike(v), false))));
  }

  get stepCount(): number {
    return this.step;
  }

  /** Applies one update with learning rate `lr`; `grads` are in variable order and are not disposed. */
  apply(grads: tf.Tensor[], lr: number): void {
    this.step += 1;
    const spec = this.spec;
    tf.tidy(() => {
      this.variables.forEach((p, i) => {
        let g = grads[i];
        const slots = this.slots[i];
        if (spec.type === 'sgd') {
          if (spec.weightDecay > 0) g = g.add(p.mul(spec.weightDecay));
          if (spec.momentum > 0) {
            const buf = this.step === 1 ? g : slots[0].mul(spec.momentum).add(g);
            slots[0].assign(buf);
            g = spec.nesterov ? g.add(buf.mul(spec.momentum)) : buf;
          }
          p.assign(p.sub(g.mul(lr)));
          return;
        }
        if (spec.type === 'adam' && spec.weightDecay > 0) g = g.add(p.mul(spec.weightDecay));
        const base = spec.type === 'adamw' && spec.weightDecay > 0 ? p.mul(1 - lr * spec.weightDecay) : p;
        const m = slots[0].mul(spec.beta1).add(g.mul(1 - spec.beta1));
        const v = slots[1].mul(spec.beta2).add(g.square().mul(1 - spec.beta2));
        slots[0].assign(m);
        slots[1].assign(v);
        const c1 = 1 - spec.beta1 ** this.step;
        const c2 = 1 - spec.beta2 ** this.step;
        const update = m.div(c1).div(v.div(c2).sqrt().add(spec.epsilon)).mul(lr);
        p.assign(base.sub(update));
      });
    });
  }

  async getState(): Promise<OptimizerState> {
    const names = this.slotNames.flat();
    const slots = this.slots.flat();
    const data = (await Promise.all(slots.map((s) => s.data()))) as Float32Array[];
    return { step: this.step, slots: slots.map((s, i) => ({ name: names[i], shape: s.shape, data: data[i] })) };
  }

  /** Restores a state, matched by slot name: a state of other variables or another optimizer is a MismatchError naming the slots. */
  setState(state: OptimizerState): void {
    const flat = this.slots.flat();
    const names = this.slotNames.flat();
    const values = matchByName(
      state.slots,
      flat.map((s, i) => ({ name: names[i], shape: s.shape })),
      'optimizer slots',
    );
    flat.forEach((s, i) => tf.tidy(() => s.assign(tf.tensor(values[i].data, s.shape))));
    this.step = state.step;
  }

  dispose(): void {
    for (const s of this.slots.flat()) s.dispose();
  }
}
