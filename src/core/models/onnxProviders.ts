/**
 * onnxruntime-node execution providers for ONNX teachers, best first: cuda, webgpu, cpu.
 *
 * What onnxruntime-node 1.30 carries on linux/x64 (read from the package, not assumed):
 *  - cpu: always.
 *  - webgpu: built in: listSupportedBackends() lists it as bundled, and Dawn with its Vulkan
 *    backend is linked into libonnxruntime.so.1. It runs wherever Dawn finds an adapter, Mesa's
 *    llvmpipe included; there it is the CPU emulating a GPU, about 50x slower than the cpu
 *    provider (tiny-cnn, batch 256, 2 cores: 188 ms against 3.9 ms) for the same numbers to
 *    ~1e-7. So a teacher tries it by itself only on a hardware adapter.
 *  - cuda: listed as not bundled. The package's install script fetches its libraries
 *    (libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so) only when
 *    ONNXRUNTIME_NODE_INSTALL=cuda12 is set; without them no cuda session can be created, so it
 *    is not tried.
 * onnxruntime cannot say from JS which adapter its Dawn picked; the `webgpu` package (Dawn for
 * Node) is asked the same question (high-performance adapter, default backend) and its answer
 * stands for it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as ortTypes from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import type { AdapterInfo, DoctorReport } from '../../protocol/backends.ts';
import { probeDawn } from '../webgpu.ts';

export const ONNX_PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type OnnxProviderName = (typeof ONNX_PROVIDERS)[number];
export type OnnxProviderReport = NonNullable<DoctorReport['onnxProviders']>[number];

const ort = () => require('onnxruntime-node') as typeof ortTypes;
const firstLine = (err: unknown) =>
  String((err as Error)?.message ?? err)
    .trim()
    .split('\n')[0];

/** Where onnxruntime-node keeps its native libraries (its binding loads them from there). */
export function onnxruntimeBinFolder(): string {
  return path.join(
    path.dirname(require.resolve('onnxruntime-node')),
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
  );
}

const CUDA_LIBRARIES: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  win32: ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'],
};

function listedBackend(name: OnnxProviderName): { name: string; bundled: boolean } | undefined {
  return ort()
    .listSupportedBackends()
    .find((b) => b.name === name);
}

/** Whether the CUDA provider's libraries are installed; the detail says how to install them when not. */
export function cudaLibraries(): { present: boolean; detail: string } {
  const listed = listedBackend('cuda');
  if (!listed)
    return {
      present: false,
      detail: `cuda: onnxruntime-node has no CUDA provider for ${process.platform}/${process.arch}`,
    };
  if (listed.bundled) return { present: true, detail: 'cuda: bundled with onnxruntime-node' };
  const bin = onnxruntimeBinFolder();
  const missing = (CUDA_LIBRARIES[process.platform] ?? []).filter((f) => !fs.existsSync(path.join(bin, f)));
  if (missing.length > 0)
    return {
      present: false,
      detail: `cuda: onnxruntime-node was installed without the CUDA provider (no ${missing.join(', ')}); reinstall it with ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node (needs CUDA 12 and cuDNN 9)`,
    };
  return { present: true, detail: `cuda: provider libraries in ${bin}` };
}

export interface AdapterProbe {
  adapter?: AdapterInfo;
  /** One line: the adapter, or why there is none. */
  detail: string;
}

/** The WebGPU adapter Dawn offers here: the same probe the tfjs webgpu backend uses (asked once per process). */
export async function webgpuAdapter(): Promise<AdapterProbe> {
  const dawn = await probeDawn();
  if (!dawn.ok) return { detail: dawn.detail };
  const a = dawn.adapter;
  return { adapter: a, detail: `${a.description || a.device || a.vendor}${a.software ? ' (a software adapter)' : ''}` };
}

