// `npm run package`: builds the VSIX with vsce. .vscodeignore is the allow-list of our own files;
// this adds the node_modules the bundles load at run time (the tfjs packages, onnxruntime-node
// and what they depend on, found from their package.json files) and nothing else. vsce's
// negated patterns always win, so the list is built here rather than subtracted there.
// @tensorflow/tfjs-node stays out: its native library is platform-specific and ~800 MB.
// The VSIX is per platform (`npm run package -- --target linux-x64`; default: this machine's):
// it carries the Dawn addon (the `webgpu` package, ~21 MB per platform) of that platform only,
// so a user with a GPU trains on it from the editor out of the box.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** VS Code's platform targets -> the folder of node_modules/webgpu/dist that holds its dawn.node. */
const DAWN_DIRS = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'darwin-x64': 'darwin-universal',
  'darwin-arm64': 'darwin-universal',
  'win32-x64': 'win32-x64',
  'win32-arm64': 'win32-arm64',
};
const argTarget = process.argv.indexOf('--target');
const target = argTarget > 0 ? process.argv[argTarget + 1] : `${process.platform}-${process.arch}`;
if (!(target in DAWN_DIRS)) {
  console.error(`package: --target must be one of ${Object.keys(DAWN_DIRS).join(', ')}; got ${target}`);
  process.exit(2);
}

const roots = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-webgpu',
  'onnxruntime-node',
  'webgpu',
];
/** Node's resolution: node_modules/<name> in the requiring package, then in each package above it. */
function resolve(name, from) {
  for (let dir = from; ;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === '.') return undefined;
    const i = dir.lastIndexOf('node_modules/');
    dir = i <= 0 ? '.' : dir.slice(0, i - 1);
  }
}

const seen = new Set();
const queue = roots.map((name) => ({ name, from: '.' }));
while (queue.length) {
  const { name, from } = queue.shift();
  const found = resolve(name, from);
  if (!found || seen.has(found)) continue;
  seen.add(found);
  const pkg = JSON.parse(fs.readFileSync(path.join(found, 'package.json'), 'utf8'));
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }))
    queue.push({ name: dep, from: found });
}
/** Everything of a runtime package, except the webgpu package's addons for other platforms. */
function include(dir) {
  const rel = dir.replace(/^\.\//, '');
  if (rel !== 'node_modules/webgpu') return [`!${rel}/**`];
  return [`!${rel}/*.js`, `!${rel}/*.json`, `!${rel}/*.md`, `!${rel}/dist/${DAWN_DIRS[target]}/**`];
}
const ignoreFile = path.join('dist', '.vscodeignore.package');
fs.writeFileSync(
  ignoreFile,
  `${fs.readFileSync('.vscodeignore', 'utf8')}\n${[...seen].sort().flatMap(include).join('\n')}\n`,
);
console.log(`package: ${seen.size} runtime packages from node_modules`);
console.log(`package: target ${target} (Dawn addon from node_modules/webgpu/dist/${DAWN_DIRS[target]})`);
execFileSync(
  process.platform === 'win32' ? 'npx.cmd' : 'npx',
  ['vsce', 'package', '--no-yarn', '--target', target, '--ignoreFile', ignoreFile, '--out', 'distill-studio.vsix'],
  { stdio: 'inherit' },
);
