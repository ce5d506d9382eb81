/**
 * WebGPU in Node: Dawn's bindings (the `webgpu` package, prebuilt per platform) give tfjs's
 * WebGPU backend a GPU through Vulkan, Metal or D3D12. Its globals and `navigator.gpu` must be
 * in place before @tensorflow/tfjs-backend-webgpu is loaded: it registers itself only if it
 * finds `navigator.gpu`.
 */
import type { AdapterInfo } from '../protocol/backends.ts';

export type DawnProbe =
  { ok: true; adapter: AdapterInfo } | { ok: false; installed: boolean; detail: string; fix: string };

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

let probed: Promise<DawnProbe> | undefined;
let backendRegistered = false;

/** Names of the software rasterizers Dawn can find: a CPU pretending to be a GPU. */
const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|warp|microsoft basic render/i;

export function describeAdapter(adapter: GpuAdapterLike): AdapterInfo {
  const info = adapter.info ?? {};
  const fields = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
  };
  const software =
    !!(info.isFallbackAdapter ?? adapter.isFallbackAdapter) ||
    SOFTWARE.test(`${fields.architecture} ${fields.device} ${fields.description}`);
  return { ...fields, software };
}

/** One line naming an adapter, e.g. "NVIDIA H200 (nvidia, hopper)". */
export function adapterLabel(a: AdapterInfo): string {
  const name = a.description || a.device || a.vendor || 'unknown adapter';
  const detail = [a.vendor, a.architecture].filter(Boolean).join(', ');
  return detail ? `${name} (${detail})` : name;
}

async function probe(): Promise<DawnProbe> {
  let dawn: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    // ESM package: a dynamic import works from the CommonJS bundle too.
    dawn = (await import('webgpu')) as unknown as typeof dawn;
  } catch (err) {
    const message = String((err as Error)?.message ?? err).split('\n')[0];
    const missing =
      /Cannot find (module|package) 'webgpu'/.test(message) ||
      (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
    return missing
      ? {
          ok: false,
          installed: false,
          detail: 'the webgpu package (Dawn) is not installed',
          fix: 'npm install webgpu (the VS Code extension ships it for its platform)',
        }
      : {
          ok: false,
          installed: true,
          detail: `Dawn failed to load: ${message}`,
          fix: 'reinstall the webgpu package for this platform (prebuilt for linux-x64/arm64, darwin, win32-x64/arm64)',
        };
  }
  // Mesa's Vulkan drivers want a runtime folder; a missing one only costs a warning elsewhere.
  process.env.XDG_RUNTIME_DIR ??= require('node:os').tmpdir();
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]) as { requestAdapter(o?: object): Promise<GpuAdapterLike | null> };
  const nav = ((globalThis as unknown as { navigator?: object }).navigator ?? {}) as object;
  // Node 21+ has a navigator without `gpu`; Node 20 (and VS Code's runtime) has none.
  Object.defineProperty(globalThis, 'navigator', {
    value: Object.assign(Object.create(nav), { gpu }),
    configurable: true,
    writable: true,
  });
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return {
      ok: false,
      installed: true,
      detail: `Dawn could not list adapters: ${String((err as Error)?.message ?? err).split('\n')[0]}`,
      fix: GPU_DRIVER_FIX,
    };
  }
  if (!adapter)
    return {
      ok: false,
      installed: true,
      detail: 'no WebGPU adapter: Dawn found no Vulkan, Metal or D3D12 device',
      fix: GPU_DRIVER_FIX,
    };
  return { ok: true, adapter: describeAdapter(adapter) };
}

const GPU_DRIVER_FIX =
  "install the GPU's Vulkan driver (Linux: the NVIDIA driver's Vulkan ICD, or mesa-vulkan-drivers; macOS and Windows have Metal and D3D12)";

/** Loads Dawn once and asks for the high-performance adapter tfjs will use. */
export function probeDawn(): Promise<DawnProbe> {
  probed ??= probe();
  return probed;
}

/** Registers tfjs's WebGPU backend (after a successful probe). */
export function registerWebGpuBackend(): void {
  if (backendRegistered) return;
  require('@tensorflow/tfjs-backend-webgpu');
  backendRegistered = true;
}

/** Drops the reference to Dawn so the process can exit (Dawn keeps the event loop alive while referenced). */
export function releaseDawn(): void {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (probed && nav && 'gpu' in nav) delete nav.gpu;
}
