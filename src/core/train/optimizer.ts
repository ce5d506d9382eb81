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
export function slotNames(spec: OptimizerSpec): string[] {
  if (spec.type === 'sgd') return spec.momentum > 0 ? ['momentum'] : [];
  return ['m', 'v'];
}

/**
 * The update runs on one flat buffer: the gradients are concatenated, each slot (m, v, momentum)
 * is one float32 variable over every parameter, and the update is sliced back per parameter. The
 * same elementwise maths as one update per variable, so the same values, in about 35 kernel
 * dispatches per step for any number of variables instead of about 15 per variable.
 */
export class Optimizer {
  private step = 0;
  /** One flat variable per slot name (slotNames order), over every variable in order. */
  private readonly flatSlots: tf.Variable[];
  private readonly perVariable: string[];
  private readonly names: string[];
  private readonly sizes: number[];
  private readonly offsets: number[];
  /** The hyper-parameters as scalars made once (per-step constants are not re-uploaded each step). */
  private readonly constants: Record<string, tf.Scalar>;

  /**
   * `names`: stable names of the variables (a layer weight's `dense_1/kernel`) that the state's
   * slots are named after; by default their positions (`0`, `1`, ...).
   */
  constructor(
    readonly spec: OptimizerSpec,
    private readonly variables: tf.Variable[],
    names: string[] = variables.map((_, i) => String(i)),
  ) {
    for (const v of variables)
      if (v.dtype !== 'float32') throw new Error(`the optimizer updates float32 variables; ${v.name} is ${v.dtype}`);
    this.perVariable = slotNames(spec);
    this.names = names;
    this.sizes = variables.map((v) => v.size);
    this.offsets = this.sizes.map((_, i) => this.sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const total = this.sizes.reduce((a, b) => a + b, 0);
    // tidy: the zeros a slot starts from are released (a variable keeps its own reference).
    this.flatSlots = this.perVariable.map(() => tf.tidy(() => tf.variable(tf.zeros([total]), false)));
    const scalars: Record<string, number> =
      spec.type === 'sgd'
        ? { momentum: spec.momentum, weightDecay: spec.weightDecay }
        : {
            beta1: spec.beta1,
            oneMinusBeta1: 1 - spec.beta1,
            beta2: spec.beta2,
            oneMinusBeta2: 1 - spec.beta2,
            epsilon: spec.epsilon,
            weightDecay: spec.weightDecay,
          };
    this.constants = Object.fromEntries(Object.entries(scalars).map(([k, v]) => [k, tf.scalar(v)]));
  }

  get stepCount(): number {
    return this.step;
  }

  /** Every variable's values (or `tensors`') as one flat vector, in variable order. */
  private flatten(tensors: readonly tf.Tensor[]): tf.Tensor1D {
    const flat = tensors.map((t) => t.reshape([-1]));
    return (flat.length === 1 ? flat[0] : tf.concat(flat)) as tf.Tensor1D;
  }

  /** Applies one update with learning rate `lr`; `grads` are in variable order and are not disposed. */
  apply(grads: tf.Tensor[], lr: number): void {
    this.step += 1;
    const spec = this.spec;
    const k = this.constants;
    tf.tidy(() => {
      let g: tf.Tensor = this.flatten(grads);
      // L2 weight decay (sgd, adam) reads the parameters; otherwise they are not gathered into a flat buffer.
      const params = spec.type !== 'adamw' && spec.weightDecay > 0 ? this.flatten(this.variables) : undefined;
      let delta: tf.Tensor;
      if (spec.type === 'sgd') {
        if (params) g = g.add(params.mul(k.weightDecay));
        if (spec.momentum > 0) {
          const slot = this.flatSlots[0];
          const buf = this.step === 1 ? g : slot.mul(k.momentum).add(g);
          slot.assign(buf);
          g = spec.nesterov ? g.add(buf.mul(k.momentum)) : buf;
        }
        delta = g.mul(lr);
      } else {
        if (spec.type === 'adam' && params) g = g.add(params.mul(k.weightDecay));
        const [mSlot, vSlot] = this.flatSlots;
        const m = mSlot.mul(k.beta1).add(g.mul(k.oneMinusBeta1));
        const v = vSlot.mul(k.beta2).add(g.square().mul(k.oneMinusBeta2));
        mSlot.assign(m);
        vSlot.assign(v);
        const c1 = 1 - spec.beta1 ** this.step;
        const c2 = 1 - spec.beta2 ** this.step;
        delta = m.div(c1).div(v.div(c2).sqrt().add(k.epsilon)).mul(lr);
      }
      const decay = spec.type === 'adamw' && spec.weightDecay > 0 ? 1 - lr * spec.weightDecay : undefined;
      this.variables.forEach((p, i) => {
        const d = (this.variables.length === 1 ? delta : delta.slice(this.offsets[i], this.sizes[i])).reshape(p.shape);
        p.assign((decay !== undefined ? p.mul(decay) : p).sub(d));
      });
    });
  }

  /** The slots as the checkpoint stores them: one array per variable and slot, named `<variable>/<slot>`. */
  async getState(): Promise<OptimizerState> {
    const data = (await Promise.all(this.flatSlots.map((s) => s.data()))) as Float32Array[];
    const slots: NamedArray[] = [];
    this.variables.forEach((v, i) =>
      this.perVariable.forEach((slot, j) =>
        slots.push({
          name: `${this.names[i]}/${slot}`,
          shape: v.shape,
          data: data[j].slice(this.offsets[i], this.offsets[i] + this.sizes[i]),
        }),
      ),
    );
    return { step: this.step, slots };
  }

  /** Restores a state, matched by slot name: a state of other variables or another optimizer is a MismatchError naming the slots. */
  setState(state: OptimizerState): void {
    const expected = this.variables.flatMap((v, i) =>
      this.perVariable.map((slot) => ({ name: `${this.names[i]}/${slot}`, shape: v.shape })),
    );
    const values = matchByName(state.slots, expected, 'optimizer slots');
    this.flatSlots.forEach((s, j) => {
      const flat = new Float32Array(s.size);
      this.variables.forEach((_, i) => flat.set(values[i * this.perVariable.length + j].data, this.offsets[i]));
      tf.tidy(() => s.assign(tf.tensor1d(flat)));
    });
    this.step = state.step;
  }

  dispose(): void {
    tf.dispose([...this.flatSlots, ...Object.values(this.constants)]);
  }
}
