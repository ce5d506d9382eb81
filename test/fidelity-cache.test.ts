/**
 * The top-k teacher cache gives every run the same targets: the run that writes an entry trains
 * on the rebuilt top-k rows too, as the later runs and the resumes that read it do (it used to
 * train on the exact outputs and leave its resume the lossy rebuild). The key names the tfjs
 * backend that computed the outputs, since backends differ in the last bits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { teacherCacheKey } from '../src/core/distill/teacherCache.ts';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import {
  runCli,
  runFolders,
  signalStopped,
  smallConfig,
  startCli,
  stopWhen,
  tempDir,
  writeConfig,
} from './helpers/cli.ts';

const events = (run: string): RunEvent[] => parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));

/** A top-3 cache in `cacheDir`; small batches, so that a stop lands inside the distillation. */
const topKConfig = (cacheDir: string) =>
  smallConfig({
    backend: 'wasm',
    baseline: false,
    bench: { enabled: false },
    export: { onnx: false },
    data: { source: 'demo', trainLimit: 600, batchSize: 16 },
    cache: { dir: cacheDir, topK: 3 },
    train: { epochs: 2, logEvery: 4, checkpointEvery: 1 },
  });

/** What a run ended with: the distilled student's test metrics (loss, KL to the teacher: any other target moves them) and the summary. */
function trained(run: string) {
  const es = events(run);
  const finished = es.find((e) => e.type === 'run_finished');
  assert.ok(finished?.type === 'run_finished', 'the run finished');
  const test = es.find((e) => e.type === 'evaluation' && e.phase === 'distill' && e.split === 'test');
  assert.ok(test?.type === 'evaluation');
  return { test: test.metrics, summary: finished.summary };
}

/** Every epoch's training losses of the distillation (a resumed epoch logs only its remaining steps: not comparable). */
const epochLosses = (run: string) =>
  events(run).flatMap((e) => (e.type === 'epoch' && e.phase === 'distill' ? [e.train.loss] : []));

function cacheEvent(run: string) {
  const e = events(run).find((x) => x.type === 'teacher_outputs');
  assert.ok(e?.type === 'teacher_outputs' && e.cache, JSON.stringify(e));
  return e.cache;
}

const topKWarnings = (run: string) =>
  events(run).filter((e) => e.type === 'warning' && /top-3 cache/.test(e.message)).length;

let reference: ReturnType<typeof trained>;

test('a cache miss and a later hit train on the same targets; both warn that the logits are top-k', () => {
  const cacheDir = tempDir('topk-cache');
  const first = tempDir('topk-miss');
  assert.equal(runCli(['train', writeConfig(first, 'topk', topKConfig(cacheDir))], first).code, 0);
  const second = tempDir('topk-hit');
  assert.equal(runCli(['train', writeConfig(second, 'topk', topKConfig(cacheDir))], second).code, 0);
  const [a, b] = [runFolders(first)[0], runFolders(second)[0]];
  assert.equal(cacheEvent(a).hit, false);
  assert.equal(cacheEvent(b).hit, true);
  assert.equal(topKWarnings(a), 1, 'the run that writes the entry warns too');
  assert.equal(topKWarnings(b), 1);
  reference = trained(a);
  assert.deepEqual(trained(b), reference);
  assert.deepEqual(epochLosses(b), epochLosses(a));
  // The entry names the backend that computed it.
  const manifest = JSON.parse(fs.readFileSync(path.join(cacheEvent(a).dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.meta.backend.name, 'wasm');
});

test('stopped after a cache miss, then --resume (a hit): it ends exactly as the uninterrupted run', async () => {
  const dir = tempDir('topk-resume');
  const child = startCli(['train', writeConfig(dir, 'topk', topKConfig(tempDir('topk-fresh-cache')))], dir);
  const run = await stopWhen(
    child,
    dir,
    (es) => es.some((e) => e.type === 'checkpoint' && e.phase === 'distill') && es.at(-1)?.type === 'step',
  );
  const [code] = await signalStopped(child, 'SIGTERM');
  assert.equal(code, 143, 'stopped by the signal, not finished before it');
  assert.equal(cacheEvent(run).hit, false);
  const resumed = runCli(['train', '--resume', run], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const teacherOutputs = events(run).filter((e) => e.type === 'teacher_outputs');
  assert.equal(teacherOutputs.length, 2);
  assert.ok(teacherOutputs[1].type === 'teacher_outputs' && teacherOutputs[1].cache?.hit, 'the resume read the entry');
  assert.deepEqual(trained(run), reference);
});

test('the cache key names the tfjs backend (name, device, adapter): another backend never reads the entry', () => {
  const parts = {
    teacherHash: 'f'.repeat(64),
    inputs: { train: new Float32Array(8), validation: new Float32Array(2), test: new Float32Array(2) },
    featureNames: [],
  };
  const wasm = teacherCacheKey({ ...parts, backend: { name: 'wasm', device: 'CPU (WebAssembly SIMD, 1 thread)' } });
  const cpu = teacherCacheKey({ ...parts, backend: { name: 'cpu', device: 'CPU (plain JavaScript)' } });
  const gpuA = teacherCacheKey({
    ...parts,
    backend: { name: 'webgpu', device: 'GPU', adapter: 'nvidia / hopper / H200' },
  });
  const gpuB = teacherCacheKey({ ...parts, backend: { name: 'webgpu', device: 'GPU', adapter: 'amd / rdna3 / 7900' } });
  assert.equal(new Set([wasm, cpu, gpuA, gpuB, teacherCacheKey(parts)]).size, 5);
  assert.equal(
    wasm,
    teacherCacheKey({ ...parts, backend: { name: 'wasm', device: 'CPU (WebAssembly SIMD, 1 thread)' } }),
  );
});
