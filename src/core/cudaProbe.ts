/**
 * Why @tensorflow/tfjs-node-gpu does or does not use the GPU, in one line.
 *
 * tfjs-node-gpu 4.22 bundles libtensorflow 2.9.1, built against CUDA 11.2 + cuDNN 8.1. TensorFlow
 * dlopens the CUDA libraries by soname at run time and, when one is missing, silently runs on the
 * CPU. So we ask the same dynamic loader, in this process (same LD_LIBRARY_PATH, same ld.so.cache),
 * for the same sonames. Linux only: that is where the CUDA build of tfjs-node-gpu is used.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The CUDA 11 / cuDNN 8 sonames libtensorflow 2.9.1 dlopens; any one missing means CPU only. */
export const CUDA11_SONAMES = [
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
] as const;

/** The driver's user-space library; without it no CUDA runtime can reach a GPU. */
export const DRIVER_SONAME = 'libcuda.so.1';

/** Runtimes newer than the one tfjs-node-gpu needs, newest first: to say what the machine has instead. */
const NEWER_CUDART: ReadonlyArray<[major: number, soname: string]> = [
  [13, 'libcudart.so.13'],
  [12, 'libcudart.so.12'],
];

export type SonameState = 'present' | 'missing' | 'unloadable';

export interface SonameResult {
  name: string;
  state: SonameState;
  /** The loader's message, for 'unloadable' (e.g. a dependency of it is missing). */
  detail?: string;
}

/**
 * Asks the dynamic loader for each soname through process.dlopen. A bare soname is searched like
 * TensorFlow's own dlopen. A library that loads is not a Node addon, so Node unloads it again and
 * throws "Module did not self-register"; an absent one throws "<name>: cannot open shared object file".
 */
export function probeSonames(names: readonly string[]): SonameResult[] {
  return names.map((name) => {
    try {
      process.dlopen({ exports: {} }, name, os.constants.dlopen.RTLD_LAZY);
      return { name, state: 'present' }; // only a real Node addon gets here
    } catch (err) {
      const message = String((err as Error)?.message ?? err);
      if (/did not self-register/i.test(message)) return { name, state: 'present' };
      if (message.startsWith(`${name}: cannot open shared object file`)) return { name, state: 'missing' };
      // Found, but could not be loaded: a missing dependency, wrong ELF class, an old glibc…
      return { name, state: 'unloadable', detail: message.split('\n')[0] };
    }
  });
}

export interface CudaProbe {
  /** False off Linux: nothing was probed and the other fields say nothing. */
  checked: boolean;
  /** libcuda.so.1 loads. */
  driver: boolean;
  /** From /proc/driver/nvidia/version, when readable. */
  driverVersion?: string;
  cuda11: { missing: string[]; unloadable: SonameResult[] };
  /** The newest CUDA runtime (libcudart) the loader finds: 13, 12 or 11. */
  cudaMajorFound?: number;
  /** GPU model names from /proc/driver/nvidia/gpus/x/information. */
  gpus: string[];
  /** A GPU of compute capability 9.0 or later, guessed from its model name (Hopper, Blackwell). */
  hopperOrNewer: boolean;
}

/** Probes the loader for the driver and the CUDA runtimes; reads two /proc files; spawns nothing. */
export function probeCudaLibraries(): CudaProbe {
  if (process.platform !== 'linux')
    return { checked: false, driver: false, cuda11: { missing: [], unloadable: [] }, gpus: [], hopperOrNewer: false };
  const [driver] = probeSonames([DRIVER_SONAME]);
  const cuda11 = probeSonames(CUDA11_SONAMES);
  let cudaMajorFound: number | undefined;
  for (const [major, soname] of NEWER_CUDART) {
    if (probeSonames([soname])[0].state === 'present') {
      cudaMajorFound = major;
      break;
    }
  }
  if (cudaMajorFound === undefined && cuda11[0].state === 'present') cudaMajorFound = 11;
  const gpus = readGpuModels();
  return {
    checked: true,
    driver: driver.state === 'present',
    driverVersion: readDriverVersion(),
    cuda11: {
      missing: cuda11.filter((r) => r.state === 'missing').map((r) => r.name),
      unloadable: cuda11.filter((r) => r.state === 'unloadable'),
    },
    cudaMajorFound,
    gpus,
    hopperOrNewer: gpus.some(isHopperOrNewer),
  };
}

