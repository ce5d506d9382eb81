// The fixed cost of one op on the tensorflow backend: a 10-element AddV2 through tfjs's engine
// (tf.tidy(() => a.add(a)): kernel lookup, tensor tracking, the scope), and the same op through
// tfjs-node's binding directly (what src/core/train/denseStep.ts does), in µs per op, medians of
// 5 blocks of 20,000. Why a step's op count, not its arithmetic, sets its time for small students.
// usage: tsx scripts/bench-op-cost.ts
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/core/backend.ts';
import { DENSE_TRAINING } from '../src/core/kernels.ts';

interface Binding {
  executeOp(name: string, attrs: unknown[], inputs: number[], outputs: number): Array<{ id: number }>;
  deleteTensor(id: number): void;
  TF_ATTR_TYPE: number;
  TF_FLOAT: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  await selectBackend('tensorflow', DENSE_TRAINING);
  const backend = tf.backend() as unknown as { binding: Binding; getInputTensorIds(t: tf.Tensor[]): number[] };
  const b = backend.binding;
  const a = tf.ones([10]);
  const ids = backend.getInputTensorIds([a, a]);
  const attrs = [{ name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT }];
  const n = 20_000;
  const viaEngine: number[] = [];
  const viaBinding: number[] = [];
  for (let block = 0; block < 6; block++) {
    let t = performance.now();
    for (let i = 0; i < n; i++) tf.tidy(() => a.add(a));
    const engine = ((performance.now() - t) / n) * 1000;
    t = performance.now();
    for (let i = 0; i < n; i++) b.deleteTensor(b.executeOp('AddV2', attrs, ids, 1)[0].id);
    const binding = ((performance.now() - t) / n) * 1000;
    if (block > 0) (viaEngine.push(engine), viaBinding.push(binding)); // block 0 warms up
  }
  console.log(
    JSON.stringify({
      opMicrosThroughEngine: +median(viaEngine).toFixed(2),
      opMicrosThroughBinding: +median(viaBinding).toFixed(2),
      range: {
        engine: [Math.min(...viaEngine), Math.max(...viaEngine)].map((x) => +x.toFixed(2)),
        binding: [Math.min(...viaBinding), Math.max(...viaBinding)].map((x) => +x.toFixed(2)),
      },
    }),
  );
}

void main().catch((err) => {
  console.error(`bench-op-cost: ${(err as Error).message}`);
  process.exit(1);
});
