/**
 * Picks the tfjs backend at run time. `auto` takes the first usable of: tensorflow-gpu (when
 * TensorFlow really sees a GPU) > webgpu on a hardware adapter > tensorflow (CPU) > wasm > cpu,
 * skipping any that lacks a kernel the run needs. Software WebGPU adapters (llvmpipe,
 * SwiftShader) are used only when webgpu is named. Every attempt and its reason is recorded.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../protocol/events.ts';
import { BACKEND_NAMES, type AdapterInfo, type BackendName, type BackendPreference } from '../protocol/backends.ts';
import { missingKernels, type KernelNeeds } from './kernels.ts';
import { adapterLabel, probeDawn, registerWebGpuBackend } from './webgpu.ts';
import { diagnoseTfjsNodeGpu } from './cudaProbe.ts';
import { nativeDir, nativePackageDir, requireTensorflowPackage, type NativePackage } from './nativeModules.ts';

export type { BackendPreference } from '../protocol/backends.ts';

/** A user asked for a backend that cannot be used: reported without a stack, exit code 2. */
export class BackendError extends Error {
  override name = 'BackendError';
}

type Attempt = BackendInfo['tried'][number];

/** The outcome of initialising one backend: where it computes, or why it cannot be used. */
export type Initialised =
  { ok: true; device: string; adapter?: AdapterInfo; note?: string } | { ok: false; detail: string; fix?: string };

/** tfjs's own name for each of ours: both TensorFlow builds register `tensorflow`. */
export const TFJS_NAME: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  webgpu: 'webgpu',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** Which TensorFlow package registered the `tensorflow` backend in this process, and whether it is on a GPU. */
let tensorflowLoaded: { pkg: NativePackage; gpu: boolean } | undefined;
const tensorflowFailures = new Map<NativePackage, unknown>();

/** Whether `pkg` is present (in DISTILL_NATIVE_DIR or the trainer's node_modules), without loading it. */
export function tensorflowPackageInstalled(pkg: NativePackage): boolean {
  const dir = nativeDir();
  if (dir && fs.existsSync(path.join(nativePackageDir(dir, pkg), 'package.json'))) return true;
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

function loadTensorflow(pkg: NativePackage): { ok: true; gpu: boolean } | { ok: false; error: unknown } {
  if (tensorflowLoaded && tensorflowLoaded.pkg !== pkg && !tensorflowPackageInstalled(pkg)) {
    const error = Object.assign(new Error(`Cannot find module '${pkg}'`), { code: 'MODULE_NOT_FOUND' });
    return { ok: false, error };
  }
  if (tensorflowLoaded)
    return tensorflowLoaded.pkg === pkg
      ? { ok: true, gpu: tensorflowLoaded.gpu }
      : { ok: false, error: new Error(`${tensorflowLoaded.pkg} holds the tensorflow backend in this process`) };
  if (tensorflowFailures.has(pkg)) return { ok: false, error: tensorflowFailures.get(pkg) };
  // libtensorflow logs every op placement at INFO; keep only errors unless the user set a level.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  try {
    requireTensorflowPackage(pkg);
  } catch (error) {
    tensorflowFailures.set(pkg, error);
    return { ok: false, error };
  }
  const factory = tf.findBackend('tensorflow') as unknown as { isUsingGpuDevice?: boolean } | null;
  tensorflowLoaded = { pkg, gpu: !!factory?.isUsingGpuDevice };
  return { ok: true, gpu: tensorflowLoaded.gpu };
}

