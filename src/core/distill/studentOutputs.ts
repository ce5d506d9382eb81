/**
 * The model a student trains as: the student itself plus the intermediate outputs its loss
 * terms read, and the learned hint projections (FitNets regressors). It shares the student's
 * layers, so training it trains the student; the student alone is what is evaluated and exported.
 */
import * as tf from '@tensorflow/tfjs';
import type { StudentBatch, StudentOutputRequest, TeacherBatch } from './objective.ts';
import { modelCost, type ModelCost } from '../models/cost.ts';

/** A requested layer or shape that does not fit; `term` is the index in `distill.terms`. */
export class ObjectiveFitError extends Error {
  override name = 'ObjectiveFitError';
  constructor(
    readonly term: number,
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const shapeText = (s: readonly (number | null)[]) => `[${s.map((d) => d ?? 'batch').join(', ')}]`;

/** The output shape (without batch) of a named layer, or an error listing the names there are. */
export function layerOutputShape(
  model: tf.LayersModel,
  layer: string,
  term: number,
  field: string,
  whose: string,
): number[] {
  const found = model.layers.find((l) => l.name === layer);
  if (!found)
    throw new ObjectiveFitError(
      term,
      field,
      `the ${whose} has no layer "${layer}"; its layers are ${model.layers.map((l) => l.name).join(', ')}`,
    );
  return (found.outputShape as number[]).slice(1);
}

/**
 * The activation-boundary connector of the authors' code (bhheo/AB_distillation `build_connector`):
 * a 1x1 conv without bias then batch norm, or for flat outputs a dense layer without bias then
 * batch norm; always present, also where the widths agree. Its layer names join `projections`.
 */
function connect(
  out: tf.SymbolicTensor,
  shape: number[],
  target: number[],
  r: StudentOutputRequest,
  projections: string[],
): tf.SymbolicTensor {
  const name = `ab_connector_${projections.length + 1}`;
  let mapped: tf.SymbolicTensor;
  if (shape.length === 1 && target.length === 1)
    mapped = tf.layers.dense({ name, units: target[0], useBias: false }).apply(out) as tf.SymbolicTensor;
  else if (shape.length === 3 && target.length === 3 && shape[0] === target[0] && shape[1] === target[1])
    mapped = tf.layers
      .conv2d({ name, filters: target[2], kernelSize: 1, useBias: false })
      .apply(out) as tf.SymbolicTensor;
  else
    throw new ObjectiveFitError(
      r.term,
      'student',
      `the student layer "${r.layer}" outputs ${shapeText(shape)} and the teacher layer ${shapeText(target)}; a connector maps flat outputs to any width, or conv outputs of the same height and width to any channels`,
    );
  projections.push(name, `${name}_bn`);
  // PyTorch's BatchNorm defaults, as the authors' connector: eps 1e-5, running averages at 0.1 (Keras momentum 0.9).
  return tf.layers
    .batchNormalization({ name: `${name}_bn`, epsilon: 1e-5, momentum: 0.9 })
    .apply(mapped) as tf.SymbolicTensor;
}

export interface TrainingModel {
  /** Student layers plus projections: what the optimizer updates and checkpoints hold. */
  model: tf.LayersModel;
  /** `teacher`: the teacher's outputs on the batch, which teacher-side heads (CRD's) take as inputs. */
  forward(x: tf.Tensor, training: boolean, teacher?: TeacherBatch): StudentBatch;
  /** Names of the projection layers (not part of the exported student). */
  projections: string[];
}

/**
 * A model trained together with the student (the mutual-learning peer, a rocket-launching
 * booster); its logits are the output `key`. It takes the student's input, or with `on` the
 * output of that student layer (the layers up to it are shared).
 */
export interface CompanionModel {
  key: string;
  model: tf.LayersModel;
  on?: string;
}

/**
 * Builds the training model. `teacherShapes` gives each teacher output's shape without the batch
 * axis (the attention maps' as [height * width]).
 */
export function buildTrainingModel(
  student: tf.LayersModel,
  requests: StudentOutputRequest[],
  teacherShapes: Map<string, number[]>,
  phase: string,
  companions: CompanionModel[] = [],
): TrainingModel {
  if (requests.length === 0 && companions.length === 0)
    return {
      model: student,
      projections: [],
      forward: (x, training) => ({ logits: student.apply(x, { training }) as tf.Tensor2D, outputs: new Map() }),
    };
  const outputs: tf.SymbolicTensor[] = [student.outputs[0]];
  const projections: string[] = [];
  const teacherInputs: Array<{ key: string; input: tf.SymbolicTensor }> = [];
  for (const r of requests) {
    if (r.embedding) {
      outputs.push(embed(student, r, r.embedding, teacherShapes, teacherInputs, projections, phase));
      continue;
    }
    const field = r.hintOf || r.connectorOf ? 'student' : 'pairs';
    const shape = layerOutputShape(student, r.layer, r.term, field, `student of ${phase}`);
    let out = student.getLayer(r.layer).output as tf.SymbolicTensor;
    if (r.hintOf) {
      const target = teacherShapes.get(r.hintOf)!;
      const same = target.length === shape.length && target.every((d, i) => d === shape[i]);
      if (!same) {
        const name = `hint_projection_${projections.length + 1}`;
        if (shape.length === 1 && target.length === 1)
          out = tf.layers.dense({ name, units: target[0] }).apply(out) as tf.SymbolicTensor;
        else if (shape.length === 3 && target.length === 3 && shape[0] === target[0] && shape[1] === target[1])
          out = tf.layers.conv2d({ name, filters: target[2], kernelSize: 1 }).apply(out) as tf.SymbolicTensor;
        else
          throw new ObjectiveFitError(
            r.term,
            'student',
            `the student layer "${r.layer}" outputs ${shapeText(shape)} and the teacher's hint ${shapeText(target)}; a projection can only change the width of flat outputs or the channels of conv outputs of the same height and width`,
          );
        projections.push(name);
      }
    }
    if (r.connectorOf) out = connect(out, shape, teacherShapes.get(r.connectorOf)!, r, projections);
    if (r.attentionOf) {
      const map = teacherShapes.get(r.attentionOf)!;
      if (shape.length !== 3 || shape[0] * shape[1] !== map[0])
        throw new ObjectiveFitError(
          r.term,
          'pairs',
          `attention transfer needs conv outputs of the same height and width; the student layer "${r.layer}" outputs ${shapeText(shape)} and the teacher's attention map has ${map[0]} positions`,
        );
    }
    outputs.push(out);
  }
  // A companion sees the same input (or a student layer's output); its layers are named with a
  // prefix (peer_*, booster_*), so names stay unique.
  for (const c of companions) outputs.push(c.model.apply(companionInput(student, c)) as tf.SymbolicTensor);
  const model = tf.model({
    inputs: [...student.inputs, ...teacherInputs.map((t) => t.input)],
    outputs,
    name: `${phase}_training`,
  });
  return {
    model,
    projections,
    forward: (x, training, teacher) => {
      const inputs = teacherInputs.length ? [x, ...teacherInputs.map((t) => teacherValue(teacher, t.key))] : x;
      const [logits, ...rest] = model.apply(inputs, { training }) as tf.Tensor[];
      const map = new Map(requests.map((r, i) => [r.key, rest[i]]));
      companions.forEach((c, i) => map.set(c.key, rest[requests.length + i]));
      return { logits: logits as tf.Tensor2D, outputs: map };
    },
  };
}

/** A teacher output of the batch by request key (the logits, or a requested layer's). */
function teacherValue(teacher: TeacherBatch | undefined, key: string): tf.Tensor {
  if (!teacher) throw new Error(`the training model reads the teacher output "${key}", but the batch has none`);
  return key === 'logits' ? teacher.logits : teacher.outputs.get(key)!;
}

/**
 * CRD's embedding head (RepDistiller `Embed`, without its normalisation, which the loss does): a
 * dense layer of width `dim` on a student layer's flattened output, or on the teacher output
 * `r.layer`, which becomes an input of the training model. Its layer names join `projections`.
 */
function embed(
  student: tf.LayersModel,
  r: StudentOutputRequest,
  embedding: { dim: number; teacher?: boolean },
  teacherShapes: Map<string, number[]>,
  teacherInputs: Array<{ key: string; input: tf.SymbolicTensor }>,
  projections: string[],
  phase: string,
): tf.SymbolicTensor {
  const name = `crd_embed_${r.term + 1}_${embedding.teacher ? 'teacher' : 'student'}`;
  let source: tf.SymbolicTensor;
  if (embedding.teacher) {
    const shape =
      r.layer === 'logits' ? [student.outputs[0].shape[1] as number] : (teacherShapes.get(r.layer) as number[]);
    let input = teacherInputs.find((t) => t.key === r.layer)?.input;
    if (!input) {
      input = tf.input({ shape, name: `teacher_input_${teacherInputs.length + 1}` });
      teacherInputs.push({ key: r.layer, input });
    }
    source = input;
  } else {
    layerOutputShape(student, r.layer, r.term, 'student', `student of ${phase}`);
    source = student.getLayer(r.layer).output as tf.SymbolicTensor;
  }
  const flat =
    source.shape.length > 2
      ? (tf.layers.flatten({ name: `${name}_flatten` }).apply(source) as tf.SymbolicTensor)
      : source;
  projections.push(name);
  return tf.layers.dense({ name, units: embedding.dim }).apply(flat) as tf.SymbolicTensor;
}

const companionInput = (student: tf.LayersModel, c: CompanionModel): tf.SymbolicTensor =>
  c.on ? (student.getLayer(c.on).output as tf.SymbolicTensor) : student.inputs[0];

/**
 * A companion as a model of the data: itself, or with `on` the student's layers up to `on`
 * followed by it (sharing their weights): what is evaluated as its own summary row. It owns no
 * weights (do not dispose it).
 */
export function standaloneCompanion(student: tf.LayersModel, c: CompanionModel): tf.LayersModel {
  if (!c.on) return c.model;
  return tf.model({ inputs: student.inputs, outputs: c.model.apply(companionInput(student, c)) as tf.SymbolicTensor });
}

/** A companion's size and compute: with `on`, the shared student layers' plus its own. */
export function companionCost(student: tf.LayersModel, c: CompanionModel): ModelCost {
  const own = modelCost(c.model);
  if (!c.on) return own;
  // The shared part as a model of the student's own graph (no new nodes: layer inputs stay defined).
  const shared = modelCost(tf.model({ inputs: student.inputs, outputs: companionInput(student, c) }));
  return { params: own.params + shared.params, bytes: own.bytes + shared.bytes, macs: own.macs + shared.macs };
}
