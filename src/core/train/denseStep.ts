/**
 * A training step of a dense student written out as TensorFlow ops, run through tfjs-node's
 * binding without tfjs's engine: forward, the hard-label and KD losses with their closed-form
 * gradient, the backward pass and the optimizer update. tfjs's engine costs about 14 µs of
 * bookkeeping per op on top of TensorFlow's own 7 µs (scripts/bench-step-floor.ts), and its tape
 * makes a step of the anchor's 784-64-10 student about 170 ops; written out it is about 45. Only
 * where the step is exactly this: a stack of dense layers (relu, tanh, sigmoid or linear; no
 * dropout, no batch norm), the hard-label cross-entropy and at most one KD term (forward KL at a
 * fixed temperature) on the logits, every row labeled, one update of every weight. The weights and
 * the optimizer's slots live in TensorFlow tensors during a phase and are written back to the
 * model and the Optimizer's state before anything reads them (evaluation, checkpoints, the end).
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerSpec } from '../config/schema.ts';
import type { CanonicalObjective } from '../distill/objective.ts';
import { slotNames, type OptimizerState } from './optimizer.ts';

/** The part of tfjs-node's native binding this uses (tfjs-node 4.22's TFJSBinding). */
interface Binding {
  executeOp(name: string, attrs: Attr[], inputs: number[], outputs: number): Array<{ id: number }>;
  createTensor(shape: number[], dtype: number, values: Float32Array | Int32Array): number;
  deleteTensor(id: number): void;
  tensorDataSync(id: number): Float32Array | Int32Array | Uint8Array;
  TF_FLOAT: number;
  TF_INT32: number;
  TF_BOOL: number;
  TF_ATTR_TYPE: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_INT: number;
  TF_ATTR_STRING: number;
}
interface Attr {
  name: string;
  type: number;
  value: number | boolean | string;
}
interface NodeBackend {
  binding: Binding;
  getInputTensorIds(tensors: tf.Tensor[]): number[];
}

/** Ops the dense steps have dispatched in this process (scripts/bench-step.ts counts them per step). */
export const denseStepDispatches = { count: 0 };

type Activation = 'relu' | 'tanh' | 'sigmoid' | 'linear';
/** Each activation's op and its gradient op, with that op's inputs in order (TensorFlow's signatures differ). */
const ACTIVATION_OPS: Record<
  Exclude<Activation, 'linear'>,
  { op: string; grad: string; inputs: (dy: number, y: number) => number[] }
> = {
  relu: { op: 'Relu', grad: 'ReluGrad', inputs: (dy, y) => [dy, y] }, // ReluGrad(gradients, features): y > 0 iff x > 0
  tanh: { op: 'Tanh', grad: 'TanhGrad', inputs: (dy, y) => [y, dy] }, // TanhGrad(y, dy)
  sigmoid: { op: 'Sigmoid', grad: 'SigmoidGrad', inputs: (dy, y) => [y, dy] }, // SigmoidGrad(y, dy)
};

interface DenseLayer {
  kernel: tf.LayerVariable;
  bias?: tf.LayerVariable;
  activation: Activation;
}

/** What decides whether a phase can take the written-out step; `reason` says why not. */
export interface DenseStepRequest {
  backend: string;
  model: tf.LayersModel;
  /** The model the loss is computed on; the step applies only where it is the student itself. */
  trainingModel: tf.LayersModel;
  objective: CanonicalObjective;
  /** Extra student or teacher outputs, extensions, several updates, state across steps, annealing, online teachers. */
  needsMore: boolean;
  /** Whether every training row has a label (no transfer set, no pseudo-labels). */
  allLabeled: boolean;
  optimizer: OptimizerSpec;
}

