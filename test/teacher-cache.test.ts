import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../src/core/models/io.ts';
import { demoTeacherPath } from '../src/core/paths.ts';
import { loadDataset } from '../src/core/data/dataset.ts';
import { predictLogits } from '../src/core/train/evaluate.ts';
import { hintonTerms } from './helpers/objective.ts';
import { permutation } from '../src/core/random.ts';

// The speed-up that matters most: the teacher's logits are computed once per run and gathered per
// batch, instead of a teacher forward pass in every step (as the PyTorch anchor does). With no
// augmentation the two must give the same KD loss; this holds it to that.
test('cached teacher outputs give the same KD loss as a teacher forward pass per batch', async () => {
  await tf.setBackend('cpu');
  const { model: teacher } = await loadModel(demoTeacherPath());
  const data = await loadDataset(
    { source: 'demo', validationFraction: 0.1, trainLimit: 600, normalize: 'scale', batchSize: 64, evalBatchSize: 250 },
    3,
  );
  const x = tf.tensor(data.train.x, [data.train.n, 28, 28, 1]);
  const y = tf.tensor1d(data.train.y, 'int32');
  const cached = predictLogits(teacher, x, 250); // batched differently from the steps below, on purpose
  const student = tf.randomNormal([64, 10], 0, 2, 'float32', 7) as tf.Tensor2D;
  const order = permutation(data.train.n, 11);
  let maxDiff = 0;
  for (let start = 0; start + 64 <= data.train.n; start += 64) {
    const idx = tf.tensor1d(order.subarray(start, start + 64), 'int32');
    const [fromCache, perBatch] = tf.tidy(() => {
      const yb = tf.gather(y, idx) as tf.Tensor1D;
      const a = hintonTerms(student, tf.gather(cached, idx) as tf.Tensor2D, yb, {
        temperature: 4,
        alpha: 0.5,
      }).total.dataSync()[0];
      const live = teacher.apply(tf.gather(x, idx), { training: false }) as tf.Tensor2D;
      const b = hintonTerms(student, live, yb, { temperature: 4, alpha: 0.5 }).total.dataSync()[0];
      return [a, b];
    });
    maxDiff = Math.max(maxDiff, Math.abs(fromCache - perBatch));
    idx.dispose();
  }
  assert.ok(maxDiff < 1e-5, `KD loss differs by ${maxDiff}`);
});
