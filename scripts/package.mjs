// `npm run package`: the VSIX for this machine's platform, the way rust-analyzer ships (one VSIX
// per VS Code target). Each carries our files (.vscodeignore is their allow-list) and the
// node_modules the bundles load at run time (the tfjs packages, onnxruntime-node, webgpu, sharp
// and what they depend on, found from their package.json files), with the native binaries of its
// own platform only: onnxruntime-node's bin/napi-v6/<os>/<arch>, webgpu's dist/<platform> (Dawn)
// and sharp's @img/sharp-<platform> (+ its libvips).
//
//   node scripts/package.mjs                      this machine's target -> distill-studio.vsix
//   node scripts/package.mjs --target win32-x64   one target            -> distill-studio.vsix
//   node scripts/package.mjs --all-targets        every target that can be built here
//                                                 -> distill-studio-<target>.vsix each
//   --out <file>    where a single target's VSIX goes
//   --offline       do not fetch another platform's sharp binaries from the npm registry
//
// onnxruntime-node and webgpu hold every platform's binaries in their one npm package. sharp's
// are separate packages (@img/sharp-<platform>, @img/sharp-libvips-<platform>) that npm installs
// for the installing machine only; another platform's are fetched with `npm pack` (the npm
// registry, nothing else) into .cache/platform-packages/ and packed from there.
// @tensorflow/tfjs-node stays out: its native library is platform-specific and ~800 MB (Distill:
// Set Up Native Backend installs it).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const vsce = require('@vscode/vsce/out/package.js');
// vsce's own zip writer (the same one `vsce package` uses).
const yazl = createRequire(require.resolve('@vscode/vsce/package.json'))('yazl');

/** Per VS Code target: webgpu's dist folder, onnxruntime-node's bin folder, sharp's platform name. */
const TARGETS = {
  'linux-x64': { dawn: 'linux-x64', ort: 'linux/x64', sharp: 'linux-x64' },
  'linux-arm64': { dawn: 'linux-arm64', ort: 'linux/arm64', sharp: 'linux-arm64' },
  'darwin-arm64': { dawn: 'darwin-universal', ort: 'darwin/arm64', sharp: 'darwin-arm64' },
  'darwin-x64': { dawn: 'darwin-universal', ort: 'darwin/x64', sharp: 'darwin-x64' },
  'win32-x64': { dawn: 'win32-x64', ort: 'win32/x64', sharp: 'win32-x64' },
  'win32-arm64': { dawn: 'win32-arm64', ort: 'win32/arm64', sharp: 'win32-arm64' },
};
const ROOTS = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-webgpu',
  'onnxruntime-node',
  'webgpu',
  'sharp',
];
/** Never loaded at run time: type declarations, source maps, TypeScript sources, docs. */
const NOT_RUNTIME = /(\.d\.ts|\.d\.mts|\.d\.cts|\.map|\.tsbuildinfo|(?<!\.d)\.ts|\.md|\.markdown)$/i;
const KEEP_ALWAYS = /(^|\/)(LICENSE|LICENCE|NOTICE|THIRD_PARTY_NOTICES)[^/]*$/i;
const SHARP_NATIVE = /^@img\/sharp-/;
/**
 * Installed dependencies nothing loads in Node: type packages, and core-js (only tfjs's browser
 * entry index_with_polyfills.js requires it; Node loads tfjs's `main`, dist/tf.node.js).
 */
const NOT_LOADED = /^(@types\/|core-js$)/;

function usage(message) {
  console.error(`package: ${message}`);
  console.error(
    'usage: node scripts/package.mjs [--target <target> | --all-targets] [--out <file>] [--offline]\n' +
      `targets: ${Object.keys(TARGETS).join(', ')}`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const options = { targets: [], offline: false, out: undefined, all: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--target') options.targets.push(argv[++i]);
    else if (a === '--all-targets') options.all = true;
    else if (a === '--offline') options.offline = true;
    else if (a === '--out') options.out = argv[++i];
    else usage(`unknown argument ${a}`);
  }
  if (options.all && options.targets.length) usage('--target and --all-targets exclude each other');
  if (options.all && options.out) usage('--out names one VSIX: not with --all-targets');
  if (options.targets.length > 1) usage('one --target at a time (or --all-targets)');
  for (const t of options.targets) if (!(t in TARGETS)) usage(`unknown target ${t}`);
  if (!options.all && options.targets.length === 0) {
    const host = `${process.platform}-${process.arch}`;
    if (!(host in TARGETS)) usage(`this machine (${host}) is not a target: name one with --target`);
    options.targets.push(host);
  }
  if (options.all) options.targets = Object.keys(TARGETS);
  return options;
}

/** Node's resolution: node_modules/<name> in the requiring package, then in each package above it. */
function resolvePackage(name, from) {
  for (let dir = from; ;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === '.') return undefined;
    const i = dir.lastIndexOf('node_modules/');
    dir = i <= 0 ? '.' : dir.slice(0, i - 1);
  }
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** The installed runtime packages (folders relative to the repository), the optional ones that are installed included. */
function runtimePackages() {
  const seen = new Set();
  const queue = ROOTS.map((name) => ({ name, from: '.' }));
  while (queue.length) {
    const { name, from } = queue.shift();
    const found = resolvePackage(name, from);
    if (!found || seen.has(found)) continue;
    seen.add(found);
    const pkg = readJson(path.join(found, 'package.json'));
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }))
      queue.push({ name: dep, from: found });
  }
  return [...seen].map((d) => d.replace(/^\.\//, '').split(path.sep).join('/')).sort();
}

function walk(dir, rel = '') {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : walk(dir, r);
    return e.isFile() ? [r] : [];
  });
}

