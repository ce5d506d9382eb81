/**
 * Tiny last batches: RKD compares examples within a batch (distances need a pair, angles a
 * triplet), so a last batch of one example used to compute 0/0 and kill the run. The rule now:
 * on a batch with fewer rows than a part needs, that part is 0 (zero gradient); `data.dropLast`
 * leaves the last, incomplete batch out altogether.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { compileObjective } from '../src/core/distill/objective.ts';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import { runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

const events = (run: string): RunEvent[] => parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));

/** 129 training examples in batches of 64: the last batch of each epoch holds one example. */
const rkdConfig = (data: Record<string, unknown> = {}) =>
  smallConfig({
    backend: 'wasm',
    baseline: false,
    bench: { enabled: false },
    export: { onnx: false },
    data: { source: 'demo', trainLimit: 129, batchSize: 64, ...data },
    distill: { method: 'combined', hardWeight: 1, terms: [{ type: 'rkd' }] },
    train: { epochs: 2, logEvery: 1 },
  });

test('rkd with a last batch of one example: the run finishes, every logged loss finite', () => {
  const dir = tempDir('rkd-last1');
  const r = runCli(['train', writeConfig(dir, 'rkd', rkdConfig())], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const es = events(runFolders(dir)[0]);
  const started = es.find((e) => e.type === 'phase_started' && e.phase === 'distill');
  assert.ok(started?.type === 'phase_started' && started.stepsPerEpoch === 3, JSON.stringify(started));
  const steps = es.filter((e) => e.type === 'step' && e.phase === 'distill');
  assert.equal(steps.length, 6); // logEvery 1: the batch of one is logged on its own
  for (const s of steps)
    if (s.type === 'step')
      for (const [name, v] of Object.entries(s.loss)) assert.ok(Number.isFinite(v), `${name} = ${v} at ${s.step}`);
  // The batch of one (every third step) has no pair: its rkd parts are 0.
  const lastOfEpoch = steps.filter((s) => s.type === 'step' && s.step % 3 === 0);
  for (const s of lastOfEpoch)
    if (s.type === 'step') {
      assert.equal(s.loss.rkd_distance, 0);
      assert.equal(s.loss.rkd_angle, 0);
    }
  assert.ok(es.at(-1)?.type === 'run_finished');
});

test('data.dropLast leaves the last, incomplete batch out: 2 steps per epoch of 64 examples', () => {
  const dir = tempDir('rkd-droplast');
  const r = runCli(['train', writeConfig(dir, 'rkd', rkdConfig({ dropLast: true }))], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const es = events(runFolders(dir)[0]);
  const started = es.find((e) => e.type === 'phase_started' && e.phase === 'distill');
  assert.ok(started?.type === 'phase_started' && started.stepsPerEpoch === 2, JSON.stringify(started));
  const steps = es.filter((e) => e.type === 'step' && e.phase === 'distill');
  assert.equal(steps.length, 4);
  for (const s of steps) if (s.type === 'step') assert.ok(s.loss.rkd_distance > 0, JSON.stringify(s.loss));
  const epochs = es.filter((e) => e.type === 'epoch' && e.phase === 'distill');
  assert.equal(epochs.length, 2);
});

test('rkd on batches of 1, 2 and 3 rows: finite values and gradients; each part counts from the rows it needs', async () => {
  await tf.setBackend('cpu');
  const objective = compileObjective({
    method: 'combined',
    hardWeight: 0,
    labelSmoothing: 0,
    terms: [{ type: 'rkd', distanceWeight: 25, angleWeight: 50, student: 'logits', teacher: 'logits' }],
  });
  const seen: Record<number, Record<string, number>> = {};
  for (const n of [1, 2, 3]) {
    const s = tf.variable(tf.randomNormal([n, 10], 0, 1, 'float32', n));
    const t = tf.randomNormal([n, 10], 0, 1, 'float32', 10 + n) as tf.Tensor2D;
    const y = tf.zeros([n], 'int32') as tf.Tensor1D;
    const { value, grads } = tf.variableGrads(() => {
      const terms = objective.loss(
        { logits: s as unknown as tf.Tensor2D, outputs: new Map() },
        { logits: t, outputs: new Map() },
        y,
        {
          epoch: 1,
          fraction: 0,
        },
      );
      seen[n] = Object.fromEntries(Object.entries(terms).map(([k, v]) => [k, v!.dataSync()[0]]));
      return terms.total;
    });
    assert.ok(Number.isFinite(value.dataSync()[0]), `n = ${n}: total ${value.dataSync()[0]}`);
    for (const g of Object.values(grads)) assert.ok(g.dataSync().every(Number.isFinite), `n = ${n}: gradient`);
    tf.dispose([s, t, y, value, ...Object.values(grads)]);
  }
  assert.deepEqual({ ...seen[1], hard: 0 }, { hard: 0, rkd_distance: 0, rkd_angle: 0, total: 0 });
  // Two rows: their one distance, divided by the mean distance, is 1 on both sides, and there is no
  // triplet: both parts are 0 by the formula itself (finite, unlike 0/0 on one row).
  assert.equal(seen[2].rkd_distance, 0);
  assert.equal(seen[2].rkd_angle, 0);
  assert.ok(seen[3].rkd_distance > 0, 'three rows have distances to compare');
  assert.ok(seen[3].rkd_angle > 0, 'and a triplet');
});
