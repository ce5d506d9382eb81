/**
 * Checkpoints name every array they hold (weights, optimizer slots, best weights): one that does
 * not fit the model it is resumed into is refused naming what differs, and checkpoints of an
 * older layout are refused with a clear message (in process, and through the CLI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { configSchema, type ArchitectureSpec, type DistillConfig } from '../src/core/config/schema.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import { buildTrainingModel } from '../src/core/distill/studentOutputs.ts';
import { buildModel } from '../src/core/models/build.ts';
import {
  CHECKPOINT_VERSION,
  CheckpointError,
  latestCheckpoint,
  restoreWeights,
  writeCheckpoint,
  type PhaseProgress,
} from '../src/core/train/checkpoint.ts';
import { trainPhase, type PhaseSetup } from '../src/core/train/loop.ts';
import { Optimizer } from '../src/core/train/optimizer.ts';
import { parseEvents } from '../src/protocol/events.ts';
import { runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

const mlp = (hidden: number[]): ArchitectureSpec => ({
  type: 'mlp',
  hidden,
  activation: 'relu',
  dropout: 0,
  batchNorm: false,
});
const trainConfig = (optimizer: Record<string, unknown>): DistillConfig['train'] =>
  configSchema.parse({
    data: { source: 'demo' },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp' } },
    train: { optimizer },
  }).train;

/** Reads the names in the header of optimizer.bin / best.bin. */
function arrayNames(file: string): string[] {
  const buf = fs.readFileSync(file);
  return (JSON.parse(buf.subarray(4, 4 + buf.readUInt32LE(0)).toString()) as Array<{ name: string }>).map(
    (e) => e.name,
  );
}

/** A checkpoint of an MLP student (hidden [8]) mid-epoch, with its Adam state and best weights. */
async function writeStudentCheckpoint(runDir: string): Promise<string> {
  const model = buildModel(mlp([8]), [6], 3);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = new Optimizer(
    trainConfig({ type: 'adam' }).optimizer,
    variables,
    model.trainableWeights.map((w) => w.originalName),
  );
  const grads = variables.map((v) => tf.onesLike(v));
  optimizer.apply(grads, 0.1);
  tf.dispose(grads);
  const progress: PhaseProgress = {
    version: CHECKPOINT_VERSION,
    phase: 'distill',
    epochsDone: 1,
    stepInEpoch: 2,
    globalStep: 7,
    rngState: 5,
    optimizerStep: 1,
    best: { accuracy: 0.5, epoch: 1 },
    epochsWithoutImprovement: 0,
  };
  const best = model.getWeights().map((w) => w.clone());
  const dir = await writeCheckpoint(runDir, {
    progress,
    model,
    optimizerSlots: (await optimizer.getState()).slots,
    bestWeights: best,
  });
  tf.dispose(best);
  optimizer.dispose();
  model.dispose();
  return dir;
}

/** A phase of the same student resumed from `runDir`'s checkpoint, with `optimizer` and `hidden`. */
function resumedPhase(runDir: string, optimizer: Record<string, unknown>, hidden = [8]): PhaseSetup {
  const n = 8;
  const split = { x: tf.zeros([n, 6]), y: tf.zeros([n], 'int32') as tf.Tensor1D, n };
  const model = buildModel(mlp(hidden), [6], 3);
  const objective = compileObjective({ method: 'none', labelSmoothing: 0 });
  return {
    phase: 'distill',
    model,
    training: buildTrainingModel(model, [], new Map(), 'distill'),
    train: split,
    validation: split,
    loss: objective.loss,
    epochs: 2,
    learningRate: 0.1,
    batchSize: 4,
    evalBatchSize: 4,
    train_: trainConfig(optimizer),
    resumeFrom: latestCheckpoint(runDir, 'distill'),
  };
}

const noHooks = { emitStep: () => {}, emitEpoch: () => {}, checkpoint: async () => '', stopRequested: () => false };

test.before(async () => {
  await tf.setBackend('cpu');
});

test("a checkpoint names its optimizer slots and best weights after the model's weights", async () => {
  const dir = await writeStudentCheckpoint(tempDir('ckpt-names'));
  const weights = ['dense_1/kernel', 'dense_1/bias', 'logits/kernel', 'logits/bias'];
  assert.deepEqual(
    arrayNames(path.join(dir, 'optimizer.bin')),
    weights.flatMap((w) => [`${w}/m`, `${w}/v`]),
  );
  assert.deepEqual(arrayNames(path.join(dir, 'best.bin')), weights);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')).version, 2);
});

