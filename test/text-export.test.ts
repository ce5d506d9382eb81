import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { toOnnx } from '../src/core/export/onnx.ts';
import { onnxMaxAbsDiff } from '../src/core/export/verify.ts';
import { ArchitectureError, buildModel } from '../src/core/models/build.ts';
import { loadModel, saveModel } from '../src/core/models/io.ts';
import type { ArchitectureSpec } from '../src/core/config/schema.ts';
import { tempDir } from './helpers/cli.ts';

const pythonOnnx = spawnSync('python3', ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;

/** onnx.checker.check_model(full_check=True) from the Python onnx package, on every file at once (one interpreter). */
function pythonCheck(files: string[]): void {
  const r = spawnSync(
    'python3',
    [
      '-c',
      'import onnx, sys\nfor f in sys.argv[1:]: onnx.checker.check_model(onnx.load(f), full_check=True)\nprint("ok", len(sys.argv) - 1)',
      ...files,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `ok ${files.length}`);
}
const exported: string[] = [];
const exportDir = tempDir('onnx-text');

const VOCAB = 50;
const LENGTH = 12;
const text = (
  encoder: 'mean' | 'conv' | 'lstm' | 'gru',
  more: Partial<Extract<ArchitectureSpec, { type: 'text' }>> = {},
) =>
  ({
    type: 'text',
    embeddingDim: 8,
    encoder,
    units: 6,
    convLayers: 2,
    kernelSize: 3,
    bidirectional: false,
    dense: [5],
    dropout: 0.1,
    ...more,
  }) as ArchitectureSpec;

const architectures: Record<string, ArchitectureSpec> = {
  'fastText: embedding + masked mean': text('mean'),
  'TextCNN: embedding + 2 conv1d + global max pool': text('conv'),
  'LSTM (final state at the last real token)': text('lstm'),
  BiLSTM: text('lstm', { bidirectional: true }),
  GRU: text('gru'),
  BiGRU: text('gru', { bidirectional: true }),
  'layers: unmasked embedding, valid conv1d (tanh), flatten': {
    type: 'layers',
    layers: [
      { type: 'embedding', dim: 4, maskPadding: false },
      { type: 'conv1d', filters: 3, kernelSize: 4, padding: 'valid', activation: 'tanh' },
      { type: 'flatten' },
    ],
  },
};

for (const [name, arch] of Object.entries(architectures)) {
  test(`text student exports to ONNX, matches tfjs on padded token rows and passes onnx.checker: ${name}`, async () => {
    await tf.setBackend('cpu');
    const model = buildModel(arch, [LENGTH], 3, '', VOCAB);
    // Non-trivial biases (tfjs initialises them to 0; the LSTM forget bias to 1).
    for (const layer of model.layers)
      for (const cell of layer.getClassName() === 'Bidirectional'
        ? [
            (layer as unknown as { forwardLayer: tf.layers.Layer }).forwardLayer,
            (layer as unknown as { backwardLayer: tf.layers.Layer }).backwardLayer,
          ]
        : [layer]) {
        const w = cell.getWeights();
        if (w.length === 0) continue;
        cell.setWeights(w.map((t, i) => (t.rank === 1 ? tf.randomNormal(t.shape, 0, 0.5, 'float32', i + 7) : t)));
      }
    const bytes = await toOnnx(model, { name });
    const { maxAbsDiff, maxAbsOutput } = await onnxMaxAbsDiff(model, bytes);
    assert.ok(maxAbsDiff <= 1e-5, `max abs diff ${maxAbsDiff} (outputs up to ${maxAbsOutput})`);
    assert.ok(maxAbsOutput > 0.01, 'the outputs are not trivially zero');
    // Padding matters where the mask is read: appending padding to a row changes nothing.
    if (arch.type === 'text' && arch.encoder !== 'conv') {
      const session = await ort.InferenceSession.create(bytes);
      const row = Float32Array.from({ length: LENGTH }, (_, t) => (t < 4 ? t + 3 : 0));
      const out = await session.run({ input: new ort.Tensor('float32', row, [1, LENGTH]) });
      const short = buildModel(arch, [4], 3, '', VOCAB);
      short.setWeights(model.getWeights());
      const want = (await (short.predict(tf.tensor(row.subarray(0, 4), [1, 4])) as tf.Tensor).data()) as Float32Array;
      const got = out.logits.data as Float32Array;
      for (let j = 0; j < 3; j++) assert.ok(Math.abs(got[j] - want[j]) < 1e-5, `${got[j]} vs ${want[j]}`);
      short.dispose();
      await session.release();
    }
    const file = path.join(exportDir, `${exported.length}.onnx`);
    fs.writeFileSync(file, bytes);
    exported.push(file);
    // Saved and loaded (checkpoints, artifacts): the custom mean pooling layer deserialises.
    const dir = path.join(tempDir('text-model'), 'm');
    await saveModel(model, dir);
    const { model: loaded } = await loadModel(path.join(dir, 'model.json'));
    const x = tf.tensor([[5, 6, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
    const a = (await (model.predict(x) as tf.Tensor).data()) as Float32Array;
    const b = (await (loaded.predict(x) as tf.Tensor).data()) as Float32Array;
    assert.deepEqual(Array.from(b), Array.from(a));
    model.dispose();
    loaded.dispose();
  });
}

test('every text export passes onnx.checker (full check)', { skip: !pythonOnnx && 'no Python onnx package' }, () => {
  assert.equal(exported.length, Object.keys(architectures).length);
  pythonCheck(exported);
});

test('text architectures are refused where they do not fit, naming the layer', async () => {
  await tf.setBackend('cpu');
  const problem = (arch: ArchitectureSpec, shape: number[], vocab?: number) => {
    try {
      buildModel(arch, shape, 3, '', vocab).dispose();
    } catch (err) {
      assert.ok(err instanceof ArchitectureError, String(err));
      return { path: err.path, message: err.message };
    }
    return undefined;
  };
  assert.match(
    problem(text('mean'), [28, 28, 1])!.message,
    /an embedding layer takes token ids, which only text data gives/,
  );
  assert.match(
    problem({ type: 'mlp', hidden: [8], activation: 'relu', dropout: 0, batchNorm: false }, [LENGTH], VOCAB)!.message,
    /text data gives token ids, which need an embedding first/,
  );
  const masked = problem(
    {
      type: 'layers',
      layers: [
        { type: 'embedding', dim: 4, maskPadding: true },
        { type: 'conv1d', filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' },
      ],
    },
    [LENGTH],
    VOCAB,
  );
  assert.deepEqual(masked?.path, ['layers', 1]);
  assert.match(masked!.message, /conv1d layer does not use the padding mask .* "maskPadding": false/);
  const flat = problem(
    {
      type: 'layers',
      layers: [
        { type: 'embedding', dim: 4, maskPadding: false },
        { type: 'flatten' },
        { type: 'lstm', units: 2, bidirectional: false },
      ],
    },
    [LENGTH],
    VOCAB,
  );
  assert.deepEqual(flat?.path, ['layers', 2]);
  assert.match(flat!.message, /lstm layer needs a sequence of token vectors/);
});
