/**
 * The training objective of a student: the config's `distill` section compiled into one loss
 * function (a weighted sum of terms, each logged on its own) and the list of intermediate
 * outputs it needs from the student and the teacher.
 */
import * as tf from '@tensorflow/tfjs';
import type { DistillSpec, LossTermSpec } from '../config/schema.ts';
import { attentionMap, crossEntropy, dkdParts, hintLoss, kdDivergence, labelSmoothedCrossEntropy, rkdAngleLoss, rkdDistanceLoss, teacherFreeLoss } from './terms.ts';

/** The `distill` section in one form: `kd` and `none` are shorthands of it. */
export interface CanonicalObjective {
  hardWeight: number;
  labelSmoothing: number;
  terms: LossTermSpec[];
}

export function canonicalObjective(spec: DistillSpec): CanonicalObjective {
  if (spec.method === 'combined') return { hardWeight: spec.hardWeight, labelSmoothing: spec.labelSmoothing, terms: spec.terms };
  if (spec.method === 'none') return { hardWeight: 1, labelSmoothing: spec.labelSmoothing, terms: [] };
  const kd: LossTermSpec = { type: 'kd', weight: 1 - spec.alpha, temperature: spec.temperature, finalTemperature: spec.finalTemperature, divergence: spec.divergence };
  return { hardWeight: spec.alpha, labelSmoothing: 0, terms: [kd] };
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

export type ObjectiveLoss = (student: StudentBatch, teacher: TeacherBatch | undefined, labels: tf.Tensor1D, at: TrainingProgress) => LossTerms;

export interface Objective {
  /** Whether any term reads the teacher (teacher_free and label smoothing do not). */
  usesTeacher: boolean;
  student: StudentOutputRequest[];
  teacher: TeacherOutputRequest[];
  /** Names of the logged terms, in order (without `total`). */
  termNames: string[];
  loss: ObjectiveLoss;
}

const LOGITS = 'logits';

/** T for this step: constant, or linear from `temperature` to `finalTemperature` over the phase. */
export function temperatureAt(term: { temperature: number; finalTemperature?: number }, at: TrainingProgress): number {
  if (term.finalTemperature === undefined) return term.temperature;
  return term.temperature + (term.finalTemperature - term.temperature) * at.fraction;
}

/** Flattens [n, ...] to [n, d]: RKD embeddings and cosine hints compare whole examples. */
const flat2d = (t: tf.Tensor): tf.Tensor2D => (t.rank === 2 ? (t as tf.Tensor2D) : t.reshape([t.shape[0], -1]));

/** Deep mutual learning: a peer model trained beside the student, each learning from the other. */
export interface MutualLearning {
  weight: number;
}

/** The request key of the peer's logits in the training model's outputs. */
export const PEER_LOGITS = 'peer:logits';

export function compileObjective(spec: DistillSpec, mutual?: MutualLearning): Objective {
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
  // Names in the logs: the term's type, with _2, _3 for repeats.
  const used = new Map<string, number>();
  const nameOf = (base: string) => {
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return n === 1 ? base : `${base}_${n}`;
  };
  type Part = (s: StudentBatch, t: TeacherBatch | undefined, y: tf.Tensor1D, at: TrainingProgress) => Array<[string, tf.Scalar, number]>;
  const parts: Part[] = [];
  const termNames: string[] = ['hard'];
  let usesTeacher = false;
  const pick = (b: StudentBatch | TeacherBatch, key: string) => (key === LOGITS ? b.logits : b.outputs.get(key)!);

  terms.forEach((term, i) => {
    switch (term.type) {
      case 'kd': {
        usesTeacher = true;
        const name = nameOf('kd');
        termNames.push(name);
        parts.push((s, t, _y, at) => [[name, kdDivergence(s.logits, t!.logits, temperatureAt(term, at), term.divergence), term.weight]]);
        break;
      }
      case 'hint': {
        usesTeacher = true;
        const name = nameOf('hint');
        termNames.push(name);
        const sk = studentKey(term.student, i, true);
        const tk = teacherKey(term.teacher, i);
        student.find((r) => r.key === sk)!.hintOf = tk;
        parts.push((s, t) => [[name, hintLoss(pick(s, sk), pick(t!, tk), term.distance), term.weight]]);
        break;
      }
      case 'attention': {
        usesTeacher = true;
        const name = nameOf('attention');
        termNames.push(name);
        const keys = term.pairs.map((pair) => {
          const sk = studentKey(pair.student, i, false);
          const tk = teacherKey(pair.teacher, i, term.p);
          const request = student.find((r) => r.key === sk);
          if (request) request.attentionOf = tk;
          return [sk, tk] as const;
        });
        parts.push((s, t) => {
          // The teacher's maps are computed once per run; at_loss(s, t) = mean((at(s) - at(t))²).
          const value = tf.addN(keys.map(([sk, tk]) => tf.mean(tf.squaredDifference(attentionMap(pick(s, sk) as tf.Tensor4D, term.p), pick(t!, tk)))));
          return [[name, value as tf.Scalar, term.weight]];
        });
        break;
      }
      case 'rkd': {
        usesTeacher = true;
        const [dName, aName] = [nameOf('rkd_distance'), nameOf('rkd_angle')];
        termNames.push(dName, aName);
        const sk = studentKey(term.student, i, false);
        const tk = teacherKey(term.teacher, i);
        parts.push((s, t) => {
          const [se, te] = [flat2d(pick(s, sk)), flat2d(pick(t!, tk))];
          return [[dName, rkdDistanceLoss(se, te), term.distanceWeight], [aName, rkdAngleLoss(se, te), term.angleWeight]];
        });
        break;
      }
      case 'dkd': {
        usesTeacher = true;
        const [tName, nName] = [nameOf('dkd_target'), nameOf('dkd_nontarget')];
        termNames.push(tName, nName);
        parts.push((s, t, y, at) => {
          const { target, nonTarget } = dkdParts(s.logits, t!.logits, y, term.temperature);
          // mdistiller's warm-up: min(epoch / warmup, 1) on the whole DKD loss.
          const ramp = term.warmupEpochs > 0 ? Math.min(at.epoch / term.warmupEpochs, 1) : 1;
          return [[tName, target, term.alpha * ramp], [nName, nonTarget, term.beta * ramp]];
        });
        break;
      }
      case 'teacher_free': {
        const name = nameOf('teacher_free');
        termNames.push(name);
        parts.push((s, _t, y) => [[name, teacherFreeLoss(s.logits, y, term.temperature, term.correctProbability), term.weight]]);
        break;
      }
    }
  });

  if (mutual) {
    termNames.push('peer_hard', 'mutual', 'peer_mutual');
    // Each model's KL to the other is taken with the other as a constant (kdDivergence does not
    // differentiate its teacher side), so one summed loss updates both as the paper's two steps do.
    parts.push((s, _t, y) => {
      const peer = s.outputs.get(PEER_LOGITS) as tf.Tensor2D;
      return [
        ['peer_hard', crossEntropy(peer, y), 1],
        ['mutual', kdDivergence(s.logits, peer, 1, 'forward'), mutual.weight],
        ['peer_mutual', kdDivergence(peer, s.logits, 1, 'forward'), mutual.weight],
      ];
    });
  }

  const loss: ObjectiveLoss = (s, t, y, at) => {
    const hard = labelSmoothing > 0 ? labelSmoothedCrossEntropy(s.logits, y, labelSmoothing) : crossEntropy(s.logits, y);
    const out: Record<string, tf.Scalar> = { hard };
    const weighted: Array<[tf.Scalar, number]> = [[hard, hardWeight]];
    for (const part of parts)
      for (const [name, value, weight] of part(s, t, y, at)) {
        out[name] = value;
        weighted.push([value, weight]);
      }
    // Labels alone: the total is the hard term itself. Otherwise the weighted sum, keeping no intermediates.
    const total = weighted.length === 1 && hardWeight === 1 ? hard : tf.tidy(() => tf.addN(weighted.map(([v, w]) => tf.mul(v, w))) as tf.Scalar);
    return { ...out, total } as LossTerms;
  };
  return { usesTeacher, student, teacher, termNames, loss };
}
