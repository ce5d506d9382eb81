// The layering, checked on what the bundles really import (esbuild's metafiles, written by
// `npm run build`): core and the trainer never reach vscode, the extension never loads tfjs,
// onnxruntime or Dawn, and the webview knows only the protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { root } from './helpers/cli.ts';

interface Metafile {
  inputs: Record<string, { imports: Array<{ path: string; external?: boolean }> }>;
}

const meta = (name: string): Metafile =>
  JSON.parse(fs.readFileSync(path.join(root, 'dist', 'meta', `${name}.json`), 'utf8')) as Metafile;
const ours = (m: Metafile) => Object.keys(m.inputs).filter((i) => !i.startsWith('node_modules/'));
const externals = (m: Metafile) => [
  ...new Set(Object.values(m.inputs).flatMap((i) => i.imports.filter((x) => x.external).map((x) => x.path))),
];

test('the trainer bundle (core, protocol, trainer) imports nothing of vscode, the extension or the webview', () => {
  const m = meta('trainer');
  assert.deepEqual(
    ours(m).filter((f) => !/^src\/(core|protocol|trainer)\//.test(f)),
    [],
  );
  assert.ok(!externals(m).includes('vscode'));
  assert.ok(ours(m).includes('src/core/backend.ts'), 'the metafile lists the engine');
});

test('the extension bundle loads no tfjs, onnxruntime or Dawn (it spawns the trainer for those)', () => {
  const m = meta('extension');
  const heavy = externals(m).filter((x) => /^(@tensorflow\/|onnxruntime|webgpu)/.test(x));
  assert.deepEqual(heavy, []);
  assert.deepEqual(
    Object.keys(m.inputs).filter((f) => /node_modules\/(@tensorflow|onnxruntime|webgpu)/.test(f)),
    [],
  );
  assert.deepEqual(
    ours(m).filter((f) => f.startsWith('webview/') || f.startsWith('src/trainer/')),
    [],
  );
});

test('the webview bundle knows only the protocol', () => {
  const m = meta('webview');
  assert.deepEqual(
    ours(m).filter((f) => !/^(webview|src\/protocol)\//.test(f)),
    [],
  );
});
