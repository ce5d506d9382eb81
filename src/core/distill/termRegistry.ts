/**
 * Every loss term of `distill.terms`, defined once: what it reads (the teacher at all, the
 * teacher's logits only, which student and teacher outputs), the parts it logs, and its loss.
 * `TERMS` is checked against the schema's union: a term type without a definition here is a
 * compile error, and messages that list terms are computed from it.
 *
 * The tensor maths is in terms.ts (pure functions, checked against PyTorch); this file only says
 * how a config entry turns into calls of them.
 */
import * as tf from '@tensorflow/tfjs';
import type { LossTermSpec } from '../config/schema.ts';
import { labeledRows } from './labeledRows.ts';
import type { StudentBatch, TeacherBatch, TrainingProgress } from './objective.ts';
import { CrdMemory } from './crdMemory.ts';
import type { PhaseRows, TermPhaseState } from './termState.ts';
import {
  activationBoundaryLoss,
  attentionMap,
  dkdParts,
  hintLoss,
  kdDivergence,
  rkdAngleLoss,
  rkdDistanceLoss,
  teacherFreeLoss,
} from './terms.ts';

export type TermType = LossTermSpec['type'];
export type TermSpec<K extends TermType> = Extract<LossTermSpec, { type: K }>;

/** The request key of the logits (student or teacher): they are always computed. */
export const LOGITS = 'logits';

/**
 * How a term asks for the outputs it reads. Each call registers a request (once per key) and
 * returns the key under which the batch holds it (`pick`).
 */
export interface TermReads {
  /** A student layer's output as it is (`logits`: the logits themselves). */
  student(layer: string): string;
  /** A student layer's output, projected to the shape of the teacher output `teacherKey` when they differ (a FitNets hint). */
  studentHint(layer: string, teacherKey: string): string;
  /** A student conv layer whose attention map is compared with the teacher's map `teacherKey`. */
  studentAttention(layer: string, teacherKey: string): string;
  /** A student layer's output through a learned connector to the shape of the teacher output `teacherKey` (activation boundaries). */
  studentConnector(layer: string, teacherKey: string): string;
  /** A teacher layer's (or ONNX value's) output as it is (`logits`: the logits). */
  teacher(layer: string): string;
  /** The attention map of a teacher conv layer (computed once per run, not per batch). */
  teacherAttention(layer: string, p: number): string;
  /** A learned linear embedding of width `dim` of a student layer's (flattened) output (CRD's student head). */
  studentEmbedding(layer: string, dim: number): string;
  /** A learned linear embedding of the teacher output `teacherKey`, trained with the student (CRD's teacher head). */
  teacherEmbedding(teacherKey: string, dim: number): string;
  /** State the term keeps across a phase's steps (termState.ts); the accessor returns the current phase's. */
  state<S extends TermPhaseState>(create: (rows: PhaseRows) => S): () => S;
}

/**
 * A term's loss on a batch: one [unweighted value, weight] per entry of its `parts`, in that order.
 * `labels` holds -1 for unlabeled rows (a transfer set's): a term that reads labels takes the mean
 * over the labeled rows (labeledRows.ts); soft-target terms use every row.
 */
export type TermLoss = (
  student: StudentBatch,
  teacher: TeacherBatch | undefined,
  labels: tf.Tensor1D,
  at: TrainingProgress,
) => Array<[tf.Scalar, number]>;

export interface TermDefinition<K extends TermType> {
  /** Whether it reads the teacher at all (teacher_free does not: it runs without one). */
  usesTeacher: boolean;
  /**
   * Whether it reads nothing of the teacher but its logits, which is all an ensemble of models
   * gives: always (true), never (false), or only under the condition named (for messages).
   */
  logitsOnly: boolean | string;
  /** The names it logs (a repeated term gets _2, _3), one per value its loss returns. */
  parts: readonly string[];
  /** Registers the outputs the term reads and returns its loss. */
  compile(spec: TermSpec<K>, reads: TermReads): TermLoss;
}

/** A batch's output by request key. */
export const pick = (b: StudentBatch | TeacherBatch, key: string): tf.Tensor =>
  key === LOGITS ? b.logits : b.outputs.get(key)!;

/** T for this step: constant, or linear from `temperature` to `finalTemperature` over the phase. */
export function temperatureAt(term: { temperature: number; finalTemperature?: number }, at: TrainingProgress): number {
  if (term.finalTemperature === undefined) return term.temperature;
  return term.temperature + (term.finalTemperature - term.temperature) * at.fraction;
}

/** Flattens [n, ...] to [n, d]: RKD embeddings and cosine hints compare whole examples. */
const flat2d = (t: tf.Tensor): tf.Tensor2D => (t.rank === 2 ? (t as tf.Tensor2D) : t.reshape([t.shape[0], -1]));

/** The fewest rows of a batch on which the RKD parts are defined: a pair for distances, a triplet for angles. */
export const RKD_MIN_ROWS = { distance: 2, angle: 3 } as const;

/** A part skipped on this batch: 0, with a zero gradient that still reaches the student (so the step's gradient exists). */
const skipped = (studentSide: tf.Tensor): tf.Scalar => tf.add(tf.mul(tf.sum(studentSide), 0), 0) as tf.Scalar; // + 0: not -0