function readDriverVersion(): string | undefined {
  try {
    // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar 5 ..."
    return /Kernel Module\s+(\S+)/.exec(fs.readFileSync('/proc/driver/nvidia/version', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function readGpuModels(): string[] {
  const dir = '/proc/driver/nvidia/gpus';
  try {
    return fs.readdirSync(dir).flatMap((bus) => {
      const model = /^Model:\s*(.+)$/m.exec(fs.readFileSync(`${dir}/${bus}/information`, 'utf8'))?.[1].trim();
      return model ? [model] : [];
    });
  } catch {
    return [];
  }
}

/** Compute capability >= 9 by name: libtensorflow 2.9.1 has kernels up to 8.0, so these JIT-compile PTX. */
function isHopperOrNewer(model: string): boolean {
  return /\b(G?H(100|200|800|20)|G?B(100|200|300)|RTX PRO \d+ Blackwell|RTX 50\d0)\b/i.test(model);
}

export interface TfjsNodeGpuDiagnosis {
  /** require('@tensorflow/tfjs-node-gpu') succeeds. */
  loads: boolean;
  /** One line: why it does or does not load, and whether it uses the GPU. */
  detail: string;
  /** One line: what to do about it. */
  fix: string;
}

const NEEDS = 'tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1';
const USE_WEBGPU = 'use the webgpu backend (it runs on this GPU through Vulkan/Metal/D3D12)';
const INSTALL_CUDA11 =
  'install CUDA 11.2 + cuDNN 8.1 beside the newer CUDA and put their lib folders on LD_LIBRARY_PATH, or ' + USE_WEBGPU;
const NO_GPU =
  'use the webgpu backend if this machine has a GPU of another make (Vulkan/Metal/D3D12), else the wasm or cpu backend';

/**
 * One line on tfjs-node-gpu: `loadError` is what require() threw (undefined when it loaded) and
 * `usingGpu` is the tensorflow backend's isUsingGpuDevice after it loaded.
 */
export function diagnoseTfjsNodeGpu(
  loadError: unknown | undefined,
  usingGpu: boolean,
  probe: CudaProbe = probeCudaLibraries(),
): TfjsNodeGpuDiagnosis {
  if (loadError === undefined) {
    if (usingGpu) {
      if (!probe.hopperOrNewer) return { loads: true, detail: 'loads and runs on the GPU (CUDA 11)', fix: '' };
      return {
        loads: true,
        detail: `loads and runs on the GPU, but ${probe.gpus.join(', ')} (compute capability 9.0+) has no prebuilt kernels in libtensorflow 2.9.1 (they stop at 8.0): the first run JIT-compiles PTX for many minutes`,
        fix: `set CUDA_CACHE_MAXSIZE=4294967296 so the JIT result is cached across runs, or ${USE_WEBGPU}`,
      };
    }
    const why = cpuReason(probe);
    return { loads: true, detail: `loads, but runs on the CPU: ${why.detail}`, fix: why.fix };
  }

  const err = loadError as NodeJS.ErrnoException;
  const message = String(err?.message ?? loadError);
  const firstLine = message.split('\n')[0];
  if (err?.code === 'MODULE_NOT_FOUND' && message.includes("'@tensorflow/tfjs-node-gpu'")) {
    return { loads: false, detail: 'not installed', fix: probe.driver ? USE_WEBGPU : NO_GPU };
  }
  // Its index.js checks for the addon before loading it: the install script (skipped, or offline) never put it there.
  const addon = /native addon module \(tfjs_binding\.node\) can not be found at path: (.+?\.node)/.exec(message);
  if (addon) {
    // Say so when rebuilding would not help: the built addon would still find no usable GPU here.
    const gpu = cpuReason(probe);
    const after = gpu.blocked && probe.checked ? `; even built, it would run on the CPU here: ${gpu.detail}` : '';
    return {
      loads: false,
      detail: `installed, but its native addon was never built or downloaded (its install script fetches libtensorflow from Google's storage): ${addon[1]}${after}`,
      fix: gpu.blocked
        ? gpu.fix
        : `run \`npm rebuild @tensorflow/tfjs-node-gpu\` where Google's storage is reachable, or ${USE_WEBGPU}`,
    };
  }
  // The addon exists but the loader could not resolve one of its libraries (libtensorflow.so.2 lives in its deps/lib).
  const lib = /^(\S+\.so[.\d]*): cannot open shared object file/m.exec(message);
  if (lib) {
    const isTensorflow = path.basename(lib[1]).startsWith('libtensorflow');
    return {
      loads: false,
      detail: isTensorflow
        ? `its native addon is there but ${lib[1]} is not (the install script's libtensorflow download did not finish): ${firstLine}`
        : `${lib[1]} not found: ${NEEDS}${has(probe)}`,
      fix: isTensorflow
        ? `run \`npm rebuild @tensorflow/tfjs-node-gpu\` where Google's storage is reachable, or ${USE_WEBGPU}`
        : INSTALL_CUDA11,
    };
  }
  return { loads: false, detail: `failed to load: ${firstLine}`, fix: USE_WEBGPU };
}

/** Why TensorFlow would fall back to the CPU on this machine; `blocked` is false when the probe found no reason. */
function cpuReason(probe: CudaProbe): { blocked: boolean; detail: string; fix: string } {
  if (!probe.checked)
    return { blocked: true, detail: `its CUDA build is for Linux (this is ${process.platform})`, fix: USE_WEBGPU };
  const reasons: string[] = [];
  if (!probe.driver) reasons.push(`no NVIDIA driver (${DRIVER_SONAME} not found)`);
  const { missing, unloadable } = probe.cuda11;
  if (missing.length > 0) reasons.push(`${namesOf(missing)} not found: ${NEEDS}${has(probe)}`);
  for (const u of unloadable) reasons.push(`${u.name} is there but does not load (${u.detail})`);
  if (reasons.length === 0) {
    return {
      blocked: false,
      detail:
        'the driver and the CUDA 11 libraries all load, yet TensorFlow picked no GPU (run with TF_CPP_MIN_LOG_LEVEL=0 to see its reason)',
      fix: USE_WEBGPU,
    };
  }
  const fix = !probe.driver ? NO_GPU : missing.length > 0 ? INSTALL_CUDA11 : USE_WEBGPU;
  return { blocked: true, detail: reasons.join('; '), fix };
}

/** The first missing soname and a count of the rest: the full list is in the probe. */
function namesOf(missing: string[]): string {
  if (missing.length === 1) return missing[0];
  if (missing.length === 2) return `${missing[0]} and ${missing[1]}`;
  return `${missing[0]} and ${missing.length - 1} other CUDA 11/cuDNN 8 libraries`;
}

function has(probe: CudaProbe): string {
  if (probe.cudaMajorFound === undefined) return '; this machine has no CUDA runtime';
  if (probe.cudaMajorFound === 11) return ''; // it has a CUDA 11 runtime; the list above names what is missing
  return `; this machine has CUDA ${probe.cudaMajorFound}.x`;
}
