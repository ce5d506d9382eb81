/**
 * The precisions side by side: the fold keeps each precision's latency and export apart (a fp16
 * row never replaces the fp32 one), `distill bench`'s table reads them, and onnxruntime-web's wasm
 * backend really runs an exported model in Node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { LatencyResult, RunEvent } from '../src/protocol/events.ts';
import { foldRun } from '../src/protocol/run.ts';
import { toOnnx } from '../src/core/export/onnx.ts';
import { toFp16Weights } from '../src/core/export/precision.ts';
import { benchOnnxWeb, loadOrtWeb, WEB_RUNTIME } from '../src/core/bench/webLatency.ts';
import { formatPrecisionBench } from '../src/trainer/precisionReport.ts';

const latency = (precision: LatencyResult['precision'], p50Ms: number, runtime = 'onnxruntime cpu'): LatencyResult => ({
  model: 'student',
  runtime,
  ...(precision ? { precision } : {}),
  batch: 1,
  threads: 'default',
  runs: 30,
  p50Ms,
  p90Ms: p50Ms,
  p99Ms: p50Ms,
  meanMs: p50Ms,
  samplesPerSecond: 1000 / p50Ms,
});
const base = { v: 1, t: '2026-12-02T00:00:00.000Z' } as const;
const events = [
  {
    ...base,
    type: 'artifact',
    kind: 'student-onnx-fp16',
    path: 's.fp16.onnx',
    bytes: 100,
    precision: 'fp16',
    testAccuracy: 0.85,
    fp32TestAccuracy: 0.851,
  },
  {
    ...base,
    type: 'artifact',
    kind: 'student-onnx-int8',
    path: 's.int8.onnx',
    bytes: 60,
    precision: 'int8',
    testAccuracy: 0.84,
    fp32TestAccuracy: 0.851,
  },
  { ...base, type: 'artifact', kind: 'student-onnx', path: 's.onnx', bytes: 200 },
  { ...base, type: 'benchmark', result: latency(undefined, 0.3) },
  { ...base, type: 'benchmark', result: latency('fp16', 0.2) },
  { ...base, type: 'benchmark', result: latency('int8', 0.1) },
  { ...base, type: 'benchmark', result: latency('int8', 0.15, WEB_RUNTIME) },
] as unknown as RunEvent[];

test('the fold keeps one latency row per precision and the precision exports with their accuracies', () => {
  const s = foldRun(events);
  assert.deepEqual(
    s.latency.map((l) => [l.precision ?? 'fp32', l.runtime, l.p50Ms]),
    [
      ['fp32', 'onnxruntime cpu', 0.3],
      ['fp16', 'onnxruntime cpu', 0.2],
      ['int8', 'onnxruntime cpu', 0.1],
      ['int8', WEB_RUNTIME, 0.15],
    ],
  );
  assert.deepEqual(s.precisionExports, [
    { model: 'student', precision: 'fp16', bytes: 100, testAccuracy: 0.85, fp32TestAccuracy: 0.851 },
    { model: 'student', precision: 'int8', bytes: 60, testAccuracy: 0.84, fp32TestAccuracy: 0.851 },
  ]);
  // A later export of the same precision replaces the earlier one; incremental folding agrees.
  const again = { ...events[0], bytes: 101 } as RunEvent;
  assert.deepEqual(foldRun([again], s).precisionExports, foldRun([...events, again]).precisionExports);
  assert.equal(foldRun([...events, again]).precisionExports!.find((e) => e.precision === 'fp16')!.bytes, 101);
});

test("distill bench's precision table: size, accuracy against fp32 and latency per runtime, per precision", () => {
  const s = foldRun(events);
  const text = formatPrecisionBench(
    'student',
    s.latency,
    200,
    [
      { model: 'student', precision: 'fp16', file: 's.fp16.onnx', bytes: 100 },
      { model: 'student', precision: 'int8', file: 's.int8.onnx', bytes: 60 },
    ],
    s.precisionExports!,
  );
  const rows = text.split('\n').slice(2);
  assert.match(rows[0], /^fp32\s+200 B\s+85\.10%\s+-\s+0\.300\s+-$/);
  assert.match(rows[1], /^fp16\s+100 B\s+85\.00%\s+-0\.10 points\s+0\.200\s+-$/);
  assert.match(rows[2], /^int8\s+60 B\s+84\.00%\s+-1\.10 points\s+0\.100\s+0\.150$/);
  assert.equal(formatPrecisionBench('teacher', s.latency, 200, [], s.precisionExports!), '');
});

test('onnxruntime-web (wasm) runs an exported student in Node, fp32 and fp16, each row tagged', async () => {
  await tf.setBackend('cpu');
  const web = loadOrtWeb();
  assert.ok('ort' in web, 'onnxruntime-web is a dependency of the checkout');
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [6], units: 4, activation: 'relu' }), tf.layers.dense({ units: 3 })],
  });
  const fp32 = await toOnnx(model, { name: 'student' });
  const options = { batchSizes: [1, 8], threads: 0, warmup: 1, minRuns: 3, minSeconds: 0 };
  const rows = [
    ...(await benchOnnxWeb(web.ort, 'student', fp32, [6], options)),
    ...(await benchOnnxWeb(web.ort, 'student', toFp16Weights(fp32), [6], options, 'fp16')),
  ];
  assert.deepEqual(
    rows.map((r) => [r.runtime, r.precision ?? 'fp32', r.batch, r.runs >= 3]),
    [
      [WEB_RUNTIME, 'fp32', 1, true],
      [WEB_RUNTIME, 'fp32', 8, true],
      [WEB_RUNTIME, 'fp16', 1, true],
      [WEB_RUNTIME, 'fp16', 8, true],
    ],
  );
  model.dispose();
});
