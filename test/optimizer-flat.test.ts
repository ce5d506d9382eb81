/**
 * The optimizer updates every variable through one flat buffer (src/core/train/optimizer.ts). Over
 * several variables of different shapes it must give, bit for bit, what one optimizer per variable
 * gives (the single-variable path has no concatenation or slicing), and its state must still be one
 * named array per variable and slot, restored by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Optimizer } from '../src/core/train/optimizer.ts';
import type { OptimizerSpec } from '../src/core/config/schema.ts';

tf.env().set('PROD', true);

const SHAPES = [[7, 5], [5], [5, 3], [3]];
const SPECS: Record<string, OptimizerSpec> = {
  adam: { type: 'adam', learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
  adamw: { type: 'adamw', learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1 },
  sgd: { type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
};

const variables = (seed: number) => SHAPES.map((s, i) => tf.variable(tf.randomNormal(s, 0, 1, 'float32', seed + i)));

for (const [name, spec] of Object.entries(SPECS)) {
  test(`${name} over four variables in one buffer equals one optimizer per variable, bit for bit`, async () => {
    await tf.setBackend('cpu');
    const together = variables(1);
    const alone = variables(1);
    const flat = new Optimizer(spec, together, ['a/kernel', 'a/bias', 'b/kernel', 'b/bias']);
    const each = alone.map((v) => new Optimizer(spec, [v]));
    const lrs = [0.01, 0.02, 0.005];
    lrs.forEach((lr, step) => {
      const grads = SHAPES.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 100 * step + i));
      flat.apply(grads, lr);
      each.forEach((o, i) => o.apply([grads[i]], lr));
      tf.dispose(grads);
    });
    for (let i = 0; i < SHAPES.length; i++)
      assert.deepEqual(await together[i].data(), await alone[i].data(), `variable ${i} after ${lrs.length} steps`);

    // The state: one array per variable and slot, by name, each the single-variable optimizer's.
    const state = await flat.getState();
    const slots = spec.type === 'sgd' ? ['momentum'] : ['m', 'v'];
    assert.deepEqual(
      state.slots.map((s) => s.name),
      ['a/kernel', 'a/bias', 'b/kernel', 'b/bias'].flatMap((v) => slots.map((s) => `${v}/${s}`)),
    );
    for (let i = 0; i < SHAPES.length; i++) {
      const own = await each[i].getState();
      own.slots.forEach((s, j) => {
        const got = state.slots[i * slots.length + j];
        assert.deepEqual(got.shape, SHAPES[i]);
        assert.deepEqual(got.data, s.data, `${got.name}`);
      });
    }

    // Restored into fresh slots, it continues exactly as the original does.
    const copies = together.map((v) => tf.variable(v.clone()));
    const restored = new Optimizer(spec, copies, ['a/kernel', 'a/bias', 'b/kernel', 'b/bias']);
    restored.setState(state);
    const grads = SHAPES.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 900 + i));
    flat.apply(grads, 0.01);
    restored.apply(grads, 0.01);
    for (let i = 0; i < SHAPES.length; i++) assert.deepEqual(await copies[i].data(), await together[i].data());

    tf.dispose([...together, ...alone, ...copies, ...grads]);
    [flat, restored, ...each].forEach((o) => o.dispose());
  });
}
