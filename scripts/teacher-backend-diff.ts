/**
 * How much a teacher's logits depend on the tfjs backend that computes them (why the teacher
 * cache's key names the backend): the demo teacher on the demo test images, on each backend
 * given (default cpu and wasm), compared with the first. Prints the largest absolute and relative
 * differences and how many logits differ at all.
 *   node --import tsx scripts/teacher-backend-diff.ts [backend ...] [--examples N]
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/core/backend.ts';
import { INFERENCE_ONLY } from '../src/core/kernels.ts';
import { readIdx } from '../src/core/data/idx.ts';
import { loadModel } from '../src/core/models/io.ts';
import { demoDataDir, demoTeacherPath } from '../src/core/paths.ts';
import { predictLogits } from '../src/core/train/evaluate.ts';
import type { BackendName } from '../src/protocol/backends.ts';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--examples');
  const examples = at >= 0 ? Number(args.splice(at, 2)[1]) : 1000;
  const backends = (args.length > 0 ? args : ['cpu', 'wasm']) as BackendName[];
  const images = readIdx(path.join(demoDataDir(), 't10k-images-idx3-ubyte.gz'));
  const n = Math.min(examples, images.dims[0]);
  const x = Float32Array.from(images.data.subarray(0, n * 784), (p) => p / 255);
  const logits: Float32Array[] = [];
  for (const name of backends) {
    const info = await selectBackend(name, INFERENCE_ONLY);
    const { model } = await loadModel(demoTeacherPath());
    const input = tf.tensor4d(x, [n, 28, 28, 1]);
    const out = predictLogits(model, input, 250);
    logits.push((await out.data()) as Float32Array);
    tf.dispose([input, out]);
    model.dispose();
    console.log(`${name}: ${info.device}`);
  }
  for (let b = 1; b < backends.length; b++) {
    let maxAbs = 0;
    let maxRel = 0;
    let differ = 0;
    for (let i = 0; i < logits[0].length; i++) {
      const d = Math.abs(logits[b][i] - logits[0][i]);
      if (d > 0) differ++;
      maxAbs = Math.max(maxAbs, d);
      maxRel = Math.max(maxRel, d / Math.max(Math.abs(logits[0][i]), 1e-6));
    }
    console.log(
      `${backends[b]} vs ${backends[0]} on ${n} demo test images: ${differ} of ${logits[0].length} logits differ; max |diff| ${maxAbs.toExponential(2)}, max relative ${maxRel.toExponential(2)}`,
    );
  }
}

void main();
