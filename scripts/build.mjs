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
  external: ['@tensorflow/*', 'onnxruntime-node', 'onnxruntime-web', 'sharp', 'vscode', 'webgpu'],
  logLevel: 'warning',
  // jsonc-parser's UMD build hides its requires from the bundler; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
};

// Each bundle's metafile (what it imports) is kept: test/layers.test.ts checks the layering on them.
const bundles = await Promise.all([
  esbuild.build({ ...node, metafile: true, entryPoints: { 'trainer/cli': 'src/trainer/cli.ts' }, outdir: out }),
  esbuild.build({
    ...node,
    metafile: true,
    entryPoints: { 'extension/extension': 'src/extension/extension.ts' },
    outdir: out,
  }),
  esbuild.build({
    metafile: true,
    // The dashboard, the Run History panel and the sweep view (each its own small bundle).
    entryPoints: {
      'webview/main': 'webview/main.ts',
      'webview/history': 'webview/history/main.ts',
      'webview/sweep': 'webview/sweep/main.ts',
    },
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
fs.mkdirSync(path.join(out, 'meta'), { recursive: true });
['trainer', 'extension', 'webview'].forEach((name, i) =>
  fs.writeFileSync(path.join(out, 'meta', `${name}.json`), JSON.stringify(bundles[i].metafile)),
);
// One stylesheet for the webview: uPlot's, then ours.
fs.writeFileSync(
  path.join(out, 'webview', 'main.css'),
  fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8') +
    '\n' +
    fs.readFileSync('webview/style.css', 'utf8'),
);
fs.copyFileSync('webview/history/style.css', path.join(out, 'webview', 'history.css'));
fs.copyFileSync('webview/sweep/style.css', path.join(out, 'webview', 'sweep.css'));

const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm')))
  fs.copyFileSync(path.join(wasmDir, f), path.join(out, 'trainer', f));