test('a checkpoint resumes into the model it was written for', async () => {
  const runDir = tempDir('ckpt-fits');
  await writeStudentCheckpoint(runDir);
  const setup = resumedPhase(runDir, { type: 'adam' });
  await restoreWeights(setup.training.model, setup.resumeFrom!);
  const outcome = await trainPhase(setup, noHooks);
  assert.equal(outcome.progress.epochsDone, 2);
});

test('a checkpoint of another architecture is refused, naming the weight that differs', async () => {
  const runDir = tempDir('ckpt-arch');
  await writeStudentCheckpoint(runDir);
  const setup = resumedPhase(runDir, { type: 'adam' }, [16]);
  await assert.rejects(restoreWeights(setup.training.model, setup.resumeFrom!), (err: Error) => {
    assert.ok(err instanceof CheckpointError, String(err));
    assert.match(
      err.message,
      /checkpoints\/distill\/epoch-0001-step-000002: the saved weights do not fit this model: dense_1\/kernel is \[6, 8\] there and \[6, 16\] here/,
    );
    return true;
  });
  // Another layer stack: the missing and the extra weights are named.
  const deeper = resumedPhase(runDir, { type: 'adam' }, [8, 4]);
  await assert.rejects(
    restoreWeights(deeper.training.model, deeper.resumeFrom!),
    /the saved weights do not fit this model: none for dense_2\/kernel, dense_2\/bias/,
  );
});

test('an optimizer state of another optimizer is refused, naming the slots', async () => {
  const runDir = tempDir('ckpt-optimizer');
  await writeStudentCheckpoint(runDir);
  const setup = resumedPhase(runDir, { type: 'sgd', momentum: 0.9 });
  await assert.rejects(trainPhase(setup, noHooks), (err: Error) => {
    assert.ok(err instanceof CheckpointError, String(err));
    assert.match(
      err.message,
      /the saved optimizer slots do not fit this model: none for dense_1\/kernel\/momentum, dense_1\/bias\/momentum, logits\/kernel\/momentum and 1 more; dense_1\/kernel\/m, dense_1\/kernel\/v, dense_1\/bias\/m and 5 more that it does not have/,
    );
    return true;
  });
});

test('a checkpoint of the older, unnamed layout (version 1) is refused with what to do', async () => {
  const runDir = tempDir('ckpt-v1');
  const dir = await writeStudentCheckpoint(runDir);
  const state = path.join(dir, 'state.json');
  fs.writeFileSync(state, JSON.stringify({ ...JSON.parse(fs.readFileSync(state, 'utf8')), version: 1 }));
  assert.throws(
    () => latestCheckpoint(runDir, 'distill'),
    (err: Error) => {
      assert.ok(err instanceof CheckpointError);
      assert.match(
        err.message,
        /epoch-0001-step-000002: checkpoint version 1, but this Distill Studio resumes version 2 only \(older checkpoints store the optimizer state without variable names\); start a new run with the run's config.json/,
      );
      return true;
    },
  );
});

test('--resume of a run with version-1 checkpoints exits 2 with the reason, as a user error', () => {
  const dir = tempDir('ckpt-v1-cli');
  const r = runCli(
    [
      'train',
      writeConfig(
        dir,
        'v1',
        smallConfig({
          backend: 'wasm',
          baseline: false,
          bench: { enabled: false },
          export: { onnx: false },
          train: { epochs: 1 },
        }),
      ),
    ],
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const state = path.join(run, 'checkpoints', 'distill', 'final', 'state.json');
  fs.writeFileSync(state, JSON.stringify({ ...JSON.parse(fs.readFileSync(state, 'utf8')), version: 1 }));
  const resumed = runCli(['train', '--resume', run], dir);
  assert.equal(resumed.code, 2, resumed.stdout + resumed.stderr);
  assert.match(
    resumed.stderr,
    /checkpoints\/distill\/final: checkpoint version 1, but this Distill Studio resumes version 2 only/,
  );
  assert.doesNotMatch(resumed.stderr, /\n\s+at /, 'no stack trace');
  const failed = parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8')).at(-1)!;
  assert.ok(
    failed.type === 'run_failed' && failed.kind === 'user' && failed.phase === 'distill',
    JSON.stringify(failed),
  );
});
