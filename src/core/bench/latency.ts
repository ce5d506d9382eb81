/**
 * Latency of teacher and student: onnxruntime-node (CPU execution provider, or CUDA when the
 * user installed it) and the tfjs backend of the run. Sessions are created outside the timing,
 * warm-up runs are discarded, then runs are timed until both a count and a duration are reached.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type * as ortTypes from 'onnxruntime-node';
import type { LatencyResult } from '../../protocol/events.ts';
import { mixSeed, SeededRandom } from '../random.ts';

export interface BenchOptions {
  batchSizes: number[];
  /** onnxruntime intra-op threads; 0 = onnxruntime's default (one per physical core). */
  threads: number;
  warmup: number;
  minRuns: number;
  minSeconds: number;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  onnxruntime: string;
  tfjs: string;
  tfjsBackend: string;
}

export function machineInfo(): MachineInfo {
  const ort = require('onnxruntime-node') as typeof ortTypes;
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()}-${os.arch()} ${os.release()}`,
    node: process.version,
    onnxruntime: ort.env.versions.node ?? 'unknown',
    tfjs: tf.version.tfjs,
    tfjsBackend: tf.getBackend(),
  };
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export async function timeRuns(run: () => Promise<void> | void, options: BenchOptions): Promise<number[]> {
  for (let i = 0; i < options.warmup; i++) await run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < options.minRuns || performance.now() - start < options.minSeconds * 1000) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
    if (times.length >= 100000) break;
  }
  return times;
}

export function summarise(
  model: LatencyResult['model'],
  runtime: string,
  batch: number,
  threads: string,
  times: number[],
  precision?: LatencyResult['precision'],
): LatencyResult {
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return {
    model,
    runtime,
    ...(precision ? { precision } : {}),
    batch,
    threads,
    runs: times.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    meanMs: mean,
    samplesPerSecond: (batch * 1000) / mean,
  };
}

export function randomInput(batch: number, inputShape: number[], seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: batch * inputShape.reduce((a, b) => a * b, 1) }, () => rng.next());
}

/** Full-length rows of token ids in 1 .. vocabSize - 1 (a text model's input, no padding: the slowest case). */
export function tokenRows(batch: number, length: number, vocabSize: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: batch * length }, () => 1 + Math.floor(rng.next() * (vocabSize - 1)));
}

/** What one timed run is fed at a batch size: the rows (tfjs, or the ONNX `input`), or every ONNX input by name. */
export type BenchInputs = (batch: number, seed: number) => Float32Array;
export type BenchFeeds = (batch: number, seed: number) => Record<string, ortTypes.Tensor>;

/** Benchmarks one ONNX model (bytes) in onnxruntime-node at each batch size; `precision` tags a reduced-precision export. */
export async function benchOnnx(
  model: LatencyResult['model'],
  onnxBytes: Uint8Array,
  inputShape: number[],
  options: BenchOptions,
  executionProviders: string[] = ['cpu'],
  inputName = 'input',
  precision?: LatencyResult['precision'],
  /** Instead of random values in [0, 1) as `inputName`: token ids, or a text teacher's several inputs. */
  feeds?: BenchFeeds,
): Promise<LatencyResult[]> {
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const sessionOptions: ortTypes.InferenceSession.SessionOptions = {
    executionProviders,
    graphOptimizationLevel: 'all',
  };
  if (options.threads > 0) sessionOptions.intraOpNumThreads = options.threads;
  const session = await ort.InferenceSession.create(onnxBytes, sessionOptions);
  const results: LatencyResult[] = [];
  try {
    for (const batch of options.batchSizes) {
      const seed = mixSeed('bench', batch);
      const input = feeds?.(batch, seed) ?? {
        [inputName]: new ort.Tensor('float32', randomInput(batch, inputShape, seed), [batch, ...inputShape]),
      };
      const times = await timeRuns(async () => {
        await session.run(input);
      }, options);
      results.push(
        summarise(
          model,
          `onnxruntime ${executionProviders[0]}`,
          batch,
          options.threads > 0 ? String(options.threads) : 'default',
          times,
          precision,
        ),
      );
    }
  } finally {
    await session.release();
  }
  return results;
}

/** Benchmarks a tfjs model on the current backend; each run includes reading the result back. */
export async function benchTfjs(
  model: LatencyResult['model'],
  tfModel: tf.LayersModel,
  inputShape: number[],
  options: BenchOptions,
  makeInput?: BenchInputs,
): Promise<LatencyResult[]> {
  const results: LatencyResult[] = [];
  for (const batch of options.batchSizes) {
    const seed = mixSeed('bench', batch);
    const input = tf.tensor(makeInput?.(batch, seed) ?? randomInput(batch, inputShape, seed), [batch, ...inputShape]);
    const times = await timeRuns(async () => {
      const out = tfModel.predict(input) as tf.Tensor;
      await out.data();
      out.dispose();
    }, options);
    input.dispose();
    results.push(summarise(model, `tfjs ${tf.getBackend()}`, batch, 'backend default', times));
  }
  return results;
}

/**
 * Benchmarks a test-time ensemble (BAN-E) on the current tfjs backend: each run is every member's
 * forward pass, the mean of their softmax outputs, and reading it back.
 */
export async function benchTfjsEnsemble(
  model: LatencyResult['model'],
  members: tf.LayersModel[],
  inputShape: number[],
  options: BenchOptions,
): Promise<LatencyResult[]> {
  const results: LatencyResult[] = [];
  for (const batch of options.batchSizes) {
    const input = tf.tensor(randomInput(batch, inputShape, mixSeed('bench', batch)), [batch, ...inputShape]);
    const times = await timeRuns(async () => {
      const out = tf.tidy(() =>
        tf.div(tf.addN(members.map((m) => tf.softmax(m.predict(input) as tf.Tensor2D))), members.length),
      );
      await out.data();
      out.dispose();
    }, options);
    input.dispose();
    results.push(summarise(model, `tfjs ${tf.getBackend()}`, batch, 'backend default', times));
  }
  return results;
}

/**
 * Benchmarks a test-time ensemble in onnxruntime-node (CPU): each run is every member's session,
 * one after the other, and the mean of their softmax outputs in plain JavaScript.
 */
export async function benchOnnxEnsemble(
  model: LatencyResult['model'],
  members: Uint8Array[],
  inputShape: number[],
  options: BenchOptions,
): Promise<LatencyResult[]> {
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const sessionOptions: ortTypes.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  };
  if (options.threads > 0) sessionOptions.intraOpNumThreads = options.threads;
  const sessions = await Promise.all(members.map((m) => ort.InferenceSession.create(m, sessionOptions)));
  const results: LatencyResult[] = [];
  try {
    for (const batch of options.batchSizes) {
      const input = new ort.Tensor('float32', randomInput(batch, inputShape, mixSeed('bench', batch)), [
        batch,
        ...inputShape,
      ]);
      const times = await timeRuns(async () => {
        let mean: Float32Array | undefined;
        for (const session of sessions) {
          const out = await session.run({ [session.inputNames[0]]: input });
          const logits = out[session.outputNames[0]].data as Float32Array;
          mean ??= new Float32Array(logits.length);
          addSoftmax(mean, logits, logits.length / batch, 1 / sessions.length);
        }
      }, options);
      results.push(
        summarise(model, 'onnxruntime cpu', batch, options.threads > 0 ? String(options.threads) : 'default', times),
      );
    }
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
  return results;
}

/** Adds `scale` times the row-wise softmax of `logits` ([rows, classes]) to `into`. */
function addSoftmax(into: Float32Array, logits: Float32Array, classes: number, scale: number): void {
  for (let r = 0; r < logits.length; r += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[r + c] - max);
    for (let c = 0; c < classes; c++) into[r + c] += (scale * Math.exp(logits[r + c] - max)) / sum;
  }
}