/** The darwin dylib the binding loads (@rpath/libonnxruntime.1.dylib); npm ships a second, identical copy under the full version. */
function ortDylibOf(binDir) {
  const binding = path.join(binDir, 'onnxruntime_binding.node');
  const name = /@rpath\/(libonnxruntime[\w.]*\.dylib)/.exec(fs.readFileSync(binding, 'latin1'))?.[1];
  if (!name || !fs.existsSync(path.join(binDir, name)))
    throw new Error(`cannot tell which libonnxruntime dylib ${binding} loads`);
  return name;
}

/** Which files of an installed package the target's VSIX carries (paths relative to the package). */
function packageFiles(pkgDir, target) {
  const t = TARGETS[target];
  const name = pkgDir.replace(/^.*node_modules\//, '');
  let files = walk(pkgDir).filter((f) => KEEP_ALWAYS.test(f) || !NOT_RUNTIME.test(f));
  if (name.startsWith('@tensorflow/')) {
    // Node loads a tfjs package's `main` (its CommonJS bundle, which requires only other packages'
    // mains); the ES modules, the browser bundles (UMD, min, fesm, es2017) and the tools are for
    // bundlers. The wasm backend's binaries stay (the trainer also carries its own copies).
    const main = path.posix.normalize(readJson(path.join(pkgDir, 'package.json')).main);
    files = files.filter(
      (f) => f === 'package.json' || f === main || KEEP_ALWAYS.test(f) || /^dist\/[^/]+\.wasm$/.test(f),
    );
  }
  if (name === 'webgpu') files = files.filter((f) => !f.startsWith('dist/') || f.startsWith(`dist/${t.dawn}/`));
  if (name === 'onnxruntime-node') {
    const bin = `bin/napi-v6/${t.ort}/`;
    files = files.filter((f) => !f.startsWith('bin/') || f.startsWith(bin));
    // The install script (it downloads CUDA providers) never runs from a VSIX.
    files = files.filter((f) => !f.startsWith('script/'));
    // DirectML.dll (18 MB) is delay-loaded by onnxruntime.dll: only a session on the `dml`
    // execution provider loads it, and the trainer never asks for that one (ONNX_PROVIDERS).
    if (target.startsWith('win32')) {
      if (/\bdml\b/.test(fs.readFileSync(path.join('src', 'core', 'models', 'onnxProviders.ts'), 'utf8')))
        throw new Error('src/core/models/onnxProviders.ts names the dml provider: keep DirectML.dll in the VSIX');
      files = files.filter((f) => f !== `${bin}DirectML.dll`);
    }
    if (target.startsWith('darwin')) {
      const keep = ortDylibOf(path.join(pkgDir, bin));
      files = files.filter((f) => !(f.startsWith(bin) && /libonnxruntime.*\.dylib$/.test(f)) || f === bin + keep);
    }
  }
  return files;
}

/** The versions of sharp's native packages for a platform: @img/sharp-<p> and what it depends on (@img/sharp-libvips-<p>). */
function sharpNativeSpecs(platform, lookup) {
  const sharp = readJson(path.join('node_modules', 'sharp', 'package.json'));
  const first = `@img/sharp-${platform}`;
  const version = sharp.optionalDependencies?.[first];
  if (!version) return { error: `sharp ${sharp.version} has no ${first}` };
  const specs = [{ name: first, version }];
  const deps = lookup(first, version)?.optionalDependencies ?? {};
  for (const [name, v] of Object.entries(deps)) specs.push({ name, version: v });
  return { specs };
}

const cacheDir = path.join('.cache', 'platform-packages');

/** An npm package's folder: the installed one when its version matches, else one fetched with `npm pack` (offline: undefined). */
function platformPackage(name, version, offline) {
  const installed = path.join('node_modules', ...name.split('/'));
  if (
    fs.existsSync(path.join(installed, 'package.json')) &&
    readJson(path.join(installed, 'package.json')).version === version
  )
    return installed;
  const dir = path.join(cacheDir, `${name.replace('/', '+')}@${version}`);
  if (fs.existsSync(path.join(dir, 'package', 'package.json'))) return path.join(dir, 'package');
  if (offline) return undefined;
  fs.mkdirSync(dir, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', `${name}@${version}`, '--pack-destination', dir, '--silent'], {
    encoding: 'utf8',
    shell: process.platform === 'win32',
  });
  const tarball = path.join(dir, out.trim().split('\n').at(-1));
  execFileSync('tar', ['-xzf', tarball, '-C', dir]);
  fs.rmSync(tarball);
  console.log(`package: fetched ${name}@${version} from the npm registry`);
  return path.join(dir, 'package');
}

