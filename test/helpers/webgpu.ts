/** Whether this machine has a WebGPU adapter, asked in a child process (test skips are decided before any test runs). */
import { spawnSync } from 'node:child_process';
import { root } from './cli.ts';

const PROBE = `import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
const i = a?.info;
console.log(JSON.stringify(a ? { description: i.description, software: !!i.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(i.description + i.device) } : null));
process.exit(0);`;

let cached: { description: string; software: boolean } | null | undefined;

/** The high-performance adapter Dawn finds here, or null. */
export function webgpuAdapter(): { description: string; software: boolean } | null {
  if (cached !== undefined) return cached;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], {
    cwd: root,
    encoding: 'utf8',
    env: { XDG_RUNTIME_DIR: '/tmp', ...process.env },
    timeout: 60_000,
  });
  const line = r.stdout?.trim().split('\n').at(-1);
  try {
    cached = line ? ((JSON.parse(line) as typeof cached) ?? null) : null;
  } catch {
    cached = null;
  }
  return cached ?? null;
}

/** A test option: skip (with the reason) where Dawn finds no adapter. */
export const needsWebGpu = (): string | false =>
  webgpuAdapter()
    ? false
    : 'no WebGPU adapter on this machine (Linux without a GPU: install mesa-vulkan-drivers 25 from bookworm-backports)';
