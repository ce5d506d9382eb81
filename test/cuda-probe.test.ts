/**
 * The CUDA probe against this machine's real dynamic loader, and the tfjs-node-gpu diagnosis against
 * the real package installed from the registry with its install script skipped (as offline installs end up).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CUDA11_SONAMES,
  DRIVER_SONAME,
  diagnoseTfjsNodeGpu,
  probeCudaLibraries,
  probeSonames,
} from '../src/core/cudaProbe.ts';

const linux = process.platform === 'linux';
const ARCH_TAG: Record<string, string> = { x64: 'x86-64', arm64: 'AArch64' };

/** An independent answer to "would the loader find this soname": ld.so.cache (ldconfig -p) and LD_LIBRARY_PATH. */
function loaderListing(): ((soname: string) => boolean) | undefined {
  const tag = ARCH_TAG[process.arch];
  const r = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  if (!tag || r.status !== 0) return undefined;
  const cached = new Set(
    r.stdout
      .split('\n')
      .filter((l) => l.includes(tag))
      .map((l) => l.trim().split(' ')[0]),
  );
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return (soname) => cached.has(soname) || dirs.some((d) => fs.existsSync(path.join(d, soname)));
}

test('the probe tells a library the loader has from one it lacks', { skip: !linux && 'the probe is for Linux' }, () => {
  // libc and libstdc++ are in every Node process on Linux; the third name exists nowhere.
  assert.deepEqual(probeSonames(['libc.so.6', 'libstdc++.so.6', 'libdistill-absent.so.0']), [
    { name: 'libc.so.6', state: 'present' },
    { name: 'libstdc++.so.6', state: 'present' },
    { name: 'libdistill-absent.so.0', state: 'missing' },
  ]);
});

test(
  'the probe agrees with ld.so.cache on the driver, the CUDA 11 libraries and the newer runtimes, in under 100 ms',
  { skip: !linux && 'the probe is for Linux' },
  (t) => {
    const listed = loaderListing();
    if (!listed) return void t.skip('no ldconfig to compare with');
    const started = performance.now();
    const probe = probeCudaLibraries();
    const ms = performance.now() - started;
    assert.ok(ms < 100, `probe took ${ms.toFixed(1)} ms`);
    assert.equal(probe.checked, true);
    assert.equal(probe.driver, listed(DRIVER_SONAME), `driver: ${JSON.stringify(probe)}`);
    assert.deepEqual(
      probe.cuda11.missing,
      CUDA11_SONAMES.filter((s) => !listed(s)),
    );
    const expectedMajor = listed('libcudart.so.13')
      ? 13
      : listed('libcudart.so.12')
        ? 12
        : listed('libcudart.so.11.0')
          ? 11
          : undefined;
    assert.equal(probe.cudaMajorFound, expectedMajor);

    // This machine (no driver, no CUDA 11) is the case users hit: the line must say both, and what it has instead.
    const d = diagnoseTfjsNodeGpu(undefined, false, probe);
    assert.equal(d.loads, true);
    assert.match(d.detail, /^loads, but runs on the CPU: /);
    if (!probe.driver) assert.match(d.detail, /no NVIDIA driver \(libcuda\.so\.1 not found\)/);
    if (!listed('libcudart.so.11.0')) {
      assert.match(
        d.detail,
        /libcudart\.so\.11\.0 .*not found: tfjs-node-gpu needs CUDA 11\.2 and cuDNN 8\.1; this machine has /,
      );
      assert.match(
        d.detail,
        expectedMajor ? new RegExp(`this machine has CUDA ${expectedMajor}\\.x`) : /this machine has no CUDA runtime/,
      );
    }
    console.log(`probe: ${ms.toFixed(1)} ms; ${d.detail}\nfix: ${d.fix}`);
  },
);