const notInstalled = (err: unknown, pkg: string) =>
  (err as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${pkg}'`);
const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

async function initTensorflowGpu(): Promise<Initialised> {
  const loaded = loadTensorflow('@tensorflow/tfjs-node-gpu');
  const diagnosis = diagnoseTfjsNodeGpu(loaded.ok ? undefined : loaded.error, loaded.ok && loaded.gpu);
  if (!loaded.ok || !loaded.gpu)
    return { ok: false, detail: `@tensorflow/tfjs-node-gpu: ${diagnosis.detail}`, fix: diagnosis.fix };
  if (!(await tf.setBackend('tensorflow')))
    return { ok: false, detail: '@tensorflow/tfjs-node-gpu loaded, but the tensorflow backend did not initialise' };
  return { ok: true, device: 'GPU (native TensorFlow, CUDA: TensorFlow lists a GPU device)', note: diagnosis.detail };
}

async function initTensorflow(): Promise<Initialised> {
  // Under auto the GPU build may have loaded already and found no GPU: it then runs on the CPU.
  const viaGpuBuild = tensorflowLoaded?.pkg === '@tensorflow/tfjs-node-gpu';
  const loaded = viaGpuBuild
    ? { ok: true as const, gpu: tensorflowLoaded!.gpu }
    : loadTensorflow('@tensorflow/tfjs-node');
  if (!loaded.ok) {
    const err = loaded.error;
    return notInstalled(err, '@tensorflow/tfjs-node')
      ? {
          ok: false,
          detail: '@tensorflow/tfjs-node: not installed',
          fix: 'in VS Code: "Distill: Set Up Native Backend"; from a clone: scripts/setup-native-tfjs.sh (offline) or npm install @tensorflow/tfjs-node',
        }
      : {
          ok: false,
          detail: `@tensorflow/tfjs-node: failed to load: ${firstLine(err)}`,
          fix: 'reinstall it: scripts/setup-native-tfjs.sh (offline build) or npm rebuild @tensorflow/tfjs-node',
        };
  }
  if (!(await tf.setBackend('tensorflow')))
    return { ok: false, detail: 'loaded, but the tensorflow backend did not initialise' };
  return {
    ok: true,
    device: viaGpuBuild ? 'CPU (native TensorFlow; the GPU build found no usable GPU)' : 'CPU (native TensorFlow)',
  };
}

async function initWebGpu(allowSoftware: boolean): Promise<Initialised> {
  const dawn = await probeDawn();
  if (!dawn.ok) return { ok: false, detail: dawn.detail, fix: dawn.fix };
  const { adapter } = dawn;
  if (adapter.software && !allowSoftware)
    return {
      ok: false,
      detail: `only a software adapter (${adapterLabel(adapter)}): a CPU rasterizer, used only when webgpu is named`,
      fix: "install the GPU's Vulkan/Metal/D3D12 driver",
    };
  try {
    registerWebGpuBackend();
    if (!(await tf.setBackend('webgpu')))
      return {
        ok: false,
        detail: `the adapter ${adapterLabel(adapter)} was found, but the tfjs webgpu backend did not initialise`,
      };
  } catch (err) {
    return { ok: false, detail: `the webgpu backend failed on ${adapterLabel(adapter)}: ${firstLine(err)}` };
  }
  const device = adapter.software
    ? `software adapter ${adapterLabel(adapter)} (a CPU rasterizer: for correctness checks, far slower than a GPU)`
    : `GPU: ${adapterLabel(adapter)} (WebGPU)`;
  return { ok: true, device, adapter };
}

/** Where the .wasm binaries are: beside the bundle when built, else in node_modules. */
export function wasmDirectory(): string {
  const beside = path.join(__dirname, 'tfjs-backend-wasm.wasm');
  if (fs.existsSync(beside)) return __dirname + path.sep;
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;
}

async function initWasm(): Promise<Initialised> {
  try {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmDirectory());
    if (await tf.setBackend('wasm')) return { ok: true, device: 'CPU (WebAssembly SIMD, 1 thread)' };
    return { ok: false, detail: 'did not initialise' };
  } catch (err) {
    return { ok: false, detail: `failed to load: ${firstLine(err)}` };
  }
}

async function initCpu(): Promise<Initialised> {
  return (await tf.setBackend('cpu'))
    ? { ok: true, device: 'CPU (plain JavaScript)' }
    : { ok: false, detail: 'did not initialise' };
}

/** Initialises one backend by our name; software WebGPU adapters only when `allowSoftware`. */
export function initBackend(name: BackendName, allowSoftware: boolean): Promise<Initialised> {
  switch (name) {
    case 'tensorflow-gpu':
      return initTensorflowGpu();
    case 'webgpu':
      return initWebGpu(allowSoftware);
    case 'tensorflow':
      return initTensorflow();
    case 'wasm':
      return initWasm();
    case 'cpu':
      return initCpu();
  }
}

/** What a forced backend's "cannot train" error suggests instead: the others that train anything. */
function alternatives(name: BackendName): string {
  const others = ['auto', ...(['webgpu', 'tensorflow', 'cpu'] as const).filter((n) => n !== name)].map((n) => `"${n}"`);
  return `${others.slice(0, -1).join(', ')} or ${others.at(-1)}`;
}

/**
 * Initialises the best usable backend for a run that needs `needs`. A forced preference that is
 * unavailable or lacks a kernel is a BackendError naming what is missing.
 */
export async function selectBackend(preference: BackendPreference, needs: KernelNeeds): Promise<BackendInfo> {
  tf.env().set('PROD', true); // no debug checks or console nags; errors still throw
  const tried: Attempt[] = [];
  const order: readonly BackendName[] = preference === 'auto' ? BACKEND_NAMES : [preference];
  for (const name of order) {
    const init = await initBackend(name, preference === name);
    if (!init.ok) {
      tried.push({ name, ok: false, detail: init.detail });
      if (preference !== 'auto')
        throw new BackendError(
          `backend "${name}" is not available: ${init.detail}${init.fix ? `; fix: ${init.fix}` : ''}`,
        );
      continue;
    }
    const missing = missingKernels(TFJS_NAME[name], needs);
    if (missing.length > 0) {
      const detail = `cannot train these models (no ${missing.join(', ')} kernel${missing.length > 1 ? 's' : ''})`;
      if (preference !== 'auto') throw new BackendError(`backend "${name}" ${detail}; use ${alternatives(name)}`);
      tried.push({ name, ok: false, detail });
      continue;
    }
    tried.push({ name, ok: true, detail: init.note ?? init.device });
    const skipped = tried
      .filter((t) => !t.ok)
      .map((t) => `${t.name}: ${t.detail}`)
      .join('; ');
    const reason = preference === 'auto' ? `best available (${skipped || 'first choice'})` : 'requested in the config';
    return { name, reason, device: init.device, tried, ...(init.adapter ? { adapter: init.adapter } : {}) };
  }
  throw new BackendError('no tfjs backend could be initialised');
}
