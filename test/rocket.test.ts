/**
 * Rocket launching (`strategy.type: "rocket"`): the loss and its gradients against the authors'
 * code (fixtures: python3 scripts/golden/make_rocket_fixtures.py), built through the real path
 * (the strategy's terms, compileObjective, buildTrainingModel with the booster on `dense_1`), and
 * a real run of the CLI on the embedded data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ArchitectureSpec } from '../src/core/config/schema.ts';
import { buildModel } from '../src/core/models/build.ts';
import { buildTrainingModel } from '../src/core/distill/studentOutputs.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import { BOOSTER_LOGITS, rocket } from '../src/core/strategies/rocket.ts';
import type { ConfigWith } from '../src/core/strategies/strategy.ts';
import { parseEvents, type RunEvent, type RunFinishedEvent } from '../src/protocol/events.ts';
import { runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

type Nested = number | Nested[];
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'rocket-golden.json'), 'utf8')) as {
  sizes: { input: number; shared: number; boosterHidden: number; classes: number; batch: number };
  x: number[][];
  labels: number[];
  weights: Record<string, Nested>;
  cases: Array<{
    name: string;
    weight: number;
    gradientBlock: boolean;
    values: Record<string, number>;
    grads: Record<string, Nested>;
  }>;
};

// float32 kernels against float64 references, as terms-golden.test.ts: relative to the largest element.
const RTOL = 1e-5;
const ATOL = 1e-7;

test("rocket launching: loss parts and every weight gradient match the authors' loss, with and without the gradient block", async () => {
  await tf.setBackend('cpu');
  const { sizes } = golden;
  const rocketConfig = (weight: number, gradientBlock: boolean) =>
    ({
      strategy: {
        type: 'rocket',
        shared: 'dense_1',
        booster: { type: 'mlp', hidden: [sizes.boosterHidden], activation: 'relu', dropout: 0, batchNorm: false },
        weight,
        gradientBlock,
      },
    }) as unknown as ConfigWith<'rocket'>;
  for (const c of golden.cases) {
    const arch = (hidden: number): ArchitectureSpec => ({
      type: 'mlp',
      hidden: [hidden],
      activation: 'relu',
      dropout: 0,
      batchNorm: false,
    });
    const student = buildModel(arch(sizes.shared), [sizes.input], sizes.classes);
    const booster = buildModel(arch(sizes.boosterHidden), [sizes.shared], sizes.classes, 'booster_');
    const training = buildTrainingModel(student, [], new Map(), 'distill', [
      { key: BOOSTER_LOGITS, model: booster, on: 'dense_1' },
    ]);
    const weights = training.model.trainableWeights;
    assert.deepEqual(weights.map((w) => w.originalName).sort(), Object.keys(golden.weights).sort());
    for (const w of weights) w.write(tf.tensor(golden.weights[w.originalName] as number[], w.shape as number[]));
    const objective = compileObjective(
      { method: 'none', labelSmoothing: 0 },
      rocket.terms!(rocketConfig(c.weight, c.gradientBlock)),
    );
    const x = tf.tensor2d(golden.x);
    const y = tf.tensor1d(golden.labels, 'int32');
    const values: Record<string, number> = {};
    const variables = weights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => {
      const terms = objective.loss(training.forward(x, true), undefined, y, { epoch: 1, fraction: 0 });
      for (const [k, v] of Object.entries(terms)) values[k] = v.dataSync()[0];
      return terms.total;
    }, variables);
    for (const [name, want] of Object.entries(c.values))
      assert.ok(
        Math.abs(values[name] - want) <= RTOL * Math.abs(want) + ATOL,
        `${c.name}: ${name} ${values[name]} vs ${want}`,
      );
    for (const w of weights) {
      const got = grads[(w.read() as tf.Variable).name].dataSync();
      const want = [c.grads[w.originalName]].flat(3) as number[];
      const scale = Math.max(...want.map(Math.abs));
      want.forEach((v, i) =>
        assert.ok(
          Math.abs(got[i] - v) <= RTOL * scale + ATOL,
          `${c.name}: d total / d ${w.originalName}[${i}] = ${got[i]}, reference ${v}`,
        ),
      );
    }
    tf.dispose([x, y, ...Object.values(grads)]);
    training.model.dispose();
  }
  // The fixtures tell the gradient block apart: the booster's own weights get another gradient without it.
  const [blocked, , unblocked] = golden.cases;
  assert.notDeepEqual(blocked.grads['booster_logits/kernel'], unblocked.grads['booster_logits/kernel']);
});

const events = (run: string): RunEvent[] => parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));

test('rocket launching from a config: the student and a booster sharing its dense_1 train together; the booster has its own row, the student is exported', () => {
  const dir = tempDir('rocket');
  const strategy = { type: 'rocket', shared: 'dense_1', booster: { type: 'mlp', hidden: [48] }, weight: 0.03 };
  const config = smallConfig({
    bench: { enabled: false },
    export: { onnx: false },
    distill: { method: 'none' },
    strategy,
    train: { epochs: 2, logEvery: 5, optimizer: { type: 'adam', learningRate: 0.005 } },
  });
  const r = runCli(['train', writeConfig(dir, 'rocket', config)], dir);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const evs = events(run);
  let epochs = 0;
  const boosterHard: number[] = [];
  for (const e of evs) {
    if (e.type !== 'epoch' || e.phase !== 'distill') continue;
    epochs++;
    const l = e.train.loss;
    assert.deepEqual(Object.keys(l).sort(), ['booster_hard', 'hard', 'rocket_hint', 'total']);
    const expected = l.hard + l.booster_hard + 0.03 * l.rocket_hint;
    assert.ok(Math.abs(l.total - expected) <= 1e-4 * expected, `total ${l.total}, weighted sum ${expected}`);
    assert.ok(l.rocket_hint > 0);
    boosterHard.push(l.booster_hard);
  }
  assert.equal(epochs, 2);
  assert.ok(boosterHard[1] < boosterHard[0], `the booster learns: ${boosterHard.join(' -> ')}`);
  const summary = evs.find((e): e is RunFinishedEvent => e.type === 'run_finished')!.summary;
  assert.deepEqual(
    summary.map((s) => [s.model, s.learnedFrom]),
    [
      ['teacher', undefined],
      ['scratch', undefined],
      ['distilled', 'booster (rocket)'],
      ['booster', "labels, sharing the student's layers (rocket)"],
    ],
  );
  // The booster is the student's dense_1 (784 -> 16, shared) plus its own 16 -> 48 -> 10 layers.
  assert.equal(summary[3].params, 784 * 16 + 16 + (16 * 48 + 48) + (48 * 10 + 10));
  assert.equal(summary[2].params, 784 * 16 + 16 + 16 * 10 + 10);
  // Two short epochs: the booster (a deeper head) is still learning, but far above chance (10 %).
  assert.ok(summary[3].accuracy > 0.25, `booster accuracy ${summary[3].accuracy}`);
  // The booster trains and is checkpointed with the student, but is not part of the delivered student.
  assert.match(
    fs.readFileSync(path.join(run, 'checkpoints', 'distill', 'final', 'model', 'model.json'), 'utf8'),
    /booster_dense_1/,
  );
  assert.doesNotMatch(fs.readFileSync(path.join(run, 'artifacts', 'student', 'model.json'), 'utf8'), /booster_/);

  // A shared layer the student does not have is refused before the run, at its field.
  const bad = runCli(
    ['train', writeConfig(dir, 'bad', { ...config, strategy: { ...strategy, shared: 'dense_9' } })],
    dir,
  );
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(
    bad.stderr,
    /strategy\.shared: the student has no layer "dense_9"; its layers are flatten_1, dense_1, logits/,
  );
  assert.equal(runFolders(dir).length, 1);
});
