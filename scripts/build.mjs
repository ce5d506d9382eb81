// Bundles the trainer/CLI, the extension and the dashboard webview into dist/ (DISTILL_OUT to
// change). tfjs, onnxruntime and vscode stay external: tfjs packages must share one
// @tensorflow/tfjs-core instance, and native addons cannot be bundled. The wasm binaries are
// copied beside the trainer.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const out = process.env.DISTILL_OUT ?? 'dist';
const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['@tensorflow/*', 'onnxruntime-node', 'vscode', 'webgpu'],
  logLevel: 'warning',
  // jsonc-parser's UMD build hides its requires from the bundler; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
};

await Promise.all([
  esbuild.build({ ...node, entryPoints: { 'trainer/cli': 'src/trainer/cli.ts' }, outdir: out }),
  esbuild.build({ ...node, entryPoints: { 'extension/extension': 'src/extension/extension.ts' }, outdir: out }),
  esbuild.build({
    entryPoints: { 'webview/main': 'webview/main.ts' },
    outdir: out,
    bundle: true,
    platform: 'browser',
    target: 'chrome120',
    format: 'iife',
    sourcemap: true,
    minify: true,
    logLevel: 'warning',
    loader: { '.css': 'css' },
  }),
]);
// One stylesheet for the webview: uPlot's, then ours.
fs.writeFileSync(path.join(out, 'webview', 'main.css'), fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8') + '\n' + fs.readFileSync('webview/style.css', 'utf8'));

const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmDir, f), path.join(out, 'trainer', f));
