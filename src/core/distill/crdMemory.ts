/**
 * CRD's memory bank for one phase (RepDistiller crd/memory.py `ContrastMemory`): one unit-length
 * embedding per training row for the student and one for the teacher, initialised uniform in
 * ±1/sqrt(featureDim / 3), updated after each step with momentum from the batch's embeddings,
 * plus the two normalisation constants Z fixed on the first batch. Each step's contrast rows (the
 * positive, then K negatives) are drawn on the host from (seed, phase, epoch, step), so a resumed
 * phase draws the same ones; the memory and Z are checkpointed.
 *
 * Memory: 2 · rows · featureDim floats (the demo job's 2,000 rows at 128: 2 MB); per step it
 * gathers 2 · batch · (K + 1) · featureDim floats (batch 128, K 655: 86 MB) and keeps them for
 * the gradient.
 */
import * as tf from '@tensorflow/tfjs';
import type { LossTermSpec } from '../config/schema.ts';
import { mixSeed, mulberry32 } from '../random.ts';
import { matchByName, type NamedArray } from '../train/checkpoint.ts';
import { crdLoss, crdMemoryUpdate, crdNormalize } from './terms.ts';
import type { PhaseRows, TermPhaseState } from './termState.ts';

type CrdSpec = Extract<LossTermSpec, { type: 'crd' }>;

/**
 * The paper's 16,384 negatives were drawn from CIFAR-100's 50,000 training images; without
 * `negatives` a run draws the same fraction (32.8 %) of its own training rows, at most 16,384.
 */
export function defaultNegatives(rows: number): number {
  return Math.max(1, Math.min(16384, Math.round((rows * 16384) / 50000)));
}

export class CrdMemory implements TermPhaseState {
  readonly negatives: number;
  private studentMemory: tf.Tensor2D;
  private teacherMemory: tf.Tensor2D;
  /** [zStudent, zTeacher] once the first batch set them. */
  private z: [tf.Scalar, tf.Scalar] | undefined;
  private step: { rows: tf.Tensor1D; contrast: tf.Tensor2D } | undefined;
  private pending: { student: tf.Tensor2D; teacher: tf.Tensor2D } | undefined;
  /** Per class, the rows of every other class (the authors' `exact` sampling); undefined for `uniform`. */
  private readonly others: Int32Array[] | undefined;

  constructor(
    private readonly spec: CrdSpec,
    private readonly rows: PhaseRows,
  ) {
    const { n } = rows;
    this.negatives = spec.negatives ?? defaultNegatives(n);
    const dim = spec.featureDim;
    const stdv = 1 / Math.sqrt(dim / 3);
    const random = mulberry32(mixSeed(rows.seed, rows.phase, 'crd-memory'));
    const init = () => {
      const data = new Float32Array(n * dim);
      for (let i = 0; i < data.length; i++) data[i] = random() * 2 * stdv - stdv;
      return tf.tensor2d(data, [n, dim]);
    };
    this.studentMemory = init();
    this.teacherMemory = init();
    if (spec.sampling === 'other_classes') {
      const classes = Math.max(0, ...rows.labels) + 1;
      this.others = Array.from({ length: classes }, (_, c) => {
        const list: number[] = [];
        rows.labels.forEach((label, i) => {
          if (label !== c) list.push(i);
        });
        return Int32Array.from(list);
      });
    }
  }

  beforeStep(batchRows: Int32Array, epoch: number, step: number): void {
    this.disposeStep();
    const k = this.negatives;
    const random = mulberry32(mixSeed(this.rows.seed, this.rows.phase, 'crd', epoch, step));
    const contrast = new Int32Array(batchRows.length * (k + 1));
    batchRows.forEach((row, b) => {
      contrast[b * (k + 1)] = row;
      // A labeled row's negatives come from the other classes; an unlabeled row's (or a class
      // alone in the data) from all rows, as the memory's own uniform draw.
      const label = this.rows.labels[row];
      const pool = label >= 0 && this.others?.[label]?.length ? this.others[label] : undefined;
      for (let j = 1; j <= k; j++)
        contrast[b * (k + 1) + j] = pool
          ? pool[Math.floor(random() * pool.length)]
          : Math.floor(random() * this.rows.n);
    });
    this.setStep(batchRows, contrast);
  }