/** The dense layers of `model` in order, or why it is not a plain stack of them. */
function denseStack(model: tf.LayersModel): DenseLayer[] | string {
  const layers: DenseLayer[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'InputLayer' || cls === 'Flatten') {
      if (layers.length > 0 && cls === 'Flatten') return 'a flatten after a dense layer';
      continue;
    }
    if (cls === 'Dropout') {
      if ((layer.getConfig().rate as number) > 0) return 'dropout';
      continue;
    }
    if (cls !== 'Dense') return `a ${cls} layer`;
    const config = layer.getConfig();
    const activation = config.activation as string;
    if (!['relu', 'tanh', 'sigmoid', 'linear'].includes(activation)) return `the ${activation} activation`;
    const [kernel, bias] = layer.trainableWeights;
    if (!kernel || (config.useBias && !bias) || layer.trainableWeights.length > (config.useBias ? 2 : 1))
      return 'a dense layer with other weights';
    layers.push({ kernel, bias: config.useBias ? bias : undefined, activation: activation as Activation });
  }
  if (layers.length === 0) return 'no dense layer';
  if (layers.at(-1)!.activation !== 'linear') return 'logits after an activation';
  // Chained in order, each the next's only input: a Sequential-like graph.
  for (let i = 0; i < model.layers.length - 1; i++)
    if (model.layers[i + 1].inboundNodes[0]?.inboundLayers[0] !== model.layers[i]) return 'a branching graph';
  return layers;
}

/** Whether the written-out step applies, and if not, why not (for the record of the run). */
export function denseStepFits(r: DenseStepRequest): { layers: DenseLayer[] } | { reason: string } {
  if (r.backend !== 'tensorflow') return { reason: `the ${r.backend} backend` };
  if (r.trainingModel !== r.model) return { reason: 'projections or companions trained with the student' };
  if (r.needsMore) return { reason: 'terms beyond the hard labels and one KD term on logits' };
  if (!r.allLabeled) return { reason: 'unlabeled rows' };
  const o = r.objective;
  if (o.labelSmoothing > 0) return { reason: 'label smoothing' };
  if (
    o.terms.length > 1 ||
    o.terms.some((t) => t.type !== 'kd' || t.divergence !== 'forward' || t.finalTemperature !== undefined)
  )
    return { reason: 'terms beyond the hard labels and one KD term on logits' };
  if (r.optimizer.type === 'sgd' && r.optimizer.nesterov) return { reason: 'Nesterov momentum' };
  const layers = denseStack(r.model);
  return typeof layers === 'string' ? { reason: layers } : { layers };
}

/** One batch: the tfjs tensors the batch source made (examples, int32 labels, teacher logits). */
export interface DenseBatch {
  x: tf.Tensor;
  y: tf.Tensor1D;
  teacherLogits?: tf.Tensor2D;
}

/**
 * The step over one phase. Created from the model's weights and the optimizer's state; `step`
 * trains; `lossSums` and `counts` read and reset the running sums; `writeBack` puts the weights
 * into the model and returns the optimizer state for the phase's Optimizer.
 */
export class DenseStep {
  private readonly b: Binding;
  private readonly backend: NodeBackend;
  private readonly weights: number[];
  private readonly shapes: number[][];
  private readonly sizes: number[];
  private slots: number[];
  private stepCount: number;
  private lossSum: number | undefined;
  private readonly constants = new Map<string, number>();
  private made: number[] = [];
  readonly termNames: string[];
  private readonly kdWeight: number;
  /** Each layer's kernel index among the weights (its bias follows it). */
  private readonly firstWeight: number[];