export const TERMS = {
  kd: {
    usesTeacher: true,
    logitsOnly: true,
    parts: ['kd'],
    compile: (term) => (s, t, _y, at) => [
      [kdDivergence(s.logits, t!.logits, temperatureAt(term, at), term.divergence), term.weight],
    ],
  },
  hint: {
    usesTeacher: true,
    logitsOnly: false,
    parts: ['hint'],
    compile: (term, reads) => {
      const tk = reads.teacher(term.teacher);
      const sk = reads.studentHint(term.student, tk);
      return (s, t) => [[hintLoss(pick(s, sk), pick(t!, tk), term.distance), term.weight]];
    },
  },
  attention: {
    usesTeacher: true,
    logitsOnly: false,
    parts: ['attention'],
    compile: (term, reads) => {
      const keys = term.pairs.map((pair) => {
        const tk = reads.teacherAttention(pair.teacher, term.p);
        return [reads.studentAttention(pair.student, tk), tk] as const;
      });
      // The teacher's maps are computed once per run; at_loss(s, t) = mean((at(s) - at(t))²), summed over pairs.
      return (s, t) => [
        [
          tf.addN(
            keys.map(([sk, tk]) =>
              tf.mean(tf.squaredDifference(attentionMap(pick(s, sk) as tf.Tensor4D, term.p), pick(t!, tk))),
            ),
          ) as tf.Scalar,
          term.weight,
        ],
      ];
    },
  },
  rkd: {
    usesTeacher: true,
    logitsOnly: 'on logits',
    parts: ['rkd_distance', 'rkd_angle'],
    compile: (term, reads) => {
      const sk = reads.student(term.student);
      const tk = reads.teacher(term.teacher);
      return (s, t) => {
        const [se, te] = [flat2d(pick(s, sk)), flat2d(pick(t!, tk))];
        // A distance needs a pair of examples, an angle a triplet: on a smaller batch (the last
        // one of an epoch, without data.dropLast) the part is 0, where the formula gives 0/0.
        const n = se.shape[0];
        return [
          [n >= RKD_MIN_ROWS.distance ? rkdDistanceLoss(se, te) : skipped(se), term.distanceWeight],
          [n >= RKD_MIN_ROWS.angle ? rkdAngleLoss(se, te) : skipped(se), term.angleWeight],
        ];
      };
    },
  },
  dkd: {
    usesTeacher: true,
    logitsOnly: true,
    parts: ['dkd_target', 'dkd_nontarget'],
    compile: (term) => (s, t, y, at) => {
      // The target class is the label's: unlabeled rows have none, so both parts skip them.
      const { target, nonTarget } = tf.tidy(() => {
        const rows = labeledRows(y);
        return dkdParts(s.logits, t!.logits, rows.labels, term.temperature, rows.weights);
      });
      // mdistiller's warm-up: min(epoch / warmup, 1) on the whole DKD loss.
      const ramp = term.warmupEpochs > 0 ? Math.min(at.epoch / term.warmupEpochs, 1) : 1;
      return [
        [target, term.alpha * ramp],
        [nonTarget, term.beta * ramp],
      ];
    },
  },
  teacher_free: {
    usesTeacher: false,
    logitsOnly: false,
    parts: ['teacher_free'],
    compile: (term) => (s, _t, y) => {
      // The virtual teacher is built from the label: unlabeled rows have none.
      const value = tf.tidy(() => {
        const rows = labeledRows(y);
        return teacherFreeLoss(s.logits, rows.labels, term.temperature, term.correctProbability, rows.weights);
      });
      return [[value, term.weight]];
    },
  },
  activation_boundary: {
    usesTeacher: true,
    logitsOnly: false,
    parts: ['activation_boundary'],
    compile: (term, reads) => {
      const tk = reads.teacher(term.teacher);
      const sk = reads.studentConnector(term.student, tk);
      return (s, t) => [[activationBoundaryLoss(pick(s, sk), pick(t!, tk), term.margin), term.weight]];
    },
  },
  crd: {
    usesTeacher: true,
    logitsOnly: 'on logits',
    parts: ['crd'],
    compile: (term, reads) => {
      // Both embedding heads are layers of the training model (the teacher's fed the teacher's
      // output); the memory bank is the phase's state, stepped with each batch's rows.
      const tk = reads.teacher(term.teacher);
      const sk = reads.studentEmbedding(term.student, term.featureDim);
      const tek = reads.teacherEmbedding(tk, term.featureDim);
      const memory = reads.state((rows) => new CrdMemory(term, rows));
      return (s) => [[memory().loss(pick(s, sk), pick(s, tek)), term.weight]];
    },
  },
} satisfies { [K in TermType]: TermDefinition<K> };

const registry: { [K in TermType]: TermDefinition<K> } = TERMS;

/** The definition of a term of the config. */
export function termDefinition<K extends TermType>(spec: LossTermSpec & { type: K }): TermDefinition<K> {
  return registry[spec.type];
}

const TYPES = Object.keys(TERMS) as TermType[];

/** "a, b or c". */
const orList = (items: string[]) =>
  items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;

/** The terms that read a teacher, for messages: "kd, hint, attention, rkd or dkd". */
export function teacherTermsText(): string {
  return orList(TYPES.filter((k) => registry[k].usesTeacher));
}

/** The terms that can learn from logits alone, for messages: "kd, dkd, rkd on logits". */
export function logitTermsText(): string {
  const always = TYPES.filter((k) => registry[k].usesTeacher && registry[k].logitsOnly === true);
  const sometimes = TYPES.flatMap((k) =>
    registry[k].usesTeacher && typeof registry[k].logitsOnly === 'string' ? [`${k} ${registry[k].logitsOnly}`] : [],
  );
  return [...always, ...sometimes].join(', ');
}