/** y = x . W in small integers: exact on every provider, so a wrong answer is the provider's fault. */
const PROBE_MODEL = onnx.ModelProto.encode({
  irVersion: 8,
  opsetImport: [{ domain: '', version: 13 }],
  graph: {
    name: 'provider-probe',
    node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'], name: 'matmul' }],
    initializer: [
      { name: 'w', dataType: onnx.TensorProto.DataType.FLOAT, dims: [4, 2], floatData: [1, 0, 0, 1, 1, 1, 2, -1] },
    ],
    input: [
      {
        name: 'x',
        type: {
          tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] } },
        },
      },
    ],
    output: [
      {
        name: 'y',
        type: {
          tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 2 }] } },
        },
      },
    ],
  },
}).finish();
const PROBE_WANTED = [12, 1];

/** Creates a session on `provider` alone and checks one exact product; undefined when it works, else why not. */
export async function probeProvider(provider: OnnxProviderName): Promise<string | undefined> {
  const { InferenceSession, Tensor } = ort();
  let session: ortTypes.InferenceSession;
  try {
    session = await InferenceSession.create(PROBE_MODEL, { executionProviders: [provider], logSeverityLevel: 3 });
  } catch (err) {
    return `no session can be created on it: ${firstLine(err)}`;
  }
  try {
    const out = await session.run({ x: new Tensor('float32', Float32Array.of(1, 2, 3, 4), [1, 4]) });
    const got = [...(out.y.data as Float32Array)];
    return got.length === 2 && got.every((v, i) => v === PROBE_WANTED[i])
      ? undefined
      : `it computes [1, 2, 3, 4] . W as [${got.join(', ')}], not [${PROBE_WANTED.join(', ')}]`;
  } catch (err) {
    return `a session on it fails to run: ${firstLine(err)}`;
  } finally {
    await session.release();
  }
}

/** Why webgpu is not tried automatically, or undefined when it is (a hardware adapter). */
async function webgpuNotAuto(): Promise<string | undefined> {
  if (!listedBackend('webgpu')) return 'webgpu: this onnxruntime-node build has no WebGPU provider';
  const { adapter, detail } = await webgpuAdapter();
  if (!adapter) return `webgpu: not tried: ${detail}`;
  if (adapter.software) return `webgpu: not tried automatically: ${detail} is slower than cpu`;
  return undefined;
}

/** The providers to try, in order, and why the others are left out. cpu always comes last. */
export interface ProviderPlan {
  order: OnnxProviderName[];
  skipped: string[];
}

/**
 * `requested`: the providers to try in that order (cpu is added last when missing); undefined:
 * automatic: cuda where its libraries are installed, webgpu on a hardware adapter, then cpu.
 */
export async function providerPlan(requested?: readonly string[]): Promise<ProviderPlan> {
  if (requested) {
    const unknown = requested.filter((p) => !(ONNX_PROVIDERS as readonly string[]).includes(p));
    if (unknown.length > 0)
      throw new RangeError(
        `unknown onnxruntime execution provider ${unknown.map((p) => `"${p}"`).join(', ')}; expected ${ONNX_PROVIDERS.join(', ')}`,
      );
    return { order: [...new Set([...(requested as OnnxProviderName[]), 'cpu' as const])], skipped: [] };
  }
  const order: OnnxProviderName[] = [];
  const skipped: string[] = [];
  const cuda = cudaLibraries();
  if (cuda.present) order.push('cuda');
  else skipped.push(cuda.detail);
  const webgpu = await webgpuNotAuto();
  if (webgpu === undefined) order.push('webgpu');
  else skipped.push(webgpu);
  order.push('cpu');
  return { order, skipped };
}

