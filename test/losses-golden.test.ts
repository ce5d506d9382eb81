import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hintonLoss, softTargetKl } from '../src/core/distill/losses.ts';

// Fixtures: python3 scripts/golden/make_kd_fixtures.py (PyTorch, float64).
interface Case {
  batch: number;
  classes: number;
  temperature: number;
  alpha: number;
  student: number[][];
  teacher: number[][];
  labels: number[];
  hard: number;
  kd: number;
  total: number;
  hardGrad: number[][];
  kdGrad: number[][];
  totalGrad: number[][];
}
const { cases } = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'kd-golden.json'), 'utf8')) as { cases: Case[] };

// float32 against float64: relative 1e-5 of the value's scale, plus a small absolute floor.
function close(got: number, want: number, what: string, scale = Math.abs(want)) {
  assert.ok(Math.abs(got - want) <= 1e-5 * Math.max(1, scale) + 1e-6, `${what}: got ${got}, PyTorch ${want}`);
}

for (const c of cases) {
  test(`Hinton KD matches PyTorch: batch ${c.batch}, ${c.classes} classes, T=${c.temperature}, alpha=${c.alpha}`, async () => {
    await tf.setBackend('cpu');
    const s = tf.tensor2d(c.student);
    const t = tf.tensor2d(c.teacher);
    const y = tf.tensor1d(c.labels, 'int32');
    const opts = { temperature: c.temperature, alpha: c.alpha };
    const terms = hintonLoss(s, t, y, opts);
    close(terms.total.dataSync()[0], c.total, 'total');
    close(terms.hard.dataSync()[0], c.hard, 'hard');
    close(terms.kd!.dataSync()[0], c.kd, 'kd');
    for (const name of ['total', 'hard', 'kd'] as const) {
      const grad = tf.grad((x: tf.Tensor) => hintonLoss(x as tf.Tensor2D, t, y, opts)[name]!)(s);
      const want = c[`${name}Grad`];
      const scale = Math.max(...want.flat().map(Math.abs));
      (grad.arraySync() as number[][]).flat().forEach((g, i) => close(g, want.flat()[i], `d${name}/ds[${i}]`, scale));
    }
  });
}

test('the soft-target term is zero when the student equals the teacher, and positive otherwise', async () => {
  await tf.setBackend('cpu');
  const a = tf.randomNormal([16, 10], 0, 3, 'float32', 1) as tf.Tensor2D;
  const b = tf.randomNormal([16, 10], 0, 3, 'float32', 2) as tf.Tensor2D;
  for (const T of [0.5, 1, 4, 20]) {
    assert.ok(Math.abs(softTargetKl(a, a, T).dataSync()[0]) < 1e-5, `KL(a||a) at T=${T}`);
    assert.ok(softTargetKl(a, b, T).dataSync()[0] > 0, `KL(b||a) at T=${T}`);
  }
});
