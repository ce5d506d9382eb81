/**
 * Picks the tfjs backend at run time: tensorflow (tfjs-node-gpu, then tfjs-node) > wasm > cpu.
 * tfjs-node is optional (its install downloads libtensorflow, which fails offline), so each
 * candidate is tried and the reason for the final choice is recorded with the run.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../protocol/events.ts';
import type { LayerSpec } from './config/schema.ts';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** Kernels a backend must have to train a layer type (their gradients are not composed of other ops). */
const TRAINING_KERNELS: Partial<Record<LayerSpec['type'], string[]>> = {
  conv2d: ['Conv2DBackpropFilter', 'Conv2DBackpropInput'],
  maxpool: ['MaxPoolGrad'],
  avgpool: ['AvgPoolGrad'],
};

/** A user asked for a backend that cannot be used: reported without a stack, exit code 2. */
export class BackendError extends Error {
  override name = 'BackendError';
}

export function missingTrainingKernels(backend: string, layerTypes: Iterable<LayerSpec['type']>): string[] {
  const missing = new Set<string>();
  for (const type of layerTypes) for (const kernel of TRAINING_KERNELS[type] ?? []) if (!tf.getKernel(kernel, backend)) missing.add(kernel);
  return [...missing];
}

type Attempt = BackendInfo['tried'][number];

async function tryTensorflow(tried: Attempt[]): Promise<{ device: string } | undefined> {
  // libtensorflow logs every op placement at INFO; keep only errors unless the user set a level.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const detail = code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${pkg}'`)
        ? 'not installed'
        : `failed to load: ${firstLine(err)}`;
      tried.push({ name: pkg, ok: false, detail });
      continue;
    }
    if (!(await tf.setBackend('tensorflow'))) {
      tried.push({ name: pkg, ok: false, detail: 'loaded, but the tensorflow backend did not initialise' });
      continue;
    }
    const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
    const gpu = pkg.endsWith('-gpu');
    if (gpu && !backend.isUsingGpuDevice) {
      // tfjs-node-gpu needs CUDA 11.2 + cuDNN 8.1; otherwise it silently runs on the CPU.
      tried.push({ name: pkg, ok: true, detail: 'loaded, but found no usable GPU (it needs CUDA 11.2 and cuDNN 8.1): running on the CPU' });
      return { device: 'CPU (native TensorFlow; the GPU build found no usable GPU)' };
    }
    tried.push({ name: pkg, ok: true, detail: 'loaded' });
    return { device: gpu ? 'GPU (native TensorFlow, CUDA)' : 'CPU (native TensorFlow)' };
  }
  return undefined;
}

/** Where the .wasm binaries are: beside the bundle when built, else in node_modules. */
export function wasmDirectory(): string {
  const beside = path.join(__dirname, 'tfjs-backend-wasm.wasm');
  if (fs.existsSync(beside)) return __dirname + path.sep;
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;
}

async function tryWasm(tried: Attempt[]): Promise<boolean> {
  try {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmDirectory());
    if (await tf.setBackend('wasm')) {
      tried.push({ name: 'wasm', ok: true, detail: 'loaded (SIMD, one thread in Node)' });
      return true;
    }
    tried.push({ name: 'wasm', ok: false, detail: 'did not initialise' });
  } catch (err) {
    tried.push({ name: 'wasm', ok: false, detail: `failed to load: ${firstLine(err)}` });
  }
  return false;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

/**
 * Initialises the best usable backend for training models made of `layerTypes`.
 * A forced preference that is unavailable or cannot train the models is a BackendError.
 */
export async function selectBackend(preference: BackendPreference, layerTypes: Set<LayerSpec['type']>): Promise<BackendInfo> {
  tf.env().set('PROD', true); // no debug checks or console nags; errors still throw
  const tried: Attempt[] = [];
  const order: Array<'tensorflow' | 'wasm' | 'cpu'> = preference === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [preference];
  for (const name of order) {
    let device: string | undefined;
    if (name === 'tensorflow') device = (await tryTensorflow(tried))?.device;
    else if (name === 'wasm') device = (await tryWasm(tried)) ? 'CPU (WebAssembly SIMD, 1 thread)' : undefined;
    else device = (await tf.setBackend('cpu')) ? 'CPU (plain JavaScript)' : undefined;
    if (!device) {
      if (preference !== 'auto') throw new BackendError(`backend "${name}" is not available: ${tried.map((t) => `${t.name}: ${t.detail}`).join('; ')}`);
      continue;
    }
    const missing = missingTrainingKernels(name, layerTypes);
    if (missing.length > 0) {
      const detail = `cannot train these models (no ${missing.join(', ')} kernel)`;
      if (preference !== 'auto') throw new BackendError(`backend "${name}" ${detail}; use "auto", "tensorflow" or "cpu"`);
      tried.push({ name, ok: false, detail });
      continue;
    }
    if (name === 'cpu') tried.push({ name, ok: true, detail: 'always available' });
    const reason = preference === 'auto'
      ? `best available (${tried.filter((t) => !t.ok || t.name !== name).map((t) => `${t.name}: ${t.detail}`).join('; ') || 'first choice'})`
      : 'requested in the config';
    return { name, reason, device, tried };
  }
  throw new BackendError('no tfjs backend could be initialised');
}
