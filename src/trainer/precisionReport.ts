/** What `distill export --precision` prints: the file, its size and its measured test accuracy against fp32. */
import type { Precision } from '../core/export/precision.ts';
import type { BenchReport } from '../core/run/deliverables.ts';
import type { PrecisionExportReport } from '../core/run/precisionExport.ts';
import type { LatencyResult } from '../protocol/events.ts';
import type { PrecisionExport } from '../protocol/run.ts';
import { formatBytes, table } from './report.ts';

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

/** One model's precisions side by side: file size, test accuracy against fp32 (measured at export) and latency per runtime. */
export function formatPrecisionBench(
  model: 'teacher' | 'student',
  latency: LatencyResult[],
  fp32Bytes: number | undefined,
  files: BenchReport['precisionFiles'],
  exports: PrecisionExport[],
): string {
  const mine = files.filter((f) => f.model === model);
  if (mine.length === 0) return '';
  const rows = latency.filter((l) => l.model === model && l.runtime.startsWith('onnxruntime'));
  const runtimes = [...new Set(rows.map((l) => l.runtime))];
  const batches = [...new Set(rows.map((l) => l.batch))].sort((a, b) => a - b);
  const fp32Accuracy = exports.find((e) => e.model === model && e.fp32TestAccuracy !== undefined)?.fp32TestAccuracy;
  const head = [
    'precision',
    'ONNX file',
    'test accuracy',
    'vs fp32',
    ...runtimes.map((rt) => `${rt} p50 ms (batch ${batches.join(' / ')})`),
  ];
  const line = (precision: Precision, bytes: number | undefined) => {
    const measured = exports.find((e) => e.model === model && e.precision === precision);
    const accuracy = precision === 'fp32' ? fp32Accuracy : measured?.testAccuracy;
    const delta =
      precision !== 'fp32' && accuracy !== undefined && measured?.fp32TestAccuracy !== undefined
        ? `${accuracy >= measured.fp32TestAccuracy ? '+' : ''}${((accuracy - measured.fp32TestAccuracy) * 100).toFixed(2)} points`
        : '-';
    const at = (rt: string) =>
      batches
        .map((b) => {
          const l = rows.find((x) => x.runtime === rt && x.batch === b && (x.precision ?? 'fp32') === precision);
          return l ? latencyMs(l.p50Ms) : '-';
        })
        .join(' / ');
    return [
      precision,
      bytes !== undefined ? formatBytes(bytes) : '-',
      accuracy !== undefined ? pct(accuracy) : '-',
      delta,
      ...runtimes.map(at),
    ];
  };
  return [
    `${model} at each precision (test accuracy: onnxruntime over the test split, measured when exported):`,
    table([head, line('fp32', fp32Bytes), ...mine.map((f) => line(f.precision, f.bytes))]),
  ].join('\n');
}

const latencyMs = (v: number) => (v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1));