/** Why a target cannot be built here, or undefined. */
function missingBinaries(target) {
  const t = TARGETS[target];
  const ort = path.join(
    'node_modules',
    'onnxruntime-node',
    'bin',
    'napi-v6',
    ...t.ort.split('/'),
    'onnxruntime_binding.node',
  );
  if (!fs.existsSync(ort)) {
    const v = readJson(path.join('node_modules', 'onnxruntime-node', 'package.json')).version;
    return `onnxruntime-node ${v} ships no ${t.ort} binary`;
  }
  if (!fs.existsSync(path.join('node_modules', 'webgpu', 'dist', t.dawn, 'dawn.node')))
    return `the webgpu package has no dist/${t.dawn}/dawn.node`;
  return undefined;
}

/** Writes the VSIX beside `out`, then renames it there: a reader (an installer) never sees half a file. */
async function writeZip(files, out) {
  const partial = `${out.replace(/\.vsix$/, '')}.${process.pid}.partial.vsix`;
  await new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    for (const f of files)
      if (f.contents !== undefined)
        zip.addBuffer(typeof f.contents === 'string' ? Buffer.from(f.contents, 'utf8') : f.contents, f.path, {
          mode: f.mode,
        });
      else zip.addFile(f.localPath, f.path, { mode: f.mode });
    zip.end();
    const stream = fs.createWriteStream(partial);
    zip.outputStream.pipe(stream);
    zip.outputStream.once('error', reject);
    stream.once('error', reject);
    stream.once('finish', resolve);
  }).catch((err) => {
    fs.rmSync(partial, { force: true });
    throw err;
  });
  fs.renameSync(partial, out);
}

async function buildTarget(target, out, options, ownFiles, packages) {
  const missing = missingBinaries(target);
  if (missing) return { target, skipped: missing };
  const t = TARGETS[target];
  const files = ownFiles.map((f) => ({ path: `extension/${f}`, localPath: path.resolve(f) }));
  // Installed packages, less sharp's native ones of any platform (added below, this target's only).
  const name = (dir) => dir.replace(/^.*node_modules\//, '');
  for (const dir of packages.filter((d) => !SHARP_NATIVE.test(name(d)) && !NOT_LOADED.test(name(d))))
    for (const f of packageFiles(dir, target))
      files.push({ path: `extension/${dir}/${f}`, localPath: path.resolve(dir, f) });
  const fetched = new Map();
  const lookup = (name, version) => {
    const dir = platformPackage(name, version, options.offline);
    if (dir) fetched.set(name, dir);
    return dir && readJson(path.join(dir, 'package.json'));
  };
  const { specs, error } = sharpNativeSpecs(t.sharp, lookup);
  if (error) return { target, skipped: error };
  for (const { name, version } of specs) {
    const dir = fetched.get(name) ?? platformPackage(name, version, options.offline);
    if (!dir)
      return {
        target,
        skipped: `${name}@${version} is not installed here (--offline: not fetched; without --offline it comes from the npm registry)`,
      };
    for (const f of walk(dir).filter((f) => KEEP_ALWAYS.test(f) || !NOT_RUNTIME.test(f)))
      files.push({ path: `extension/node_modules/${name}/${f}`, localPath: path.resolve(dir, f) });
  }
  const manifest = await vsce.readManifest(process.cwd());
  const processed = await vsce.processFiles(vsce.createDefaultProcessors(manifest, { target }), files);
  await writeZip(processed, out);
  return { target, out, bytes: fs.statSync(out).size, files: processed.length };
}

const options = parseArgs(process.argv.slice(2));
if (!fs.existsSync(path.join('dist', 'extension', 'extension.js')))
  usage('dist/ is missing: run `npm run build` first');
const ownFiles = await vsce.listFiles({ cwd: process.cwd(), ignoreFile: '.vscodeignore', dependencies: false });
const packages = runtimePackages();
console.log(`package: ${ownFiles.length} files of ours, ${packages.length} runtime packages from node_modules`);
const results = [];
for (const target of options.targets) {
  const out = options.all ? `distill-studio-${target}.vsix` : (options.out ?? 'distill-studio.vsix');
  const r = await buildTarget(target, out, options, ownFiles, packages);
  results.push(r);
  if (r.skipped) console.log(`package: ${target}: not built: ${r.skipped}`);
  else console.log(`package: ${target}: ${r.out}, ${(r.bytes / 1e6).toFixed(1)} MB, ${r.files} files`);
}
if (results.every((r) => r.skipped)) process.exit(1);