  constructor(
    private readonly layers: DenseLayer[],
    private readonly objective: CanonicalObjective,
    private readonly spec: OptimizerSpec,
    state: OptimizerState,
    private readonly variableOrder: tf.LayerVariable[],
  ) {
    this.backend = tf.backend() as unknown as NodeBackend;
    this.b = this.backend.binding;
    const variables = layers.flatMap((l) => (l.bias ? [l.kernel, l.bias] : [l.kernel]));
    this.firstWeight = layers.map((_, l) => variables.indexOf(layers[l].kernel));
    if (variables.length !== variableOrder.length || variables.some((v, i) => v !== variableOrder[i]))
      throw new Error('the dense step expects the trainable weights in layer order');
    this.shapes = variables.map((v) => v.shape as number[]);
    this.sizes = this.shapes.map((s) => s.reduce((a, b) => a * b, 1));
    // Own handles on the variables' current values (TensorFlow shares the buffer; writes replace it).
    this.weights = variables.map(
      (v) => this.b.executeOp('Identity', [this.type('T')], this.backend.getInputTensorIds([v.read()]), 1)[0].id,
    );
    const total = this.sizes.reduce((a, b) => a + b, 0);
    const names = slotNames(spec);
    // The Optimizer's state, per variable and slot, into one flat buffer per slot.
    this.slots = names.map((slot) => {
      const flat = new Float32Array(total);
      let offset = 0;
      variables.forEach((_, i) => {
        const s = state.slots[i * names.length + names.indexOf(slot)];
        flat.set(s.data as Float32Array, offset);
        offset += this.sizes[i];
      });
      return this.upload([total], flat);
    });
    this.stepCount = state.step;
    this.termNames = ['hard', ...(objective.terms.length ? ['kd'] : [])];
    const kd = objective.terms[0];
    this.kdWeight = kd?.type === 'kd' ? kd.weight : 0;
  }

  private upload(shape: number[], values: Float32Array | Int32Array, dtype = this.b.TF_FLOAT): number {
    return this.b.createTensor(shape, dtype, values);
  }

  /** A constant tensor made once per key (the values a step reuses: weights of terms, shapes, axes). */
  private cached(key: string, make: () => number): number {
    let id = this.constants.get(key);
    if (id === undefined) this.constants.set(key, (id = make()));
    return id;
  }
  private constant(value: number): number {
    return this.cached(`f${value}`, () => this.upload([], Float32Array.of(value)));
  }
  private intConstant(values: number[]): number {
    return this.cached(`i${values.join(',')}`, () =>
      this.upload([values.length], Int32Array.from(values), this.b.TF_INT32),
    );
  }
  private intScalar(value: number): number {
    return this.cached(`s${value}`, () => this.upload([], Int32Array.of(value), this.b.TF_INT32));
  }

  private ops(name: string, attrs: Attr[], inputs: number[], outputs: number): number[] {
    const ids = this.b.executeOp(name, attrs, inputs, outputs).map((m) => m.id);
    denseStepDispatches.count += 1;
    this.made.push(...ids);
    return ids;
  }
  private op(name: string, attrs: Attr[], inputs: number[]): number {
    return this.ops(name, attrs, inputs, 1)[0];
  }
  private type(name: string, dtype = this.b.TF_FLOAT): Attr {
    return { name, type: this.b.TF_ATTR_TYPE, value: dtype };
  }
  private bool(name: string, value: boolean): Attr {
    return { name, type: this.b.TF_ATTR_BOOL, value };
  }
  private binary(name: string, a: number, b: number): number {
    return this.op(name, [this.type('T')], [a, b]);
  }
  private unary(name: string, a: number): number {
    return this.op(name, [this.type('T')], [a]);
  }
  private matMul(a: number, b: number, transposeA: boolean, transposeB: boolean): number {
    return this.op(
      'MatMul',
      [this.type('T'), this.bool('transpose_a', transposeA), this.bool('transpose_b', transposeB)],
      [a, b],
    );
  }
  private sum(a: number, axis: number, dtype = this.b.TF_FLOAT): number {
    return this.op(
      'Sum',
      [this.type('T', dtype), this.type('Tidx', this.b.TF_INT32), this.bool('keep_dims', false)],
      [a, this.intScalar(axis)],
    );
  }
  private reshape(a: number, shape: number[]): number {
    return this.op('Reshape', [this.type('T'), this.type('Tshape', this.b.TF_INT32)], [a, this.intConstant(shape)]);
  }
  private biasAdd(a: number, bias: number): number {
    return this.op(
      'BiasAdd',
      [this.type('T'), { name: 'data_format', type: this.b.TF_ATTR_STRING, value: 'NHWC' }],
      [a, bias],
    );
  }
  private biasAddGrad(d: number): number {
    return this.op(
      'BiasAddGrad',
      [this.type('T'), { name: 'data_format', type: this.b.TF_ATTR_STRING, value: 'NHWC' }],
      [d],
    );
  }

