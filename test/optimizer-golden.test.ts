import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Optimizer } from '../src/core/train/optimizer.ts';
import type { OptimizerSpec } from '../src/core/config/schema.ts';

// Fixtures: python3 scripts/golden/make_optimizer_fixtures.py (PyTorch, float64).
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'optimizer-golden.json'), 'utf8')) as {
  p0: number[][];
  grads: number[][][];
  lrs: number[];
  cases: Array<{ name: string; spec: OptimizerSpec; after: number[][][] }>;
};

tf.env().set('PROD', true);

for (const c of golden.cases) {
  test(`${c.name} matches PyTorch step by step, with a changing learning rate`, async () => {
    await tf.setBackend('cpu');
    const p = tf.variable(tf.tensor2d(golden.p0));
    const opt = new Optimizer(c.spec, [p]);
    golden.grads.forEach((g, step) => {
      const grad = tf.tensor2d(g);
      opt.apply([grad], golden.lrs[step]);
      grad.dispose();
      const got = p.arraySync() as number[][];
      const want = c.after[step];
      let maxErr = 0;
      got.flat().forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - want.flat()[i]))));
      assert.ok(maxErr < 2e-6, `step ${step + 1}: max abs error ${maxErr}`);
    });
    // The state round-trips: a restored optimizer continues identically.
    const state = await opt.getState();
    assert.equal(state.step, golden.grads.length);
    const q = tf.variable(p.clone());
    const restored = new Optimizer(c.spec, [q]);
    restored.setState(state);
    const g = tf.tensor2d(golden.grads[0]);
    opt.apply([g], 0.01);
    restored.apply([g], 0.01);
    assert.deepEqual(q.arraySync(), p.arraySync());
    tf.dispose([p, q, g]);
    opt.dispose();
    restored.dispose();
  });
}
