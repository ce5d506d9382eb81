/**
 * The training objective of a student: the config's `distill` section compiled into one loss
 * function (a weighted sum of terms, each logged on its own) and the list of intermediate
 * outputs it needs from the student and the teacher. Each term's reads, parts and loss are its
 * definition in termRegistry.ts; this file only combines them.
 */
import * as tf from '@tensorflow/tfjs';
import type { DistillSpec, LossTermSpec } from '../config/schema.ts';
import { assertNever } from '../assertNever.ts';
import { labeledRows } from './labeledRows.ts';
import { crossEntropy, labelSmoothedCrossEntropy } from './terms.ts';
import { LOGITS, termDefinition, type TermLoss, type TermReads } from './termRegistry.ts';

export { temperatureAt } from './termRegistry.ts';

/** The `distill` section in one form: `kd` and `none` are shorthands of it. */
export interface CanonicalObjective {
  hardWeight: number;
  labelSmoothing: number;
  terms: LossTermSpec[];
}

export function canonicalObjective(spec: DistillSpec): CanonicalObjective {
  switch (spec.method) {
    case 'combined':
      return { hardWeight: spec.hardWeight, labelSmoothing: spec.labelSmoothing, terms: spec.terms };
    case 'none':
      return { hardWeight: 1, labelSmoothing: spec.labelSmoothing, terms: [] };
    case 'kd': {
      const kd: LossTermSpec = {
        type: 'kd',
        weight: 1 - spec.alpha,
        temperature: spec.temperature,
        finalTemperature: spec.finalTemperature,
        divergence: spec.divergence,
      };
      return { hardWeight: spec.alpha, labelSmoothing: 0, terms: [kd] };
    }
    default:
      return assertNever(spec, 'distill method');
  }
}

/** An intermediate output of the student: a layer's output, projected to the teacher's shape when asked. */
export interface StudentOutputRequest {
  key: string;
  layer: string;
  /** For a hint: the teacher output it is compared with (a projection maps the student's width to it when they differ). */
  hintOf?: string;
  /** For an attention pair: the teacher attention map it is compared with (height x width must match). */
  attentionOf?: string;
  /** Index of the term (in `terms`) that needs it, for error messages. */
  term: number;
}

/** An output of the teacher on the training split: a layer/value as is, or its attention map. */
export interface TeacherOutputRequest {
  key: string;
  layer: string;
  attentionP?: number;
  term: number;
}

/** What the student produced for a batch: logits, then the requested outputs by key. */
export interface StudentBatch {
  logits: tf.Tensor2D;
  outputs: Map<string, tf.Tensor>;
}
export interface TeacherBatch {
  logits: tf.Tensor2D;
  outputs: Map<string, tf.Tensor>;
}

/** Where in training a batch is: terms with schedules (temperature, warm-up) read it. */
export interface TrainingProgress {
  /** 1-based epoch. */
  epoch: number;
  /** Fraction of the phase's steps done before this one, in [0, 1). */
  fraction: number;
}

/** Loss terms of a batch by name; `total` is minimised. */
export type LossTerms = { total: tf.Scalar } & Record<string, tf.Scalar>;

export type ObjectiveLoss = (
  student: StudentBatch,
  teacher: TeacherBatch | undefined,
  labels: tf.Tensor1D,
  at: TrainingProgress,
) => LossTerms;

export interface Objective {
  /** Whether any term reads the teacher (teacher_free and label smoothing do not). */
  usesTeacher: boolean;
  /** Whether anything beyond the hard labels is learned: a term, or a strategy's extension. */
  distills: boolean;
  student: StudentOutputRequest[];
  teacher: TeacherOutputRequest[];
  /** Names of the logged terms, in order (without `total`). */
  termNames: string[];
  loss: ObjectiveLoss;
}

/**
 * Loss terms a strategy adds to every distillation stage after the configured ones (deep mutual
 * learning adds the peer's): their logged names and their loss, as a term's.
 */
export interface ObjectiveExtension {
  parts: readonly string[];
  loss: TermLoss;
}

export function compileObjective(spec: DistillSpec, extension?: ObjectiveExtension): Objective {
  const { hardWeight, labelSmoothing, terms } = canonicalObjective(spec);
  const student: StudentOutputRequest[] = [];
  const teacher: TeacherOutputRequest[] = [];
  const studentKey = (layer: string, term: number, project: boolean): string => {
    if (layer === LOGITS && !project) return LOGITS;
    const key = project ? `hint:${term}:${layer}` : `raw:${layer}`;
    if (!student.some((r) => r.key === key)) student.push({ key, layer, term });
    return key;
  };
  const teacherKey = (layer: string, term: number, attentionP?: number): string => {
    if (layer === LOGITS && attentionP === undefined) return LOGITS;
    const key = attentionP === undefined ? `raw:${layer}` : `attention(p=${attentionP}):${layer}`;
    if (!teacher.some((r) => r.key === key)) teacher.push({ key, layer, attentionP, term });
    return key;
  };
  const readsOf = (term: number): TermReads => ({
    student: (layer) => studentKey(layer, term, false),
    studentHint: (layer, teacherOutput) => {
      const key = studentKey(layer, term, true);
      student.find((r) => r.key === key)!.hintOf = teacherOutput;
      return key;
    },
    studentAttention: (layer, teacherOutput) => {
      const key = studentKey(layer, term, false);
      const request = student.find((r) => r.key === key);
      if (request) request.attentionOf = teacherOutput;
      return key;
    },
    teacher: (layer) => teacherKey(layer, term),
    teacherAttention: (layer, p) => teacherKey(layer, term, p),
  });
  // Names in the logs: the term's parts, with _2, _3 for repeats.
  const used = new Map<string, number>();
  const nameOf = (base: string) => {
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return n === 1 ? base : `${base}_${n}`;
  };
  const parts: Array<{ names: readonly string[]; loss: TermLoss }> = [];
  const termNames: string[] = ['hard'];
  let usesTeacher = false;

  terms.forEach((term, i) => {
    const definition = termDefinition(term);
    usesTeacher ||= definition.usesTeacher;
    const names = definition.parts.map(nameOf);
    termNames.push(...names);
    parts.push({ names, loss: definition.compile(term, readsOf(i)) });
  });
  if (extension) {
    termNames.push(...extension.parts);
    parts.push({ names: extension.parts, loss: extension.loss });
  }

  const loss: ObjectiveLoss = (s, t, y, at) => {
    // Unlabeled rows (label -1, a transfer set's) do not count in the hard-label term.
    const hard = tf.tidy(() => {
      const rows = labeledRows(y);
      return labelSmoothing > 0
        ? labelSmoothedCrossEntropy(s.logits, rows.labels, labelSmoothing, rows.weights)
        : crossEntropy(s.logits, rows.labels, rows.weights);
    });
    const out: Record<string, tf.Scalar> = { hard };
    const weighted: Array<[tf.Scalar, number]> = [[hard, hardWeight]];
    for (const part of parts)
      part.loss(s, t, y, at).forEach(([value, weight], j) => {
        out[part.names[j]] = value;
        weighted.push([value, weight]);
      });
    // Labels alone: the total is the hard term itself. Otherwise the weighted sum, keeping no intermediates.
    const total =
      weighted.length === 1 && hardWeight === 1
        ? hard
        : tf.tidy(() => tf.addN(weighted.map(([v, w]) => tf.mul(v, w))) as tf.Scalar);
    return { ...out, total } as LossTerms;
  };
  return { usesTeacher, distills: parts.length > 0, student, teacher, termNames, loss };
}