/** What `distill doctor` lists: cuda, webgpu and cpu, whether each runs here, and one line on each. */
export async function onnxProviders(): Promise<OnnxProviderReport[]> {
  const reports: OnnxProviderReport[] = [];

  const cuda = cudaLibraries();
  const cudaProblem = cuda.present ? await probeProvider('cuda') : cuda.detail;
  reports.push(
    cudaProblem === undefined
      ? { name: 'cuda', available: true, detail: 'cuda: runs (CUDA device 0); ONNX teachers use it first' }
      : {
          name: 'cuda',
          available: false,
          detail: cuda.present ? `cuda: the provider is installed, but ${cudaProblem}` : cudaProblem,
        },
  );

  if (!listedBackend('webgpu'))
    reports.push({
      name: 'webgpu',
      available: false,
      detail: 'webgpu: this onnxruntime-node build has no WebGPU provider',
    });
  else {
    const problem = await probeProvider('webgpu');
    const notAuto = await webgpuNotAuto();
    const { detail: adapter } = await webgpuAdapter();
    if (problem !== undefined) reports.push({ name: 'webgpu', available: false, detail: `webgpu: ${problem}` });
    else if (notAuto === undefined)
      reports.push({
        name: 'webgpu',
        available: true,
        detail: `webgpu: runs on ${adapter}; ONNX teachers use it when cuda does not run`,
      });
    else
      reports.push({
        name: 'webgpu',
        available: true,
        detail: `webgpu: runs, but ${notAuto.replace(/^webgpu: /, '')}`,
      });
  }

  const cpuProblem = await probeProvider('cpu');
  reports.push(
    cpuProblem === undefined
      ? { name: 'cpu', available: true, detail: "cpu: onnxruntime's CPU provider; ONNX teachers fall back to it" }
      : { name: 'cpu', available: false, detail: `cpu: ${cpuProblem}` },
  );
  return reports;
}

/** How a teacher checks and probes a session on one provider; the failure hooks throw the teacher's own errors. */
export interface SessionProbe {
  /** cpu (the reference, always last) could not create a session: the model's fault. */
  loadFailed(err: unknown): never;
  /** Checks made before running (may release the session and throw). */
  check?(session: ortTypes.InferenceSession): Promise<void>;
  run(session: ortTypes.InferenceSession): Promise<ortTypes.InferenceSession.ReturnType>;
  /** cpu could not run the probe batch. */
  runFailed(err: unknown): never;
}

export interface OpenedSession {
  session: ortTypes.InferenceSession;
  provider: OnnxProviderName;
  probe: ortTypes.InferenceSession.ReturnType;
  /** Which provider was chosen and why each one before it was not. */
  providerDetail: string;
}

/**
 * The first provider of the plan on which the session is created and runs the probe batch before
 * any training; why each one before it did not is noted. cpu, always last, is the reference: its
 * failures are the model's.
 */
export async function openOnFirstProvider(
  bytes: Uint8Array,
  requested: readonly OnnxProviderName[] | undefined,
  probe: SessionProbe,
): Promise<OpenedSession> {
  const plan = await providerPlan(requested);
  const notes = [...plan.skipped];
  for (const provider of plan.order) {
    const last = provider === 'cpu';
    let session: ortTypes.InferenceSession;
    try {
      session = await ort().InferenceSession.create(bytes, { executionProviders: [provider], logSeverityLevel: 3 });
    } catch (err) {
      if (last) probe.loadFailed(err);
      notes.push(`${provider}: no session (${firstLine(err)})`);
      continue;
    }
    await probe.check?.(session);
    let out: ortTypes.InferenceSession.ReturnType;
    try {
      out = await probe.run(session);
    } catch (err) {
      await session.release();
      if (last) probe.runFailed(err);
      notes.push(`${provider}: fails on the first batch (${firstLine(err)})`);
      continue;
    }
    const chosen =
      provider === 'cuda'
        ? 'cuda: CUDA device 0'
        : provider === 'webgpu'
          ? `webgpu: on ${(await webgpuAdapter()).detail}`
          : notes.length === 0
            ? 'cpu: as requested'
            : undefined;
    return { session, provider, probe: out, providerDetail: [...(chosen ? [chosen] : []), ...notes].join('; ') };
  }
  throw new Error('no onnxruntime execution provider was tried'); // cpu is always in the plan
}
