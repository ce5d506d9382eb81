/**
 * Run as its own process (as the trainer is) with DISTILL_NATIVE_DIR set: loads the native
 * package through requireTensorflowPackage, trains a conv layer one step on the trainer's tfjs,
 * and prints what happened as one JSON line.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { requireTensorflowPackage } from '../../src/core/nativeModules.ts';

const warnings: string[] = [];
const warn = console.warn;
console.warn = (...args: unknown[]) => void warnings.push(args.join(' '));
async function main() {
  const pkg = (process.argv[2] ?? '@tensorflow/tfjs-node') as '@tensorflow/tfjs-node';
  const loaded = requireTensorflowPackage(pkg) as typeof tf;
  console.warn = warn;
  const ok = await tf.setBackend('tensorflow');
  const x = tf.randomNormal<tf.Rank.R4>([4, 8, 8, 1]);
  const w = tf.variable(tf.randomNormal<tf.Rank.R4>([3, 3, 1, 2]));
  const optimizer = tf.train.sgd(0.1);
  const loss = optimizer.minimize(() => tf.conv2d(x, w, 1, 'same').square().mean() as tf.Scalar, true)!;
  const files = Object.keys(require.cache);
  console.log(
    JSON.stringify({
      setBackend: ok,
      backend: tf.getBackend(),
      registered: Object.keys(tf.engine().registryFactory),
      loss: (await loss.data())[0],
      sameTensorClass: loaded.Tensor === tf.Tensor,
      nativeFile: files.find((f) => f.endsWith(path.join(...pkg.split('/'), 'dist', 'index.js'))),
      coreFiles: [
        ...new Set(
          files
            .filter((f) => /[\\/]@tensorflow[\\/]tfjs-core[\\/]/.test(f))
            .map((f) => f.replace(/([\\/]tfjs-core)[\\/].*$/, '$1')),
        ),
      ],
      warnings,
    }),
  );
}
main().catch((err) => {
  console.log(JSON.stringify({ error: String(err?.message ?? err), code: err?.code }));
  process.exitCode = 1;
});
