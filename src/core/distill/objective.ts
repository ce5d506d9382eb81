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
import { TermStates, type PhaseRows, type TermPhaseState } from './termState.ts';

import { temperatureAt } from './termRegistry.ts';
export { temperatureAt };

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
  /** For activation boundaries: the teacher output that a connector (1x1 conv or dense, no bias, then batch norm) maps it to. */
  connectorOf?: string;
  /**
   * For CRD: a learned linear embedding of width `dim` of the (flattened) output; with `teacher`,
   * of the teacher output `layer` (a request key), fed to the training model as an extra input.
   */
  embedding?: { dim: number; teacher?: boolean };
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
  /** All terms, `total` their weighted sum: one update of every weight at once. */
  loss: ObjectiveLoss;
  /** The terms as configured, where nothing else (a strategy's extension) adds to them: what the written-out dense step reads. */
  canonical?: CanonicalObjective;
  /** Where a training step is several updates in turn (ObjectiveExtension.ownUpdate), those updates. */
  updates?: UpdateStep[];
  /** The temperature of each annealed term at `at`, by its logged name; undefined when no term anneals. */
  temperatures?: (at: TrainingProgress) => Record<string, number>;
  /** Where a term keeps state across a phase's steps (CRD's memory bank): creates it for a phase. */
  phaseState?: (rows: PhaseRows) => TermPhaseState;
}

/**
 * Loss terms a strategy adds to every distillation stage after the configured ones (deep mutual
 * learning adds the peer's): their logged names and their loss, as a term's.
 */
export interface ObjectiveExtension {
  parts: readonly string[];
  loss: TermLoss;
  /** Whether it reads the teacher's outputs (multi-teacher KD does; mutual learning's peer terms do not). */
  usesTeacher?: boolean;
  /**
   * Parts that train a companion in an update of its own (the paper's deep mutual learning):
   * after the student's update, on a fresh forward pass. Without it one summed loss updates the
   * student and its companions from one forward pass.
   */
  ownUpdate?: { companion: string; parts: readonly string[] };
}

/**
 * One update of a training step: a fresh forward pass, the loss (only the terms this update
 * minimises, `total` their weighted sum) and the gradient with respect to the weights it trains:
 * the student's (with its projections), or those of the companion whose logits are `companion`.
 */
export interface UpdateStep {
  trains: 'student' | { companion: string };
  loss: ObjectiveLoss;
}

export function compileObjective(spec: DistillSpec, extension?: ObjectiveExtension): Objective {
  const { hardWeight, labelSmoothing, terms } = canonicalObjective(spec);
  const student: StudentOutputRequest[] = [];
  const teacher: TeacherOutputRequest[] = [];
  const studentKey = (layer: string, term: number, project: boolean | 'connector'): string => {
    if (layer === LOGITS && !project) return LOGITS;
    const key =
      project === 'connector' ? `connector:${term}:${layer}` : project ? `hint:${term}:${layer}` : `raw:${layer}`;
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
    studentConnector: (layer, teacherOutput) => {
      const key = studentKey(layer, term, 'connector');
      student.find((r) => r.key === key)!.connectorOf = teacherOutput;
      return key;
    },
    teacher: (layer) => teacherKey(layer, term),
    teacherAttention: (layer, p) => teacherKey(layer, term, p),
    studentEmbedding: (layer, dim) => {
      const key = `embed:${term}:student:${layer}`;
      student.push({ key, layer, term, embedding: { dim } });
      return key;
    },
    teacherEmbedding: (teacherOutput, dim) => {
      const key = `embed:${term}:teacher:${teacherOutput}`;
      student.push({ key, layer: teacherOutput, term, embedding: { dim, teacher: true } });
      return key;
    },
    state: (create) => states.register(term, create),
  });
  const states = new TermStates();
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

  const annealed: Array<[string, { temperature: number; finalTemperature?: number }]> = [];
  terms.forEach((term, i) => {
    const definition = termDefinition(term);
    usesTeacher ||= definition.usesTeacher;
    const names = definition.parts.map(nameOf);
    termNames.push(...names);
    // A term with a temperature schedule reports its current T (temperatureAt) under its name.
    if ('finalTemperature' in term && term.finalTemperature !== undefined) annealed.push([names[0], term]);
    parts.push({ names, loss: definition.compile(term, readsOf(i)) });
  });
  if (extension) {
    usesTeacher ||= extension.usesTeacher ?? false;
    termNames.push(...extension.parts);
    parts.push({ names: extension.parts, loss: extension.loss });
  }

  // Only the named terms, `total` their weighted sum (undefined: all of them).
  const lossOf =
    (only?: (name: string) => boolean): ObjectiveLoss =>
    (s, t, y, at) => {
      // Unlabeled rows (label -1, a transfer set's) do not count in the hard-label term.
      const hard = tf.tidy(() => {
        const rows = labeledRows(y);
        return labelSmoothing > 0
          ? labelSmoothedCrossEntropy(s.logits, rows.labels, labelSmoothing, rows.weights)
          : crossEntropy(s.logits, rows.labels, rows.weights);
      });
      const out: Record<string, tf.Scalar> = {};
      const weighted: Array<[tf.Scalar, number]> = [];
      const add = (name: string, value: tf.Scalar, weight: number) => {
        if (only && !only(name)) return;
        out[name] = value;
        weighted.push([value, weight]);
      };
      add('hard', hard, hardWeight);
      for (const part of parts)
        part.loss(s, t, y, at).forEach(([value, weight], j) => add(part.names[j], value, weight));
      // Labels alone: the total is the hard term itself. Otherwise the weighted sum, keeping no intermediates.
      const total =
        weighted.length === 1 && weighted[0][0] === hard && hardWeight === 1
          ? hard
          : tf.tidy(() => tf.addN(weighted.map(([v, w]) => tf.mul(v, w))) as tf.Scalar);
      return { ...out, total } as LossTerms;
    };
  const own = extension?.ownUpdate;
  const companionPart = (name: string) => own!.parts.includes(name);
  const updates: UpdateStep[] | undefined = own && [
    { trains: 'student', loss: lossOf((name) => !companionPart(name)) },
    { trains: { companion: own.companion }, loss: lossOf(companionPart) },
  ];
  return {
    usesTeacher,
    distills: parts.length > 0,
    student,
    teacher,
    termNames,
    loss: lossOf(),
    ...(extension ? {} : { canonical: { hardWeight, labelSmoothing, terms } }),
    ...(updates ? { updates } : {}),
    ...(annealed.length
      ? { temperatures: (at) => Object.fromEntries(annealed.map(([name, term]) => [name, temperatureAt(term, at)])) }
      : {}),
    ...(states.any ? { phaseState: (rows: PhaseRows) => states.begin(rows) } : {}),
  };
}
