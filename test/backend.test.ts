import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectBackend, BackendError, missingTrainingKernels } from '../src/core/backend.ts';
import { tensorflowAvailable } from './helpers/cli.ts';

const nativeHere = tensorflowAvailable();

test('wasm cannot train convolutions: it lacks Conv2DBackpropFilter (measured, not assumed)', async () => {
  await selectBackend('wasm', new Set(['dense']));
  assert.deepEqual(missingTrainingKernels('wasm', ['conv2d', 'dense']), ['Conv2DBackpropFilter']);
  assert.deepEqual(missingTrainingKernels('cpu', ['conv2d', 'maxpool', 'avgpool']), []);
});

test('forcing wasm for a conv model is a clear error that names the missing kernel', async () => {
  await assert.rejects(selectBackend('wasm', new Set(['conv2d', 'dense'])), (err: unknown) => {
    assert.ok(err instanceof BackendError);
    assert.match(err.message, /backend "wasm" cannot train these models \(no Conv2DBackpropFilter kernel\); use "auto", "tensorflow" or "cpu"/);
    return true;
  });
});

test('auto skips a backend that cannot train the models and records why', async () => {
  const info = await selectBackend('auto', new Set(['conv2d', 'dense']));
  assert.equal(info.name, nativeHere ? 'tensorflow' : 'cpu');
  if (!nativeHere) assert.ok(info.tried.some((t) => t.name === 'wasm' && !t.ok && /Conv2DBackpropFilter/.test(t.detail)), JSON.stringify(info.tried));
  assert.match(info.reason, /best available/);
});

test('auto prefers tensorflow, then wasm, for dense models', async () => {
  const info = await selectBackend('auto', new Set(['dense']));
  assert.equal(info.name, nativeHere ? 'tensorflow' : 'wasm');
  const tfnode = info.tried.find((t) => t.name === '@tensorflow/tfjs-node');
  assert.ok(tfnode, 'the attempt at tfjs-node is recorded');
  assert.equal(tfnode.ok, nativeHere);
});

test('forcing tensorflow where it cannot load is a clear error', { skip: nativeHere && 'the native backend loads here' }, async () => {
  await assert.rejects(selectBackend('tensorflow', new Set(['dense'])), /backend "tensorflow" is not available: .*tfjs-node: (not installed|failed to load)/);
});
