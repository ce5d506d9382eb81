// One training step of the anchor's student (784-64-10 MLP, batch 128) through the real phase loop
// (src/core/train/loop.ts): ms per step for the from-scratch and the KD objective, and the kernels
// one step dispatches, on one backend per process: wall ms and process CPU ms per step (on a loaded
// machine the CPU time is the steadier figure). Synthetic inputs: the cost of a step does not depend
// on the pixel values. Prints one JSON line.
// `--step tape` forces tfjs's automatic differentiation where the written-out dense step
// (src/core/train/denseStep.ts) would run; its ops bypass tfjs's engine and are counted apart.
// usage: tsx scripts/bench-step.ts --backend tensorflow [--steps 600] [--batch 128] [--step auto|tape]
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/core/backend.ts';
import { configSchema } from '../src/core/config/schema.ts';
import { compileObjective } from '../src/core/distill/objective.ts';
import { buildTrainingModel } from '../src/core/distill/studentOutputs.ts';
import { DENSE_TRAINING } from '../src/core/kernels.ts';
import { denseStepDispatches } from '../src/core/train/denseStep.ts';
import { buildModel } from '../src/core/models/build.ts';
import { mulberry32 } from '../src/core/random.ts';
import { trainPhase, type PhaseSetup } from '../src/core/train/loop.ts';
import type { BackendName } from '../src/protocol/backends.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'tensorflow' },
    steps: { type: 'string', default: '600' },
    batch: { type: 'string', default: '128' },
    step: { type: 'string', default: 'auto' },
  },
});
const batch = Number(values.batch);
const steps = Number(values.steps);

async function main() {
  const info = await selectBackend(values.backend as BackendName, DENSE_TRAINING);
  const config = configSchema.parse({
    data: { source: 'demo' },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp', hidden: [64] } },
    train: { logEvery: 100, seed: 1, step: values.step },
  });
  const n = steps * batch;
  const rand = mulberry32(7);
  const xs = new Float32Array(n * 784).map(() => rand());
  const ys = new Int32Array(n).map(() => Math.floor(rand() * 10));
  const tl = new Float32Array(n * 10).map(() => 4 * rand() - 2);
  const train = { x: tf.tensor4d(xs, [n, 28, 28, 1]), y: tf.tensor1d(ys, 'int32'), n };
  const teacherLogits = tf.tensor2d(tl, [n, 10]);
  const empty = { x: tf.zeros([0, 28, 28, 1]), y: tf.zeros([0], 'int32') as tf.Tensor1D, n: 0 };
  const result: Record<string, unknown> = {
    backend: values.backend,
    device: info.device,
    batch,
    steps,
    step: values.step,
  };
  for (const kind of ['scratch', 'kd'] as const) {
    const objective = compileObjective(
      (kind === 'kd'
        ? { method: 'kd', temperature: 4, alpha: 0.5, divergence: 'forward' }
        : { method: 'none', labelSmoothing: 0 }) as never,
    );
    const student = buildModel(config.student.architecture, [28, 28, 1], 10);
    const training = buildTrainingModel(student, [], new Map(), kind);
    const setup: PhaseSetup = {
      phase: kind === 'kd' ? 'distill' : 'scratch',
      model: student,
      training,
      train,
      validation: empty,
      teacherTrain: kind === 'kd' ? { logits: teacherLogits, outputs: new Map() } : undefined,
      loss: objective.loss,
      objective: objective.canonical,
      epochs: 2,
      learningRate: 1e-3,
      batchSize: batch,
      evalBatchSize: 1000,
      train_: config.train,
    };
    const hooks = {
      emitStep: () => {},
      emitEpoch: () => {},
      checkpoint: async () => '',
      stopRequested: () => false,
    };
    // Epoch 1 warms up (kernel compilation, allocator); epoch 2 is timed.
    const times: Array<{ wall: number; cpu: number }> = [];
    const cpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    let last = { wall: performance.now(), cpu: cpuMs() };
    const before = tf.memory().numTensors;
    const rssBefore = process.memoryUsage().rss;
    let how = '';
    await trainPhase(setup, {
      ...hooks,
      emitEpoch: () => {
        const now = { wall: performance.now(), cpu: cpuMs() };
        times.push({ wall: now.wall - last.wall, cpu: now.cpu - last.cpu });
        last = now;
      },
    });
    result[`${kind}MsPerStep`] = +(times[1].wall / steps).toFixed(3);
    result[`${kind}CpuMsPerStep`] = +(times[1].cpu / steps).toFixed(3);
    result[`${kind}TensorsLeft`] = tf.memory().numTensors - before;
    result[`${kind}RssGrowthMiB`] = +((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(1);
    // The kernels of 10 steps, counted on their own (profiling slows them down).
    const ten = { x: train.x.slice(0, 10 * batch), y: train.y.slice(0, 10 * batch), n: 10 * batch };
    const dispatchedBefore = denseStepDispatches.count;
    const counted = await tf.profile(async () => {
      how = (await trainPhase({ ...setup, epochs: 1, train: ten }, hooks)).step.kind;
    });
    result[`${kind}Step`] = how;
    result[`${kind}KernelsPerStep`] = (counted.kernels.length + denseStepDispatches.count - dispatchedBefore) / 10;
    tf.dispose([ten.x, ten.y]);
    student.dispose();
  }
  console.log(JSON.stringify(result));
}

void main().catch((err) => {
  console.error(`bench-step: ${(err as Error).stack}`);
  process.exit(1);
});
