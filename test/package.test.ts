// The VSIX for this machine (scripts/package.mjs, as `npm run package` builds it): it carries this
// platform's native binaries and no other's, stays under 60 MB, and what it carries is enough on
// its own: the trainer unpacked from it trains, exports to ONNX and benchmarks on ONNX Runtime,
// and sharp and Dawn load from it.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import { root, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

const target = `${process.platform}-${process.arch}`;
const expected = {
  ort: `${process.platform}/${process.arch}`,
  dawn: process.platform === 'darwin' ? 'darwin-universal' : target,
  sharp: target,
};
const LIMIT_BYTES = 60e6;

let dir: string;
let vsix: string;
let entries: string[];
let extracted: string;

before(() => {
  dir = tempDir('vsix');
  vsix = path.join(dir, 'host.vsix');
  const r = spawnSync(process.execPath, ['scripts/package.mjs', '--out', vsix, '--offline'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const files = unzipSync(fs.readFileSync(vsix));
  entries = Object.keys(files);
  extracted = path.join(dir, 'x');
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith('/')) continue;
    fs.mkdirSync(path.dirname(path.join(extracted, name)), { recursive: true });
    fs.writeFileSync(path.join(extracted, name), data);
  }
});

test(`the ${target} VSIX carries this platform's onnxruntime, Dawn and sharp binaries and no other platform's`, () => {
  const nm = 'extension/node_modules';
  for (const file of [
    `${nm}/onnxruntime-node/bin/napi-v6/${expected.ort}/onnxruntime_binding.node`,
    `${nm}/webgpu/dist/${expected.dawn}/dawn.node`,
    `${nm}/@img/sharp-${expected.sharp}/package.json`,
    `${nm}/sharp/package.json`,
    'extension/dist/trainer/cli.js',
    'extension/dist/extension/extension.js',
    'extension/dist/webview/history.js',
  ])
    assert.ok(entries.includes(file), `${file} is missing`);
  const platforms = (re: RegExp) => new Set(entries.flatMap((e) => re.exec(e)?.[1] ?? []));
  assert.deepEqual([...platforms(/onnxruntime-node\/bin\/napi-v6\/(\w+\/\w+)\//)], [expected.ort]);
  assert.deepEqual([...platforms(/\/webgpu\/dist\/([^/]+)\//)], [expected.dawn]);
  assert.deepEqual(
    [...platforms(/\/@img\/sharp-(?:libvips-)?([^/]+)\//)].filter((p) => p !== 'libvips'),
    [expected.sharp],
  );
  // The manifest names the target, so the Marketplace serves this VSIX to this platform only.
  const manifest = fs.readFileSync(path.join(extracted, 'extension.vsixmanifest'), 'utf8');
  assert.match(manifest, new RegExp(`TargetPlatform="${target}"`));
});

test('the VSIX is under 60 MB and carries no bundler-only files', () => {
  const bytes = fs.statSync(vsix).size;
  console.log(`${target} VSIX: ${(bytes / 1e6).toFixed(1)} MB, ${entries.length} files`);
  assert.ok(bytes < LIMIT_BYTES, `${(bytes / 1e6).toFixed(1)} MB`);
  const junk = entries.filter((e) => /\.(map|d\.ts)$|\/core-js\/|\/@types\/|\/tf\.min\.js$|\.fesm\.js$/.test(e));
  assert.deepEqual(junk, []);
});

test('the unpacked VSIX alone trains, exports ONNX, benchmarks on ONNX Runtime, and loads sharp and Dawn', () => {
  const ext = path.join(extracted, 'extension');
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  const config = writeConfig(
    work,
    'packed',
    smallConfig({
      name: 'packed',
      train: { epochs: 1, logEvery: 5 },
      backend: 'wasm',
      bench: { batchSizes: [1], minRuns: 3, minSeconds: 0.01, warmup: 1 },
    }),
  );
  // Run from outside the repository, so nothing resolves from its node_modules.
  const train = spawnSync(process.execPath, [path.join(ext, 'dist', 'trainer', 'cli.js'), 'train', config], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: '', TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  assert.equal(train.status, 0, train.stderr);
  const [run] = fs.readdirSync(path.join(work, 'runs'));
  const record = JSON.parse(fs.readFileSync(path.join(work, 'runs', run, 'run.json'), 'utf8'));
  assert.equal(record.status, 'finished');
  assert.ok(fs.statSync(path.join(work, 'runs', run, 'artifacts', 'student.onnx')).size > 0);
  assert.ok(
    record.latency.some((l: { runtime: string }) => l.runtime.startsWith('onnxruntime')),
    'no ONNX Runtime latency',
  );
  const natives = spawnSync(
    process.execPath,
    [
      '-e',
      `const sharp = require(${JSON.stringify(path.join(ext, 'node_modules', 'sharp'))});
       import(${JSON.stringify(path.join(ext, 'node_modules', 'webgpu', 'index.js'))}).then((webgpu) => {
         console.log(JSON.stringify({ vips: sharp.versions.vips, dawn: typeof webgpu.create }));
       });`,
    ],
    { cwd: work, encoding: 'utf8' },
  );
  assert.equal(natives.status, 0, natives.stderr);
  const loaded = JSON.parse(natives.stdout);
  assert.match(loaded.vips, /^\d+\.\d+/);
  assert.equal(loaded.dawn, 'function');
});
