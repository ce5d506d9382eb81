/**
 * The model a student trains as: the student itself plus the intermediate outputs its loss
 * terms read, and the learned hint projections (FitNets regressors). It shares the student's
 * layers, so training it trains the student; the student alone is what is evaluated and exported.
 */
import * as tf from '@tensorflow/tfjs';
import type { StudentBatch, StudentOutputRequest } from './objective.ts';

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

export interface TrainingModel {
  /** Student layers plus projections: what the optimizer updates and checkpoints hold. */
  model: tf.LayersModel;
  forward(x: tf.Tensor, training: boolean): StudentBatch;
  /** Names of the projection layers (not part of the exported student). */
  projections: string[];
}

/** A model trained together with the student on the same input (the mutual-learning peer); its logits are the output `key`. */
export interface CompanionModel {
  key: string;
  model: tf.LayersModel;
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
  for (const r of requests) {
    const field = r.hintOf ? 'student' : 'pairs';
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
  // A companion sees the same input; its layers are named with a prefix (peer_*), so names stay unique.
  for (const c of companions) outputs.push(c.model.apply(student.inputs[0]) as tf.SymbolicTensor);
  const model = tf.model({ inputs: student.inputs, outputs, name: `${phase}_training` });
  return {
    model,
    projections,
    forward: (x, training) => {
      const [logits, ...rest] = model.apply(x, { training }) as tf.Tensor[];
      const map = new Map(requests.map((r, i) => [r.key, rest[i]]));
      companions.forEach((c, i) => map.set(c.key, rest[requests.length + i]));
      return { logits: logits as tf.Tensor2D, outputs: map };
    },
  };
}
