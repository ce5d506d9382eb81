/**
 * A reduced-precision ONNX export of a run's model, measured, not estimated: the fp32 export and the
 * variant both run in onnxruntime over the run's test split, and their accuracies are compared.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { ArtifactKind, RunEventInput } from '../../protocol/events.ts';
import type { Dataset, Split } from '../data/dataset.ts';
import { argmax, runOnnxOnSplit } from '../export/evaluate.ts';
import { ExportError } from '../export/onnx.ts';
import { toFp16Weights, type Precision } from '../export/precision.ts';
import { toInt8Qdq } from '../export/quantize.ts';
import { writeFileAtomic } from '../fsutil.ts';
import { checkedOnnx, ExportCheckError, type RunModel } from './deliverables.ts';

export interface PrecisionExportReport {
  precision: Precision;
  file: string;
  bytes: number;
  fp32Bytes: number;
  /** Test accuracy of the variant and of the fp32 export, both run in onnxruntime (CPU). */
  testAccuracy: number;
  fp32TestAccuracy: number;
  /** testAccuracy - fp32TestAccuracy. */
  accuracyDelta: number;
  /** Fraction of test examples whose predicted class is the fp32 export's. */
  agreement: number;
  /** Max |variant - fp32| over the test logits. */
  maxAbsLogitDiff: number;
  testExamples: number;
  /** Max |fp32 ONNX - tfjs| of the fp32 export the variant was made from. */
  fp32MaxAbsDiff: number;
  /** int8: the training examples its activation ranges were calibrated on. */
  calibrationExamples?: number;
}

/** Training examples the int8 activation ranges are measured on (the split is in seeded shuffled order). */
export const CALIBRATION_EXAMPLES = 512;

function firstExamples(split: Split, n: number, inputShape: number[]): Split {
  const m = Math.min(n, split.n);
  const dim = inputShape.reduce((a, b) => a * b, 1);
  return { x: split.x.subarray(0, m * dim), y: split.y.subarray(0, m), n: m };
}

/** The run's splits a precision export needs: test to measure on, train to calibrate on. */
export type PrecisionData = Pick<Dataset, 'train' | 'test' | 'inputShape'>;

/** Exports `model` at `precision` to `file` (atomically), measured against its fp32 export on the test split. */
export async function exportOnnxAtPrecision(
  model: tf.LayersModel,
  data: PrecisionData,
  file: string,
  name: string,
  precision: Precision,
): Promise<PrecisionExportReport> {
  const { onnxBytes: fp32, maxAbsDiff: fp32MaxAbsDiff } = await checkedOnnx(model, name);
  const variant =
    precision === 'int8'
      ? await toInt8Qdq(fp32, firstExamples(data.train, CALIBRATION_EXAMPLES, data.inputShape), data.inputShape)
      : precision === 'fp16'
        ? toFp16Weights(fp32)
        : fp32;
  const reference = await runOnnxOnSplit(fp32, data.test, data.inputShape);
  const measured = variant === fp32 ? reference : await runOnnxOnSplit(variant, data.test, data.inputShape);
  let agree = 0;
  let maxAbsLogitDiff = 0;
  const k = reference.classes;
  for (let i = 0; i < reference.n; i++) {
    const a = reference.logits.subarray(i * k, (i + 1) * k);
    const b = measured.logits.subarray(i * k, (i + 1) * k);
    if (argmax(a) === argmax(b)) agree++;
    for (let j = 0; j < k; j++) maxAbsLogitDiff = Math.max(maxAbsLogitDiff, Math.abs(a[j] - b[j]));
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, variant);
  return {
    precision,
    file,
    bytes: variant.length,
    fp32Bytes: fp32.length,
    testAccuracy: measured.accuracy,
    fp32TestAccuracy: reference.accuracy,
    accuracyDelta: measured.accuracy - reference.accuracy,
    agreement: reference.n > 0 ? agree / reference.n : 1,
    maxAbsLogitDiff,
    testExamples: reference.n,
    fp32MaxAbsDiff,
    ...(precision === 'int8' ? { calibrationExamples: Math.min(CALIBRATION_EXAMPLES, data.train.n) } : {}),
  };
}

/** `export.precisions` at the end of a run: artifacts/<model>.<precision>.onnx, each an artifact event. */
export async function exportRunPrecisions(
  runDir: string,
  precisions: readonly Precision[],
  which: RunModel,
  model: tf.LayersModel,
  data: PrecisionData,
  emit: (e: RunEventInput) => void,
): Promise<void> {
  for (const precision of precisions) {
    if (precision === 'fp32') continue; // that is export.onnx
    const file = path.join(runDir, 'artifacts', `${which}.${precision}.onnx`);
    try {
      const r = await exportOnnxAtPrecision(model, data, file, which, precision);
      emit({
        type: 'artifact',
        kind: `${which}-onnx-${precision}` as ArtifactKind,
        path: file,
        bytes: r.bytes,
        precision,
        testAccuracy: r.testAccuracy,
        fp32TestAccuracy: r.fp32TestAccuracy,
      });
    } catch (err) {
      if (!(err instanceof ExportError || err instanceof ExportCheckError)) throw err;
      emit({ type: 'warning', message: `no ${precision} ONNX export of the ${which}: ${err.message}` });
    }
  }
}
