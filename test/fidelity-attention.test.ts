/**
 * Attention transfer needs p >= 1: the map is mean(|x|^p) over channels, and d|x|^p/dx =
 * p·|x|^(p-1)·sign(x) is infinite at x = 0 for p < 1, which every ReLU output has, so the
 * gradient (and the run) turned NaN. The schema refuses p < 1 at the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { validateConfigText } from '../src/core/config/load.ts';
import { attentionMap } from '../src/core/distill/terms.ts';

const config = (p: number) =>
  JSON.stringify(
    {
      data: { source: 'demo' },
      teacher: { source: 'demo' },
      student: { architecture: { type: 'cnn', channels: [8, 16] } },
      distill: {
        method: 'combined',
        terms: [{ type: 'attention', pairs: [{ student: 'conv2d_1', teacher: 'conv2d_1' }], p }],
      },
    },
    null,
    2,
  );

test('attention p < 1 is refused at distill.terms[0].p; p = 1, 2 and 3.5 are accepted', () => {
  const bad = validateConfigText(config(0.5), '/x/at.distill.json', { checkFiles: false }).problems;
  assert.equal(bad.length, 1, JSON.stringify(bad));
  assert.deepEqual(bad[0].path, ['distill', 'terms', 0, 'p']);
  assert.equal(bad[0].line, 28);
  assert.equal(bad[0].message, 'expected a number >= 1, found number 0.5');
  for (const p of [1, 2, 3.5])
    assert.deepEqual(
      validateConfigText(config(p), '/x/at.distill.json', { checkFiles: false }).problems,
      [],
      `p = ${p}`,
    );
});

test('why: at ReLU zeros the attention map has a NaN gradient for p < 1 and a finite one for p >= 1', async () => {
  await tf.setBackend('cpu');
  // Post-ReLU features: half the activations are exactly 0.
  const x = tf.relu(tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 1)) as tf.Tensor4D;
  const finite = (p: number) => {
    const g = tf.grad((f: tf.Tensor) => tf.sum(attentionMap(f as tf.Tensor4D, p)))(x);
    const ok = g.dataSync().every(Number.isFinite);
    g.dispose();
    return ok;
  };
  assert.equal(finite(0.5), false, 'p = 0.5: NaN at the zeros (what the schema keeps out)');
  for (const p of [1, 1.5, 2, 3]) assert.ok(finite(p), `p = ${p}`);
  x.dispose();
});
