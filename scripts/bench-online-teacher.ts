// One backend's online-teacher cost (src/core/bench/onlineTeacher.ts), in its own process because
// a backend is chosen once per process: the demo CNN teacher on the demo images, batch 128,
// crop 4 + flip + translate 2. Prints one JSON line; scripts/bench.ts runs it per backend.
// usage: tsx scripts/bench-online-teacher.ts --backend tensorflow [--batch 128] [--min-seconds 2]
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/core/backend.ts';
import { configSchema } from '../src/core/config/schema.ts';
import { loadDataset } from '../src/core/data/dataset.ts';
import { INFERENCE_ONLY } from '../src/core/kernels.ts';
import { measureOnlineTeacher } from '../src/core/bench/onlineTeacher.ts';
import { loadModel } from '../src/core/models/io.ts';
import { demoTeacherPath } from '../src/core/paths.ts';
import type { BackendName } from '../src/protocol/backends.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'cpu' },
    batch: { type: 'string', default: '128' },
    'min-seconds': { type: 'string', default: '2' },
  },
});

async function main() {
  const config = configSchema.parse({
    data: { source: 'demo' },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp' } },
  });
  const data = await loadDataset(config.data, 0);
  const info = await selectBackend(values.backend as BackendName, { ...INFERENCE_ONLY, augment: true });
  const { model } = await loadModel(demoTeacherPath());
  const x = tf.tensor4d(data.train.x, [data.train.n, ...(data.inputShape as [number, number, number])]);
  const cost = await measureOnlineTeacher(
    model,
    x,
    { crop: { padding: 4 }, flip: true, translate: { pixels: 2 } },
    Number(values.batch),
    { warmup: 3, minRuns: 10, minSeconds: Number(values['min-seconds']) },
  );
  console.log(JSON.stringify({ ...cost, device: info.device }));
}

void main().catch((err) => {
  console.error(`bench-online-teacher: ${(err as Error).message}`);
  process.exit(1);
});
