import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AdapterInfo } from '../src/protocol/backends.ts';
import {
  EVENTS_VERSION,
  type BackendInfo,
  type PhaseFinishedEvent,
  type RunStartedEvent,
} from '../src/protocol/events.ts';
import type { RunPayload } from '../src/protocol/messages.ts';
import {
  browserSkipReason,
  chromiumPath,
  CHROMIUM_ARGS,
  loadPlaywright,
  openDashboard,
  serveDashboard,
  showRuns,
} from './helpers/dashboardPage.ts';

// The dashboard's header names the run's actual backend from its run_started event: its device,
// for webgpu the adapter, and a visible warning when that adapter is a software rasterizer.
const playwright = loadPlaywright();
const skip = browserSkipReason(playwright);

let served: { base: string; close: () => void };
let browser: import('playwright-core').Browser;

before(async () => {
  if (skip) return;
  served = await serveDashboard();
  browser = await playwright!.chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  served?.close();
});

function started(id: string, backend: BackendInfo): RunPayload {
  const e: RunStartedEvent = {
    v: EVENTS_VERSION,
    t: '2026-12-01T20:00:00.000Z',
    type: 'run_started',
    runId: id,
    name: id,
    configFile: '/w/demo.distill.json',
    resumed: false,
    pid: 1,
    backend,
    node: 'v20.20.2',
    platform: 'linux-x64',
    phases: ['scratch', 'distill'],
    data: { train: 900, validation: 100, test: 2000, inputShape: [28, 28, 1], classes: 10 },
  };
  return { dir: `/w/.distill/runs/${id}`, id, events: [e] };
}

const adapter = (software: boolean): AdapterInfo =>
  software
    ? { vendor: 'mesa', architecture: '', device: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)', software: true }
    : { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', software: false };

async function header(runs: RunPayload[]) {
  const { page, violations } = await openDashboard(browser, served.base);
  await showRuns(page, runs);
  const text = await page.$$eval('#summary p.backend', (ps) =>
    ps.map((p) => [p.getAttribute('data-backend'), p.textContent]),
  );
  const warnings = await page.$$eval('#summary .software-adapter', (ps) =>
    ps.filter((p) => (p as HTMLElement).offsetHeight > 0).map((p) => p.textContent ?? ''),
  );
  await page.close();
  assert.deepEqual(violations, []);
  return { text, warnings };
}

test('webgpu on a GPU: the header names the backend and the adapter, and warns of nothing', { skip }, async () => {
  const h = await header([
    started('gpu', {
      name: 'webgpu',
      reason: 'best available',
      device: 'GPU: NVIDIA H200 (WebGPU)',
      adapter: adapter(false),
      tried: [],
    }),
  ]);
  assert.equal(h.text.length, 1);
  assert.equal(h.text[0][0], 'webgpu');
  assert.match(h.text[0][1]!, /^backend webgpu on NVIDIA H200 \(WebGPU adapter\) · 900 train/);
  assert.deepEqual(h.warnings, []);
});

test('webgpu on a software adapter: a visible warning that it is a CPU rasterizer', { skip }, async () => {
  const h = await header([
    started('soft', {
      name: 'webgpu',
      reason: 'requested in the config',
      device: 'software adapter llvmpipe',
      adapter: adapter(true),
      tried: [],
    }),
  ]);
  assert.match(h.text[0][1]!, /^backend webgpu on llvmpipe \(LLVM 19\.1\.7, 256 bits\) \(WebGPU adapter\)/);
  assert.equal(h.warnings.length, 1);
  assert.match(h.warnings[0], /software adapter/);
});

test(
  'a backend without an adapter (and a run from before adapters): its device line, no warning',
  { skip },
  async () => {
    const h = await header([
      started('wasm', {
        name: 'wasm',
        reason: 'best available',
        device: 'CPU (WebAssembly SIMD, 1 thread)',
        tried: [],
      }),
      started('old', { name: 'tensorflow', reason: 'best available', device: 'CPU (native TensorFlow)', tried: [] }),
    ]);
    assert.deepEqual(
      h.text.map((t) => t[0]),
      ['wasm', 'tensorflow'],
    );
    assert.match(h.text[0][1]!, /^backend wasm on CPU \(WebAssembly SIMD, 1 thread\)/);
    assert.deepEqual(h.warnings, []);
  },
);

test(
  'the header says how each finished phase trained: the written-out dense step, or the tape and why',
  { skip },
  async () => {
    const run = started('steps', {
      name: 'tensorflow',
      reason: 'best available',
      device: 'CPU (native TensorFlow)',
      tried: [],
    });
    const finished = (phase: 'scratch' | 'distill', step: PhaseFinishedEvent['step']): PhaseFinishedEvent => ({
      v: EVENTS_VERSION,
      t: '2026-12-01T20:01:00.000Z',
      type: 'phase_finished',
      phase,
      epochs: 2,
      bestEpoch: 2,
      stoppedEarly: false,
      seconds: 3,
      step,
    });
    const before = started('older', { name: 'wasm', reason: 'best available', device: 'CPU', tried: [] });
    run.events.push(
      finished('scratch', { kind: 'dense' }),
      finished('distill', { kind: 'tape', reason: 'label smoothing' }),
    );
    const { page, violations } = await openDashboard(browser, served.base);
    await showRuns(page, [run, before]);
    const lines = await page.$$eval('#summary p.training-steps', (ps) => ps.map((p) => p.textContent ?? ''));
    await page.close();
    assert.deepEqual(violations, []);
    // The run from before phase_finished said so has no line.
    assert.deepEqual(lines, [
      'training steps: scratch written-out dense step · distilled tfjs tape (dense step not used: label smoothing)',
    ]);
  },
);
