// esbuild half of scripts/device/prepare.sh: the trainer and the check's helper as single files
// with every JS dependency inside (tfjs, its wasm and webgpu backends, the webgpu package), so
// the device needs no node_modules. Only what cannot be bundled stays out: Dawn's addon (loaded by
// path from dist/<platform>-<arch>/ beside the bundle), tfjs-node (never on the device) and
// onnxruntime-node (the check turns off ONNX export and the latency bench, its only users).
// usage: node scripts/device/build-bundle.mjs <out folder>
import * as esbuild from 'esbuild';

const out = process.argv[2];
if (!out) throw new Error('usage: build-bundle.mjs <out folder>');
await esbuild.build({
  entryPoints: { cli: 'src/trainer/cli.ts', 'device-check': 'scripts/device/check-run.ts' },
  outdir: `${out}/dist/trainer`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  mainFields: ['module', 'main'], // as scripts/build.mjs: jsonc-parser's ESM build bundles cleanly
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'onnxruntime-node', 'vscode', '*.node'],
  // The webgpu package is ESM and finds dawn.node from import.meta.url; in a CJS bundle that is
  // the bundle file itself, so dawn.node goes to dist/trainer/dist/linux-x64/.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: 'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  legalComments: 'none',
  logLevel: 'error',
});
