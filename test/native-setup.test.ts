import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  buildFromWheel,
  classifyInstallFailure,
  errorSummary,
  findNodeAndNpm,
  installOnline,
  runStep,
  toolEnv,
  TFJS_NODE_VERSION,
  type NodeAndNpm,
} from '../src/extension/nativeSetup.ts';
import { runTrainer } from '../src/extension/trainerCli.ts';
import { RunManager } from '../src/extension/runs/runManager.ts';
import { isAlive } from '../src/extension/runs/runStore.ts';
import { NATIVE_DIR_ENV } from '../src/core/nativeModules.ts';
import { cliPath, root, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';
import { writeDecoy } from './helpers/nativeDir.ts';

const made: string[] = [];
const temp = (prefix: string) => {
  const dir = tempDir(prefix);
  made.push(dir);
  return dir;
};
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const built = fs.existsSync(cliPath) ? false : 'dist/trainer/cli.js is missing: npm run build';
/** The steps that need the npm registry (and, for the build, ~100 s): DISTILL_TEST_NPM=1. */
const npmSteps =
  process.env.DISTILL_TEST_NPM === '1' ? false : 'needs the npm registry and minutes: DISTILL_TEST_NPM=1';

test("the setup installs the tfjs-node of the trainer's tfjs (they share one tfjs-core)", () => {
  assert.equal(TFJS_NODE_VERSION, manifest.optionalDependencies['@tensorflow/tfjs-node']);
  assert.equal(TFJS_NODE_VERSION, manifest.dependencies['@tensorflow/tfjs']);
});

function fakeNode(dir: string, name = 'node'): string {
  fs.mkdirSync(dir, { recursive: true });
  const f = path.join(dir, name);
  fs.writeFileSync(f, '#!/bin/sh\n', { mode: 0o755 });
  return f;
}

test("npm is found beside distill.nodePath, beside the editor's runtime when it is Node.js, or on PATH; its absence is reported", () => {
  const here = findNodeAndNpm({
    nodePath: '',
    execPath: '/opt/VSCode/code',
    pathEnv: process.env.PATH,
    platform: process.platform,
  });
  assert.ok(!('error' in here), JSON.stringify(here));
  assert.match(path.basename(here.npmCli), /^npm-cli\.js$/);
  assert.ok(fs.existsSync(here.node));

  // A Node.js laid out as the official Linux tarball: bin/node, bin/npm -> ../lib/node_modules/npm/bin/npm-cli.js.
  const dist = temp('node-dist');
  const node = fakeNode(path.join(dist, 'bin'));
  const cli = path.join(dist, 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  fs.mkdirSync(path.dirname(cli), { recursive: true });
  fs.writeFileSync(cli, '');
  fs.symlinkSync(path.relative(path.join(dist, 'bin'), cli), path.join(dist, 'bin', 'npm'));
  assert.deepEqual(findNodeAndNpm({ nodePath: node, execPath: '/opt/VSCode/code', pathEnv: '', platform: 'linux' }), {
    node,
    npmCli: fs.realpathSync(cli),
  });
  assert.deepEqual(
    findNodeAndNpm({ nodePath: '', execPath: node, pathEnv: '', platform: 'linux' }),
    { node, npmCli: fs.realpathSync(cli) },
    "the editor's runtime when it is a node (code-server)",
  );
  assert.deepEqual(
    findNodeAndNpm({ nodePath: '', execPath: '/opt/VSCode/code', pathEnv: path.join(dist, 'bin'), platform: 'linux' }),
    { node, npmCli: fs.realpathSync(cli) },
    'on PATH',
  );

  // Windows: node.exe with node_modules/npm beside it (npm.cmd is never spawned: no shell).
  const win = temp('node-win');
  const exe = fakeNode(win, 'node.exe');
  fs.mkdirSync(path.join(win, 'node_modules', 'npm', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(win, 'node_modules', 'npm', 'bin', 'npm-cli.js'), '');
  assert.deepEqual(
    findNodeAndNpm({ nodePath: exe, execPath: 'C:\\VSCode\\Code.exe', pathEnv: '', platform: 'win32' }),
    { node: exe, npmCli: path.join(win, 'node_modules', 'npm', 'bin', 'npm-cli.js') },
  );

  const bare = fakeNode(path.join(temp('node-bare'), 'bin'));
  const noNpm = findNodeAndNpm({ nodePath: bare, execPath: '/opt/VSCode/code', pathEnv: '', platform: 'linux' });
  assert.ok('error' in noNpm);
  assert.match(
    noNpm.error,
    new RegExp(`npm was not found beside ${bare.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} or on PATH`),
  );
  const none = findNodeAndNpm({ nodePath: '', execPath: '/opt/VSCode/code', pathEnv: '', platform: 'linux' });
  assert.ok('error' in none);
  assert.match(none.error, /no Node.js found/);
});

test("the tools run with the chosen node first on PATH and without the editor's ELECTRON_RUN_AS_NODE", () => {
  const env = toolEnv(
    { node: '/x/bin/node', npmCli: '/x/lib/npm-cli.js' },
    { PATH: '/usr/bin', ELECTRON_RUN_AS_NODE: '1', HOME: '/h' },
  );
  assert.deepEqual(env, { PATH: `/x/bin${path.delimiter}/usr/bin`, HOME: '/h' });
});

test(
  'a step streams its lines, and cancelling it stops its whole process group',
  { skip: process.platform === 'win32' && 'process groups' },
  async () => {
    const lines: string[] = [];
    const ok = await runStep(
      process.execPath,
      ['-e', 'console.log("one"); console.error("two"); process.stdout.write("three")'],
      root,
      { onLine: (l) => lines.push(l) },
    );
    assert.deepEqual([ok.ok, ok.code, lines.sort()], [true, 0, ['one', 'three', 'two']]);
    const failed = await runStep(process.execPath, ['-e', 'process.exit(3)'], root);
    assert.deepEqual([failed.ok, failed.code, failed.cancelled], [false, 3, false]);
    const missing = await runStep(path.join(root, 'no-such-program'), [], root);
    assert.equal(missing.ok, false);
    assert.match(missing.output, /ENOENT/);

    // A parent that starts a child which would outlive it (as npm starts install scripts).
    const abort = new AbortController();
    let grandchild = 0;
    const step = runStep(
      process.execPath,
      [
        '-e',
        `const c = require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' }); console.log(c.pid); setTimeout(() => {}, 60000);`,
      ],
      root,
      {
        signal: abort.signal,
        onLine: (l) => {
          grandchild = Number(l);
          abort.abort();
        },
      },
    );
    const r = await step;
    assert.deepEqual([r.ok, r.cancelled], [false, true]);
    for (let i = 0; i < 50 && isAlive(grandchild); i++) await new Promise((res) => setTimeout(res, 100));
    assert.ok(grandchild > 0 && !isAlive(grandchild), 'the grandchild was stopped too');
  },
);

// What npm printed here, where Google's storage cannot be reached (the real failure, captured).
const DOWNLOAD_FAILURE = `npm error code 1
npm error path /tmp/onl/node_modules/@tensorflow/tfjs-node
npm error command failed
npm error command sh -c node scripts/install.js
npm error CPU-linux-4.22.0.tar.gz
npm error https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz
npm error * Downloading libtensorflow
npm error node:events:502
npm error       throw er; // Unhandled 'error' event
npm error       ^
npm error
npm error Error: getaddrinfo ENOTFOUND storage.googleapis.com
npm error     at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:122:26)
npm error Emitted 'error' event on ClientRequest instance at:
npm error     at emitErrorEvent (node:_http_client:101:11)
npm error     at TLSSocket.socketErrorListener (node:_http_client:504:5)
npm error     at TLSSocket.emit (node:events:524:28)
npm error     at emitErrorNT (node:internal/streams/destroy:169:8)
npm error     at emitErrorCloseNT (node:internal/streams/destroy:128:3)
npm error     at process.processTicksAndRejections (node:internal/process/task_queues:82:21) {
npm error   errno: -3008,
npm error   code: 'ENOTFOUND',
npm error   syscall: 'getaddrinfo',
npm error   hostname: 'storage.googleapis.com'
npm error }
npm error
npm error Node.js v20.20.2
npm error A complete log of this run can be found in: /root/.npm/_logs/2026-12-01T20_07_16_032Z-debug-0.log`;

test("an install failure is told apart: tfjs-node's download (the wheel build avoids it) or npm itself", () => {
  assert.equal(classifyInstallFailure(DOWNLOAD_FAILURE), 'download');
  assert.equal(
    classifyInstallFailure(
      'npm error code ENOTFOUND\nnpm error request to https://registry.npmjs.org/@tensorflow%2ftfjs-node failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org',
    ),
    'npm',
  );
  assert.equal(classifyInstallFailure('npm error code EACCES\nnpm error syscall mkdir'), 'npm');
  assert.equal(errorSummary(DOWNLOAD_FAILURE), 'Error: getaddrinfo ENOTFOUND storage.googleapis.com');
  assert.equal(
    errorSummary(
      'npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/@tensorflow%2ftfjs-nod - Not found',
    ),
    'code E404 / 404 Not Found - GET https://registry.npmjs.org/@tensorflow%2ftfjs-nod - Not found',
  );
  assert.equal(
    errorSummary(
      'setup-native-tfjs: compiling the addon\nsetup-native-tfjs: error: make is missing (Debian: apt-get install build-essential)',
    ),
    'setup-native-tfjs: error: make is missing (Debian: apt-get install build-essential)',
  );
  assert.equal(errorSummary('something odd\nand then this'), 'something odd / and then this');
});

test(
  'runTrainer and the run manager give the trainer DISTILL_NATIVE_DIR, and the trainer loads tfjs-node from there',
  { skip: built },
  async () => {
    // A native folder whose tfjs-node says so when it is loaded: proof that the trainer looked there.
    const native = temp('native-env');
    writeDecoy(native, '@tensorflow/tfjs-node');
    const env = { [NATIVE_DIR_ENV]: native };
    const r = await runTrainer({ trainerPath: cliPath, nodePath: process.execPath, env }, ['doctor', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const tf = (
      JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { backends: Array<{ name: string; detail: string }> }
    ).backends.find((b) => b.name === 'tensorflow')!;
    assert.match(tf.detail, /the native folder's own @tensorflow\/tfjs-node was loaded/);

    const dir = temp('native-env-run');
    const m = new RunManager({
      trainerPath: cliPath,
      nodePath: process.execPath,
      maxConcurrentRuns: 1,
      stopGraceMs: 20000,
      pollMs: 100,
      env: { TF_CPP_MIN_LOG_LEVEL: '3', ...env },
    });
    try {
      const exit = once(m, 'exited') as Promise<[string, number | null, string | undefined]>;
      await m.start({
        configFile: writeConfig(dir, 'env', smallConfig({ backend: 'tensorflow' })),
        runsDir: path.join(dir, 'runs'),
        name: 'env',
        args: [],
      });
      const [, code, message] = await exit;
      assert.equal(code, 2);
      assert.match(message ?? '', /the native folder's own @tensorflow\/tfjs-node was loaded/);
    } finally {
      m.dispose();
    }
  },
);

function tools(): NodeAndNpm {
  const t = findNodeAndNpm({
    nodePath: '',
    execPath: process.execPath,
    pathEnv: process.env.PATH,
    platform: process.platform,
  });
  if ('error' in t) throw new Error(t.error);
  return t;
}

test(
  "online: the real npm install of tfjs-node into a folder; where Google's storage is unreachable, a download failure",
  { skip: npmSteps, timeout: 300000 },
  async () => {
    const dir = path.join(temp('native-online'), 'native');
    const r = await installOnline(dir, tools());
    if (r.ok) {
      assert.ok(fs.existsSync(path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node', 'package.json')));
      assert.ok(!fs.existsSync(path.join(dir, 'node_modules', '@tensorflow', 'tfjs-core')), 'pruned');
    } else {
      assert.equal(r.failure, 'download', r.output);
      assert.match(errorSummary(r.output), /storage\.googleapis\.com|libtensorflow/);
    }
  },
);

test(
  'offline: scripts/setup-native-tfjs.sh --prefix builds a folder the trainer loads tensorflow from',
  { skip: npmSteps || (process.platform !== 'linux' && 'Linux only'), timeout: 600000 },
  async () => {
    const dir = path.join(temp('native-wheel'), 'native');
    const progress: string[] = [];
    const r = await buildFromWheel(path.join(root, 'scripts', 'setup-native-tfjs.sh'), dir, tools(), {
      onLine: (l) => progress.push(l),
    });
    assert.ok(r.ok, r.output);
    assert.ok(
      progress.some((l) => /conv model trained 1 step .*: ok/.test(l)),
      progress.join('\n'),
    );
    assert.deepEqual(fs.readdirSync(path.join(dir, 'node_modules', '@tensorflow')), ['tfjs-node']);
    const doctor = spawnSync(process.execPath, [cliPath, 'doctor', '--json'], {
      env: { ...process.env, [NATIVE_DIR_ENV]: dir, TF_CPP_MIN_LOG_LEVEL: '3' },
      encoding: 'utf8',
    });
    const tf = (
      JSON.parse(doctor.stdout.trim().split('\n').at(-1)!) as { backends: Array<{ name: string; loads: boolean }> }
    ).backends.find((b) => b.name === 'tensorflow')!;
    assert.equal(tf.loads, true);
  },
);
