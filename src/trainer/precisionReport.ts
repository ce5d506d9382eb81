/** What `distill export --precision` prints: the file, its size and its measured test accuracy against fp32. */
import type { PrecisionExportReport } from '../core/run/precisionExport.ts';
import { formatBytes } from './report.ts';

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

export function formatPrecisionExport(r: PrecisionExportReport): string {
  const points = (r.accuracyDelta * 100).toFixed(2);
  return [
    `wrote ${r.file} (${formatBytes(r.bytes)}, ${(r.bytes / r.fp32Bytes).toFixed(3)}x the fp32 export's ${formatBytes(r.fp32Bytes)})`,
    `test accuracy in onnxruntime over ${r.testExamples} examples: ${r.precision} ${pct(r.testAccuracy)}, fp32 ${pct(r.fp32TestAccuracy)} (delta ${r.accuracyDelta >= 0 ? '+' : ''}${points} points)`,
    `${r.precision} predicts the fp32 export's class on ${pct(r.agreement)} of them; logits differ by at most ${r.maxAbsLogitDiff.toExponential(2)}`,
    ...(r.calibrationExamples !== undefined
      ? [`activation ranges calibrated (min-max) on ${r.calibrationExamples} training examples`]
      : []),
  ].join('\n');
}