test(
  'a library that is there but whose dependency is missing is "unloadable", naming the dependency',
  { skip: !linux && 'the probe is for Linux' },
  (t) => {
    if (spawnSync('cc', ['--version']).status !== 0) return void t.skip('no C compiler to build the library');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-cudaprobe-'));
    try {
      fs.writeFileSync(path.join(dir, 'dep.c'), 'int dep(void) { return 1; }\n');
      fs.writeFileSync(path.join(dir, 'top.c'), 'int dep(void);\nint top(void) { return dep(); }\n');
      const cc = (args: string[]) =>
        assert.equal(spawnSync('cc', args, { cwd: dir }).status, 0, `cc ${args.join(' ')}`);
      cc(['-shared', '-fPIC', '-o', 'libdistilldep.so', 'dep.c']);
      cc(['-shared', '-fPIC', '-o', 'libdistilltop.so', 'top.c', '-L.', '-ldistilldep', '-Wl,-rpath,$ORIGIN']);
      const top = path.join(dir, 'libdistilltop.so');
      assert.equal(probeSonames([top])[0].state, 'present');
      fs.rmSync(path.join(dir, 'libdistilldep.so'));
      const [r] = probeSonames([top]);
      assert.equal(r.state, 'unloadable');
      assert.match(r.detail ?? '', /^libdistilldep\.so: cannot open shared object file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('tfjs-node-gpu not installed: said so', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-cudaprobe-'));
  try {
    let error: unknown;
    try {
      createRequire(path.join(dir, 'index.js'))('@tensorflow/tfjs-node-gpu');
    } catch (err) {
      error = err;
    }
    assert.ok(error, 'tfjs-node-gpu resolved from an empty folder (global install?)');
    const d = diagnoseTfjsNodeGpu(error, false);
    assert.deepEqual([d.loads, d.detail], [false, 'not installed']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const PKG = '@tensorflow/tfjs-node-gpu@4.22.0';
// Kept between runs: the install takes ~15 s and ~300 MB; the marker says it finished.
const CACHE = path.join(os.tmpdir(), 'distill-tfjs-node-gpu-4.22.0');
const DONE = path.join(CACHE, '.installed');

/** Installs the package with its install script skipped (nothing downloads from Google); a reason when the registry is unreachable. */
function installOffline(): { skip?: string } {
  if (fs.existsSync(DONE)) return {};
  const staging = `${CACHE}.${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const r = spawnSync(
    'npm',
    ['install', '--ignore-scripts', '--no-save', '--no-audit', '--no-fund', '--prefix', staging, PKG],
    {
      cwd: staging,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  const out = `${r.stdout}\n${r.stderr}\n${r.error?.message ?? ''}`;
  if (r.status !== 0) {
    fs.rmSync(staging, { recursive: true, force: true });
    const unreachable = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network|offline|E50[234]/i;
    if (unreachable.test(out) || r.error) {
      return {
        skip: `the npm registry is unreachable: ${
          out
            .split('\n')
            .find((l) => unreachable.test(l))
            ?.trim() ?? r.error?.message
        }`,
      };
    }
    assert.fail(`npm install ${PKG} failed:\n${out}`);
  }
  fs.writeFileSync(path.join(staging, '.installed'), new Date().toISOString());
  try {
    fs.renameSync(staging, CACHE);
  } catch {
    fs.rmSync(staging, { recursive: true, force: true }); // a concurrent run got there first
    if (!fs.existsSync(DONE)) assert.fail(`could not move the install to ${CACHE}`);
  }
  return {};
}

test(
  'tfjs-node-gpu installed without its install script: the diagnosis names the missing native addon',
  { timeout: 150_000 },
  (t) => {
    const { skip } = installOffline();
    if (skip) return void t.skip(skip);
    // A child process, as the trainer is one: the real require() error, sent back whole.
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `
    try { require('@tensorflow/tfjs-node-gpu'); console.log(JSON.stringify({ loaded: true })); }
    catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code })); }`,
      ],
      { cwd: CACHE, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } },
    );
    assert.equal(r.status, 0, r.stderr);
    const thrown = JSON.parse(r.stdout.trim().split('\n').pop()!) as { loaded?: true; message: string; code?: string };
    assert.ok(!thrown.loaded, 'tfjs-node-gpu loaded: its addon is there after all');
    const error = Object.assign(new Error(thrown.message), { code: thrown.code });

    const probe = probeCudaLibraries();
    const d = diagnoseTfjsNodeGpu(error, false, probe);
    assert.equal(d.loads, false);
    const lead =
      "installed, but its native addon was never built or downloaded (its install script fetches libtensorflow from Google's storage): ";
    assert.ok(d.detail.startsWith(lead), d.detail);
    // The path named is the package's own lib/napi-vN/tfjs_binding.node, and nothing is there.
    const addon = d.detail.slice(lead.length).split(';')[0];
    const pkgDir = path.join(fs.realpathSync(CACHE), 'node_modules', '@tensorflow', 'tfjs-node-gpu');
    assert.match(path.relative(pkgDir, addon), /^lib[/\\]napi-v\d+[/\\]tfjs_binding\.node$/);
    assert.ok(!fs.existsSync(addon), addon);
    // Rebuilding would not help where the GPU libraries are missing: the line says so, and the fix is another backend.
    if (linux && !probe.driver) {
      assert.match(d.detail, /; even built, it would run on the CPU here: no NVIDIA driver/);
      assert.doesNotMatch(d.fix, /npm rebuild/);
    }
    console.log(`${d.detail}\nfix: ${d.fix}`);
  },
);