  /** Starts a step on `batchRows` with the given contrast rows ([rows, K + 1], row-major; the positive first). */
  setStep(batchRows: Int32Array, contrast: Int32Array): void {
    this.disposeStep();
    const width = contrast.length / batchRows.length;
    this.step = {
      rows: tf.tensor1d(batchRows, 'int32'),
      contrast: tf.tensor2d(contrast, [batchRows.length, width], 'int32'),
    };
  }

  /** The loss of the batch from the raw (linear) embeddings of the student and the teacher heads. */
  loss(studentEmbedding: tf.Tensor, teacherEmbedding: tf.Tensor): tf.Scalar {
    if (!this.step) throw new Error('CRD: no contrast rows drawn for this step');
    const student = crdNormalize(studentEmbedding as tf.Tensor2D);
    const teacher = crdNormalize(teacherEmbedding as tf.Tensor2D);
    const out = crdLoss({
      student,
      teacher,
      studentMemory: this.studentMemory,
      teacherMemory: this.teacherMemory,
      contrastRows: this.step.contrast,
      temperature: this.spec.temperature,
      nData: this.rows.n,
      zStudent: this.z?.[0],
      zTeacher: this.z?.[1],
    });
    if (!this.z) this.z = [tf.keep(out.zStudent), tf.keep(out.zTeacher)];
    // The memory takes this forward pass's embeddings after the step (the last pass, with several updates).
    tf.dispose(this.pending ? [this.pending.student, this.pending.teacher] : []);
    this.pending = { student: tf.keep(student.clone()), teacher: tf.keep(teacher.clone()) };
    return out.loss;
  }

  afterStep(): void {
    if (this.step && this.pending) {
      const { rows } = this.step;
      const { student, teacher } = this.pending;
      const momentum = this.spec.momentum;
      const [studentMemory, teacherMemory] = tf.tidy(() => {
        const index = tf.expandDims(rows, 1) as tf.Tensor2D;
        const update = (memory: tf.Tensor2D, embedding: tf.Tensor2D) =>
          tf.tensorScatterUpdate(memory, index, crdMemoryUpdate(tf.gather(memory, rows), embedding, momentum));
        return [update(this.studentMemory, student), update(this.teacherMemory, teacher)] as tf.Tensor2D[];
      });
      tf.dispose([this.studentMemory, this.teacherMemory]);
      this.studentMemory = studentMemory;
      this.teacherMemory = teacherMemory;
    }
    this.disposeStep();
  }

  async arrays(): Promise<NamedArray[]> {
    const [student, teacher] = [
      (await this.studentMemory.data()) as Float32Array,
      (await this.teacherMemory.data()) as Float32Array,
    ];
    const z = this.z
      ? Float32Array.from([(await this.z[0].data())[0], (await this.z[1].data())[0]])
      : Float32Array.of(-1, -1);
    const shape = this.studentMemory.shape;
    return [
      { name: 'student_memory', shape, data: student },
      { name: 'teacher_memory', shape, data: teacher },
      // -1: not set yet (the first step sets them), as the reference's params.
      { name: 'z', shape: [2], data: z },
    ];
  }

  restore(arrays: NamedArray[]): void {
    const shape = this.studentMemory.shape;
    const expected = [
      { name: 'student_memory', shape },
      { name: 'teacher_memory', shape },
      { name: 'z', shape: [2] },
    ];
    // A MismatchError naming what differs (another run's rows, another featureDim).
    const [student, teacher, z] = matchByName(arrays, expected, 'CRD memory bank arrays');
    tf.dispose([this.studentMemory, this.teacherMemory, ...(this.z ?? [])]);
    this.studentMemory = tf.tensor2d(student.data, shape);
    this.teacherMemory = tf.tensor2d(teacher.data, shape);
    this.z = z.data[0] < 0 ? undefined : [tf.scalar(z.data[0]), tf.scalar(z.data[1])];
  }

  private disposeStep(): void {
    tf.dispose([
      ...(this.step ? [this.step.rows, this.step.contrast] : []),
      ...(this.pending ? [this.pending.student, this.pending.teacher] : []),
    ]);
    this.step = undefined;
    this.pending = undefined;
  }

  dispose(): void {
    this.disposeStep();
    tf.dispose([this.studentMemory, this.teacherMemory, ...(this.z ?? [])]);
  }
}
