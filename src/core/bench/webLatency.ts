/**
 * Latency in onnxruntime-web's wasm backend: the runtime of a student shipped to a web page, run in
 * Node with the same wasm binary a browser loads, on one thread (what a page gets without
 * cross-origin isolation). onnxruntime-web comes with a checkout's `npm install`; the VS Code
 * extension does not carry it (its wasm binary alone is 14 MB), so there the caller reports it as
 * unavailable instead of timing it.
 */
import type * as ortWebTypes from 'onnxruntime-web';
import type { LatencyResult } from '../../protocol/events.ts';
import { mixSeed } from '../random.ts';
import { randomInput, summarise, timeRuns, type BenchOptions } from './latency.ts';

export const WEB_RUNTIME = 'onnxruntime-web wasm';

/** onnxruntime-web, or why it cannot be loaded here. */
export function loadOrtWeb(): { ort: typeof ortWebTypes } | { unavailable: string } {
  try {
    const ort = require('onnxruntime-web') as typeof ortWebTypes;
    ort.env.wasm.numThreads = 1;
    return { ort };
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    return {
      unavailable: missing
        ? 'onnxruntime-web is not installed here (the VS Code extension does not ship it; run `distill bench` from a checkout after `npm install`)'
        : `onnxruntime-web does not load: ${(err as Error).message.split('\n')[0]}`,
    };
  }
}

/** Benchmarks one ONNX model (bytes) in onnxruntime-web's wasm backend at each batch size. */
export async function benchOnnxWeb(
  ort: typeof ortWebTypes,
  model: LatencyResult['model'],
  onnxBytes: Uint8Array,
  inputShape: number[],
  options: BenchOptions,
  precision?: LatencyResult['precision'],
  inputName = 'input',
): Promise<LatencyResult[]> {
  const session = await ort.InferenceSession.create(onnxBytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const results: LatencyResult[] = [];
  try {
    for (const batch of options.batchSizes) {
      const input = new ort.Tensor('float32', randomInput(batch, inputShape, mixSeed('bench', batch)), [
        batch,
        ...inputShape,
      ]);
      const times = await timeRuns(async () => {
        await session.run({ [inputName]: input });
      }, options);
      results.push(summarise(model, WEB_RUNTIME, batch, '1', times, precision));
    }
  } finally {
    await session.release();
  }
  return results;
}
