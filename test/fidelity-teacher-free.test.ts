/**
 * Teacher-free KD's virtual teacher is softmax(u / T) of an already-normalised u, so at the
 * defaults it puts about 10.4 % on the label, not `correctProbability`. The schema text states the
 * figure; this pins it against a closed form computed without tfjs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lossTermSchema } from '../src/core/config/schema.ts';
import { virtualTeacherLogProbabilities } from '../src/core/distill/terms.ts';

const classes = 10; // the demo data's

/** softmax(u / T) by hand: the label's and each other class's probability. */
function closedForm(q: number, T: number, k: number): { label: number; other: number } {
  const onLabel = Math.exp(q / T);
  const elsewhere = Math.exp((1 - q) / (k - 1) / T);
  const total = onLabel + (k - 1) * elsewhere;
  return { label: onLabel / total, other: elsewhere / total };
}

const defaults = lossTermSchema.parse({ type: 'teacher_free' }) as {
  temperature: number;
  correctProbability: number;
};

test('teacher_free at the defaults puts 10.4 % on the label (softmax at T of the virtual logits)', () => {
  assert.equal(defaults.temperature, 20);
  assert.equal(defaults.correctProbability, 0.9);
  const expected = closedForm(defaults.correctProbability, defaults.temperature, classes);
  const labels = tf.tensor1d([3, 0, 9], 'int32');
  const p = tf.exp(virtualTeacherLogProbabilities(labels, classes, defaults.temperature, defaults.correctProbability));
  const rows = p.arraySync() as number[][];
  tf.dispose([labels, p]);
  [3, 0, 9].forEach((label, r) => {
    assert.ok(Math.abs(rows[r][label] - expected.label) < 1e-6, `row ${r}: ${rows[r][label]} vs ${expected.label}`);
    for (let c = 0; c < classes; c++)
      if (c !== label) assert.ok(Math.abs(rows[r][c] - expected.other) < 1e-6, `row ${r} class ${c}`);
  });
  assert.ok(Math.abs(expected.label - 0.10407) < 1e-5, String(expected.label));
  assert.ok(expected.label < defaults.correctProbability / 8);
});

test("teacher_free's schema description states the label's probability at the defaults", () => {
  const option = lossTermSchema.options.find((o) => o.shape.type.value === 'teacher_free');
  const text = option?.shape.type.description ?? '';
  const { label, other } = closedForm(defaults.correctProbability, defaults.temperature, classes);
  assert.match(text, new RegExp(`${(label * 100).toFixed(1).replace('.', '\\.')} % on the label`), text);
  assert.match(text, new RegExp(`${(other * 100).toFixed(2).replace('.', '\\.')} % on each other class`), text);
  assert.doesNotMatch(text, /puts `correctProbability` on the label/);
});
