import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { selectBackend, BackendError } from '../src/core/backend.ts';
import {
  CONV_TRAINING,
  DENSE_TRAINING,
  KERNEL_TABLE_FILE,
  formatKernelTable,
  missingKernels,
  requiredKernels,
  type KernelNeeds,
} from '../src/core/kernels.ts';
import { profileKernels } from '../src/core/kernelProfile.ts';
import { ACTIVATIONS } from '../src/core/config/schema.ts';
import { tensorflowAvailable } from './helpers/cli.ts';
import { needsWebGpu, webgpuAdapter } from './helpers/webgpu.ts';

const nativeHere = tensorflowAvailable();
const softwareOnly = webgpuAdapter()?.software === true;
const noAdapter = needsWebGpu();

/** Every layer type, activation, term and optimizer the schema has, and augmentation. */
const EVERYTHING: KernelNeeds = {
  layers: [
    ...CONV_TRAINING.layers,
    { type: 'batchnorm', momentum: 0.99, epsilon: 1e-3 },
    { type: 'dropout', rate: 0.5 },
    ...ACTIVATIONS.map((fn) => ({ type: 'activation' as const, fn })),
  ],
  terms: ['kd', 'hint', 'attention', 'rkd', 'dkd', 'teacher_free'],
  optimizer: 'adam',
  augment: true,
};

test('the kernel table is what the code calls today (npm run kernels regenerates it)', async () => {
  assert.equal(formatKernelTable(await profileKernels()), fs.readFileSync(KERNEL_TABLE_FILE, 'utf8'));
});

test('wasm cannot train convolutions: it lacks Conv2DBackpropFilter (measured, not assumed)', async () => {
  await selectBackend('wasm', DENSE_TRAINING);
  assert.deepEqual(missingKernels('wasm', CONV_TRAINING), ['Conv2DBackpropFilter']);
  assert.deepEqual(missingKernels('wasm', DENSE_TRAINING), []);
  assert.deepEqual(missingKernels('cpu', EVERYTHING), []);
  assert.ok(requiredKernels(CONV_TRAINING).has('MaxPoolGrad') && requiredKernels(CONV_TRAINING).has('AvgPoolGrad'));
});

test('forcing wasm for a conv model is a clear error that names the missing kernel', async () => {
  await assert.rejects(selectBackend('wasm', CONV_TRAINING), (err: unknown) => {
    assert.ok(err instanceof BackendError);
    assert.match(
      err.message,
      /backend "wasm" cannot train these models \(no Conv2DBackpropFilter kernel\); use "auto", "webgpu", "tensorflow" or "cpu"/,
    );
    return true;
  });
});

test('auto skips a backend that cannot train the models and records why', async () => {
  const info = await selectBackend('auto', CONV_TRAINING);
  assert.equal(info.name, nativeHere ? 'tensorflow' : 'cpu');
  if (!nativeHere)
    assert.ok(
      info.tried.some((t) => t.name === 'wasm' && !t.ok && /Conv2DBackpropFilter/.test(t.detail)),
      JSON.stringify(info.tried),
    );
  assert.match(info.reason, /best available/);
  assert.ok(
    info.tried.some((t) => t.name === 'tensorflow-gpu' && !t.ok && /tfjs-node-gpu: not installed/.test(t.detail)),
    JSON.stringify(info.tried),
  );
});

test(
  'auto never takes a software WebGPU adapter, and says why',
  { skip: !softwareOnly && 'this machine has no software-only WebGPU adapter' },
  async () => {
    const info = await selectBackend('auto', DENSE_TRAINING);
    assert.notEqual(info.name, 'webgpu');
    const webgpu = info.tried.find((t) => t.name === 'webgpu');
    assert.ok(webgpu && !webgpu.ok, JSON.stringify(info.tried));
    assert.match(webgpu.detail, /only a software adapter \(.*\): a CPU rasterizer, used only when webgpu is named/);
    assert.match(info.reason, /webgpu: only a software adapter/);
  },
);

test('auto prefers tensorflow, then wasm, for dense models', async () => {
  const info = await selectBackend('auto', DENSE_TRAINING);
  assert.equal(info.name, nativeHere ? 'tensorflow' : 'wasm');
  const tfnode = info.tried.find((t) => t.name === (nativeHere ? 'tensorflow' : 'tensorflow'));
  assert.ok(tfnode, 'the attempt at tfjs-node is recorded');
  assert.equal(tfnode.ok, nativeHere);
});

test(
  'forcing tensorflow where it cannot load is a clear error',
  { skip: nativeHere && 'the native backend loads here' },
  async () => {
    await assert.rejects(
      selectBackend('tensorflow', DENSE_TRAINING),
      /backend "tensorflow" is not available: @tensorflow\/tfjs-node: (not installed|failed to load).*; fix: /,
    );
  },
);

test('forcing tensorflow-gpu without a GPU names the missing CUDA piece', async () => {
  await assert.rejects(selectBackend('tensorflow-gpu', DENSE_TRAINING), (err: unknown) => {
    assert.ok(err instanceof BackendError);
    assert.match(
      err.message,
      /^backend "tensorflow-gpu" is not available: @tensorflow\/tfjs-node-gpu: not installed; fix: use the webgpu backend/,
    );
    return true;
  });
});

test(
  'webgpu named explicitly runs on a software adapter, says so, and records the adapter',
  { skip: noAdapter },
  async () => {
    const info = await selectBackend('webgpu', CONV_TRAINING);
    assert.equal(info.name, 'webgpu');
    assert.ok(info.adapter, 'the adapter is recorded');
    for (const key of ['vendor', 'architecture', 'device', 'description'] as const)
      assert.equal(typeof info.adapter[key], 'string');
    if (info.adapter.software) assert.match(info.device, /^software adapter .*a CPU rasterizer/);
    else assert.match(info.device, /^GPU: /);
    assert.equal(info.reason, 'requested in the config');
  },
);

test(
  'webgpu has every kernel that any layer, activation, loss term and optimizer calls',
  { skip: noAdapter },
  async () => {
    await selectBackend('webgpu', DENSE_TRAINING);
    assert.deepEqual(missingKernels('webgpu', EVERYTHING), []);
    for (const optimizer of ['adamw', 'sgd'] as const)
      assert.deepEqual(missingKernels('webgpu', { ...EVERYTHING, optimizer }), []);
  },
);
