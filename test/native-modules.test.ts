import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NATIVE_DIR_ENV, nativeDir, pruneNativeDir, requireTensorflowPackage } from '../src/core/nativeModules.ts';
import { root, tempDir, tensorflowAvailable } from './helpers/cli.ts';
import { copyNativeInstall, writeDecoy } from './helpers/nativeDir.ts';

const made: string[] = [];
const temp = (prefix: string) => {
  const dir = tempDir(prefix);
  made.push(dir);
  return dir;
};
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

const native = tensorflowAvailable() ? false : 'no native tfjs-node in node_modules: run scripts/setup-native-tfjs.sh';

interface LoadResult {
  error?: string;
  code?: string;
  setBackend?: boolean;
  backend?: string;
  registered?: string[];
  loss?: number;
  sameTensorClass?: boolean;
  nativeFile?: string;
  coreFiles?: string[];
  warnings?: string[];
}

/** A fresh process (as the trainer is) that loads the native package with DISTILL_NATIVE_DIR=dir and trains one conv step. */
function loadIn(dir: string | undefined, pkg = '@tensorflow/tfjs-node'): LoadResult {
  const env: NodeJS.ProcessEnv = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' };
  if (dir === undefined) delete env[NATIVE_DIR_ENV];
  else env[NATIVE_DIR_ENV] = dir;
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join('test', 'helpers', 'nativeLoad.ts'), pkg], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as LoadResult;
  } catch {
    throw new Error(`no result (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

test('DISTILL_NATIVE_DIR: unset or empty means none; a relative one is made absolute', () => {
  assert.equal(nativeDir({}), undefined);
  assert.equal(nativeDir({ [NATIVE_DIR_ENV]: ' ' }), undefined);
  assert.equal(nativeDir({ [NATIVE_DIR_ENV]: 'x' }), path.resolve('x'));
});

test('a package in neither place is the normal MODULE_NOT_FOUND naming it (with or without a native folder)', () => {
  const saved = process.env[NATIVE_DIR_ENV];
  try {
    for (const dir of [undefined, temp('native-empty')]) {
      if (dir === undefined) delete process.env[NATIVE_DIR_ENV];
      else process.env[NATIVE_DIR_ENV] = dir;
      assert.throws(
        () => requireTensorflowPackage('@tensorflow/tfjs-node-gpu'),
        (err: NodeJS.ErrnoException) =>
          err.code === 'MODULE_NOT_FOUND' && err.message.includes("'@tensorflow/tfjs-node-gpu'"),
      );
    }
  } finally {
    if (saved === undefined) delete process.env[NATIVE_DIR_ENV];
    else process.env[NATIVE_DIR_ENV] = saved;
  }
});

test('a native folder that holds the package is used, and its load error is not hidden by a fallback', () => {
  const dir = temp('native-broken');
  writeDecoy(dir, '@tensorflow/tfjs-node-gpu');
  const saved = process.env[NATIVE_DIR_ENV];
  process.env[NATIVE_DIR_ENV] = dir;
  try {
    assert.throws(
      () => requireTensorflowPackage('@tensorflow/tfjs-node-gpu'),
      /the native folder's own @tensorflow\/tfjs-node-gpu was loaded/,
    );
  } finally {
    if (saved === undefined) delete process.env[NATIVE_DIR_ENV];
    else process.env[NATIVE_DIR_ENV] = saved;
  }
});

test("pruneNativeDir deletes the folder's own tfjs packages and keeps the native ones and everything else", () => {
  const dir = temp('native-prune');
  for (const name of [
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-layers',
    '@tensorflow/tfjs-backend-cpu',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
    'tar',
  ])
    writeDecoy(dir, name);
  assert.deepEqual(pruneNativeDir(dir).sort(), [
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-backend-cpu',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-layers',
  ]);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'node_modules', '@tensorflow')).sort(), [
    'tfjs-node',
    'tfjs-node-gpu',
  ]);
  assert.ok(fs.existsSync(path.join(dir, 'node_modules', 'tar', 'package.json')));
  assert.deepEqual(pruneNativeDir(dir), [], 'a second prune has nothing to do');
  assert.deepEqual(pruneNativeDir(temp('native-none')), []);
});

test(
  "tfjs-node from a separate folder registers the tensorflow backend on the trainer's tfjs-core and trains a conv",
  { skip: native },
  () => {
    const dir = copyNativeInstall(temp('native'));
    assert.ok(
      !fs.existsSync(path.join(dir, 'node_modules', '@tensorflow', 'tfjs')),
      'laid out as the setup leaves it: no tfjs of its own',
    );
    const r = loadIn(dir);
    assert.equal(r.error, undefined, r.error);
    assert.equal(
      r.nativeFile,
      path.join(fs.realpathSync(dir), 'node_modules', '@tensorflow', 'tfjs-node', 'dist', 'index.js'),
      'loaded from the native folder',
    );
    assert.deepEqual(
      r.coreFiles,
      [path.join(root, 'node_modules', '@tensorflow', 'tfjs-core')],
      "one tfjs-core: the trainer's",
    );
    assert.ok(r.registered?.includes('tensorflow'), `registered: ${r.registered}`);
    assert.equal(r.setBackend, true);
    assert.equal(r.backend, 'tensorflow');
    assert.ok(Number.isFinite(r.loss), `loss ${r.loss}`);
    assert.equal(r.sameTensorClass, true, "its exports are the trainer's tfjs");
    assert.deepEqual(r.warnings, [], 'no kernel registered twice');
  },
);

test("the folder's own tfjs copies (as npm installs them) are never loaded", { skip: native }, () => {
  const dir = copyNativeInstall(temp('native-unpruned'));
  for (const name of ['@tensorflow/tfjs', '@tensorflow/tfjs-core']) writeDecoy(dir, name);
  const r = loadIn(dir);
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.backend, 'tensorflow');
  assert.deepEqual(r.coreFiles, [path.join(root, 'node_modules', '@tensorflow', 'tfjs-core')]);
});

test(
  "without DISTILL_NATIVE_DIR the package loads the normal way (this checkout's node_modules)",
  { skip: native },
  () => {
    const r = loadIn(undefined);
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.nativeFile, path.join(root, 'node_modules', '@tensorflow', 'tfjs-node', 'dist', 'index.js'));
    assert.equal(r.backend, 'tensorflow');
  },
);
