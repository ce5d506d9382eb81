/**
 * Adam, AdamW and SGD with momentum, following PyTorch's update rules so hyper-parameters carry
 * over from PyTorch recipes. Written here rather than using tf.train.* for per-step learning
 * rates, PyTorch's weight-decay semantics, and a state that checkpoints and restores exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerSpec } from '../config/schema.ts';

export interface OptimizerState {
  step: number;
  /** One entry per slot (m, v or momentum buffer) per variable, in variable order. */
  slots: Float32Array[];
}

export class Optimizer {
  private step = 0;
  private readonly slots: tf.Variable[][];

  constructor(readonly spec: OptimizerSpec, private readonly variables: tf.Variable[]) {
    const perVariable = spec.type === 'sgd' ? (spec.momentum > 0 ? 1 : 0) : 2;
    // tidy: the zeros a slot starts from are released (a variable keeps its own reference).
    this.slots = variables.map((v) => Array.from({ length: perVariable }, () => tf.tidy(() => tf.variable(tf.zerosLike(v), false))));
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
    return { step: this.step, slots: (await Promise.all(this.slots.flat().map((s) => s.data()))) as Float32Array[] };
  }

  setState(state: OptimizerState): void {
    const flat = this.slots.flat();
    if (state.slots.length !== flat.length) throw new Error(`optimizer state has ${state.slots.length} slots, expected ${flat.length}`);
    flat.forEach((s, i) => tf.tidy(() => s.assign(tf.tensor(state.slots[i], s.shape))));
    this.step = state.step;
  }

  dispose(): void {
    for (const s of this.slots.flat()) s.dispose();
  }
}