  /** One step on `batch` with learning rate `lr`. */
  step(batch: DenseBatch, lr: number): void {
    const b = this.b;
    const [xIn, y, teacher] = this.backend.getInputTensorIds([
      batch.x,
      batch.y,
      ...(batch.teacherLogits ? [batch.teacherLogits] : []),
    ]);
    const rows = batch.x.shape[0];
    const x = batch.x.rank > 2 ? this.reshape(xIn, [rows, -1]) : xIn;
    const kernelOf = (l: number) => this.weights[this.weightIndex(l, 'kernel')];
    // Forward: each layer's output, kept for the backward pass.
    const outputs: number[] = [x];
    this.layers.forEach((layer, l) => {
      let a = this.matMul(outputs[l], kernelOf(l), false, false);
      if (layer.bias) a = this.biasAdd(a, this.weights[this.weightIndex(l, 'bias')]);
      if (layer.activation !== 'linear') a = this.unary(ACTIVATION_OPS[layer.activation].op, a);
      outputs.push(a);
    });
    const logits = outputs.at(-1)!;
    // The hard labels: per-row cross-entropy and its gradient (softmax - one-hot) in one op.
    const [hardRows, hardBack] = this.ops(
      'SparseSoftmaxCrossEntropyWithLogits',
      [this.type('T'), this.type('Tlabels', b.TF_INT32)],
      [logits, y],
      2,
    );
    const sums = [this.sum(hardRows, 0)];
    let dLogits = this.binary('Mul', hardBack, this.constant(this.objective.hardWeight / rows));
    const kd = this.objective.terms[0];
    if (kd && kd.type === 'kd') {
      if (teacher === undefined) throw new Error('the KD term needs the teacher logits of the batch');
      const t = kd.temperature;
      const scaledStudent = this.binary('RealDiv', logits, this.constant(t));
      const logP = this.op('LogSoftmax', [this.type('T')], [this.binary('RealDiv', teacher, this.constant(t))]);
      const p = this.unary('Exp', logP);
      // CE(p, q) - H(p) = KL(p || q) per row; T² · its batch mean is the term, (T/B)(q - p) its gradient.
      const [ceRows, kdBack] = this.ops('SoftmaxCrossEntropyWithLogits', [this.type('T')], [scaledStudent, p], 2);
      const negEntropy = this.sum(this.binary('Mul', p, logP), 1);
      sums.push(this.binary('Mul', this.sum(this.binary('AddV2', ceRows, negEntropy), 0), this.constant(t * t)));
      dLogits = this.binary('AddV2', dLogits, this.binary('Mul', kdBack, this.constant((kd.weight * t) / rows)));
    }
    // Accuracy of the student before its update: correct rows of this batch.
    const predicted = this.op(
      'ArgMax',
      [this.type('T'), this.type('Tidx', b.TF_INT32), this.type('output_type', b.TF_INT32)],
      [logits, this.intScalar(1)],
    );
    const hits = this.op(
      'Equal',
      [this.type('T', b.TF_INT32), this.bool('incompatible_shape_error', true)],
      [predicted, y],
    );
    const hitsF = this.op(
      'Cast',
      [this.type('SrcT', b.TF_BOOL), this.type('DstT', b.TF_FLOAT), this.bool('Truncate', false)],
      [hits],
    );
    const stepSums = this.op(
      'Pack',
      [
        this.type('T'),
        { name: 'N', type: b.TF_ATTR_INT, value: sums.length + 1 },
        { name: 'axis', type: b.TF_ATTR_INT, value: 0 },
      ],
      [...sums, this.sum(hitsF, 0)],
    );
    // Backward, last layer first.
    const grads: number[] = new Array(this.weights.length);
    let d = dLogits;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const layer = this.layers[l];
      if (layer.activation !== 'linear') {
        const { grad, inputs } = ACTIVATION_OPS[layer.activation];
        d = this.op(grad, [this.type('T')], inputs(d, outputs[l + 1]));
      }
      grads[this.weightIndex(l, 'kernel')] = this.matMul(outputs[l], d, true, false);
      if (layer.bias) grads[this.weightIndex(l, 'bias')] = this.biasAddGrad(d);
      if (l > 0) d = this.matMul(d, kernelOf(l), false, true);
    }
    this.update(grads, lr);
    this.lossSum = this.accumulate(this.lossSum, stepSums);
    this.release();
  }

  /** Sums of the window: adds `value` to `running`, keeps the result, frees the old sum. */
  private accumulate(running: number | undefined, value: number): number {
    if (running === undefined) {
      this.made = this.made.filter((id) => id !== value);
      return value;
    }
    const next = this.binary('AddV2', running, value);
    this.made = this.made.filter((id) => id !== next);
    this.b.deleteTensor(running);
    return next;
  }

  /** The index of layer `l`'s kernel or bias among the weights. */
  private weightIndex(l: number, which: 'kernel' | 'bias'): number {
    return this.firstWeight[l] + (which === 'kernel' ? 0 : 1);
  }

  /** The Optimizer's update (optimizer.ts), op for op, over one flat buffer. */
  private update(grads: number[], lr: number): void {
    this.stepCount += 1;
    const spec = this.spec;
    const flat = (ids: number[]) =>
      this.op(
        'ConcatV2',
        [
          this.type('T'),
          { name: 'N', type: this.b.TF_ATTR_INT, value: ids.length },
          this.type('Tidx', this.b.TF_INT32),
        ],
        [...ids.map((id, i) => (this.shapes[i].length === 1 ? id : this.reshape(id, [-1]))), this.intScalar(0)],
      );
    let g = flat(grads);
    const params = spec.type !== 'adamw' && spec.weightDecay > 0 ? flat(this.weights) : undefined;
    let delta: number;
    const next: number[] = [];
    if (spec.type === 'sgd') {
      if (params) g = this.binary('AddV2', g, this.binary('Mul', params, this.constant(spec.weightDecay)));
      if (spec.momentum > 0) {
        const buf =
          this.stepCount === 1
            ? g
            : this.binary('AddV2', this.binary('Mul', this.slots[0], this.constant(spec.momentum)), g);
        next.push(buf);
        g = buf;
      }
      delta = this.binary('Mul', g, this.scalar(lr));
    } else {
      if (spec.type === 'adam' && params)
        g = this.binary('AddV2', g, this.binary('Mul', params, this.constant(spec.weightDecay)));
      const m = this.binary(
        'AddV2',
        this.binary('Mul', this.slots[0], this.constant(spec.beta1)),
        this.binary('Mul', g, this.constant(1 - spec.beta1)),
      );
      const v = this.binary(
        'AddV2',
        this.binary('Mul', this.slots[1], this.constant(spec.beta2)),
        this.binary('Mul', this.unary('Square', g), this.constant(1 - spec.beta2)),
      );
      next.push(m, v);
      const c1 = 1 - spec.beta1 ** this.stepCount;
      const c2 = 1 - spec.beta2 ** this.stepCount;
      const denominator = this.binary(
        'AddV2',
        this.unary('Sqrt', this.binary('RealDiv', v, this.scalar(c2))),
        this.constant(spec.epsilon),
      );
      delta = this.binary(
        'Mul',
        this.binary('RealDiv', this.binary('RealDiv', m, this.scalar(c1)), denominator),
        this.scalar(lr),
      );
    }
    const decay = spec.type === 'adamw' && spec.weightDecay > 0 ? 1 - lr * spec.weightDecay : undefined;
    const parts =
      this.weights.length === 1
        ? [delta]
        : this.ops(
            'SplitV',
            [
              this.type('T'),
              this.type('Tlen', this.b.TF_INT32),
              { name: 'num_split', type: this.b.TF_ATTR_INT, value: this.weights.length },
            ],
            [delta, this.intConstant(this.sizes), this.intScalar(0)],
            this.weights.length,
          );
    const weights = this.weights.map((w, i) => {
      const p = decay !== undefined ? this.binary('Mul', w, this.scalar(decay)) : w;
      return this.binary('Sub', p, this.shapes[i].length === 1 ? parts[i] : this.reshape(parts[i], this.shapes[i]));
    });
    // The new weights and slots replace the old ones; everything else of the step is freed.
    const kept = new Set([...weights, ...next]);
    this.made = this.made.filter((id) => !kept.has(id));
    for (const id of [...this.weights, ...this.slots.filter((s, i) => next[i] !== undefined && next[i] !== s)])
      this.b.deleteTensor(id);
    this.weights.splice(0, this.weights.length, ...weights);
    if (next.length) this.slots = next;
  }

  /** A float32 scalar for a per-step value (learning rate, bias corrections), freed with the step. */
  private scalar(value: number): number {
    const id = this.upload([], Float32Array.of(value));
    this.made.push(id);
    return id;
  }

  private release(): void {
    for (const id of this.made) this.b.deleteTensor(id);
    this.made = [];
  }

  /**
   * The sums since the last read, and resets them: per term, the sum over rows of its batch means
   * times the rows (as the tape step keeps them), `total` their weighted sum, and correct rows.
   */
  readSums(): { loss: Record<string, number>; correct: number } | undefined {
    if (this.lossSum === undefined) return undefined;
    const values = this.b.tensorDataSync(this.lossSum);
    this.b.deleteTensor(this.lossSum);
    this.lossSum = undefined;
    const loss: Record<string, number> = {};
    let total = 0;
    this.termNames.forEach((name, i) => {
      loss[name] = values[i];
      total += values[i] * (i === 0 ? this.objective.hardWeight : this.kdWeight);
    });
    // Labels alone: the total is the hard term itself, as the tape step logs it.
    loss.total = this.termNames.length === 1 && this.objective.hardWeight === 1 ? values[0] : total;
    return { loss, correct: values[this.termNames.length] };
  }

  /** The weights into the model's variables, and the optimizer's state (step and slots) as optimizer.ts keeps it. */
  writeBack(names: string[]): OptimizerState {
    this.variableOrder.forEach((v, i) => {
      const values = this.b.tensorDataSync(this.weights[i]) as Float32Array;
      const t = tf.tensor(values, this.shapes[i]);
      v.write(t);
      t.dispose();
    });
    const flats = this.slots.map((s) => this.b.tensorDataSync(s) as Float32Array);
    const slots: OptimizerState['slots'] = [];
    let offset = 0;
    this.variableOrder.forEach((_, i) => {
      slotNames(this.spec).forEach((slot, j) =>
        slots.push({
          name: `${names[i]}/${slot}`,
          shape: this.shapes[i],
          data: flats[j].slice(offset, offset + this.sizes[i]),
        }),
      );
      offset += this.sizes[i];
    });
    return { step: this.stepCount, slots };
  }

  dispose(): void {
    this.release();
    for (const id of [...this.weights, ...this.slots, ...this.constants.values()]) this.b.deleteTensor(id);
    if (this.lossSum !== undefined) this.b.deleteTensor(this.lossSum);
    this.constants.clear();
  }
}
