// `npm run package`: builds the VSIX with vsce. .vscodeignore is the allow-list of our own files;
// this adds the node_modules the bundles load at run time (the tfjs packages, onnxruntime-node
// and what they depend on, found from their package.json files) and nothing else. vsce's
// negated patterns always win, so the list is built here rather than subtracted there.
// @tensorflow/tfjs-node stays out: its native library is platform-specific and ~800 MB.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const roots = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'onnxruntime-node'];
/** Node's resolution: node_modules/<name> in the requiring package, then in each package above it. */
function resolve(name, from) {
  for (let dir = from; ; ) {
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
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) queue.push({ name: dep, from: found });
}
const ignoreFile = path.join('dist', '.vscodeignore.package');
fs.writeFileSync(ignoreFile, `${fs.readFileSync('.vscodeignore', 'utf8')}\n${[...seen].sort().map((d) => `!${d.replace(/^\.\//, '')}/**`).join('\n')}\n`);
console.log(`package: ${seen.size} runtime packages from node_modules`);
execFileSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['vsce', 'package', '--no-yarn', '--ignoreFile', ignoreFile, '--out', 'distill-studio.vsix'], { stdio: 'inherit' });
