// Bundles the CLI/trainer into dist/. Native and backend packages stay external so every part
// shares one @tensorflow/tfjs-core instance; the wasm binaries are copied beside the bundle.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const external = ['@tensorflow/*', 'onnxruntime-node', 'vscode'];

await esbuild.build({
  entryPoints: { 'trainer/cli': 'src/trainer/cli.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external,
  logLevel: 'warning',
  // jsonc-parser's UMD build hides its requires from the bundler; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
});

const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmDir, f), path.join('dist', 'trainer', f));
