/**
 * onnxruntime execution providers for ONNX teachers, on this machine's real onnxruntime-node and
 * the real fixture models: the provider list says what really runs here, a run records and
 * prints the provider its teacher used, and webgpu (where it runs) computes what cpu computes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import type * as ortTypes from 'onnxruntime-node';
import { onnxProviders, webgpuAdapter } from '../src/core/models/onnxProviders.ts';
import { openOnnxTeacher } from '../src/core/models/onnxTeacher.ts';
import { teacherCacheKey } from '../src/core/distill/teacherCache.ts';
import { runDistillation } from '../src/core/run/pipeline.ts';
import { parseEvents, type TeacherOutputsEvent } from '../src/protocol/events.ts';
import { ProgressPrinter } from '../src/trainer/report.ts';
import { readIdx } from '../src/core/data/idx.ts';
import { demoDataDir } from '../src/core/paths.ts';

const ort = require('onnxruntime-node') as typeof ortTypes;
const FIXTURES = path.join(__dirname, 'fixtures', 'onnx');
const CNN = path.join(FIXTURES, 'tiny-cnn.onnx');
const MLP = path.join(FIXTURES, 'tiny-mlp.onnx');
const FEATURE = '/relu2/Relu_output_0';
/**
 * float32 tolerance of webgpu against cpu: |a - b| <= 1e-5 * max(1, |b|). The two sum the same
 * products in other orders (and WebGPU shaders may fuse multiply-adds), so they differ by a few
 * ulps per accumulation; 1e-5 is far above that for these layers of <= 800 terms and far below
 * any difference a student could learn from.
 */
const TOLERANCE = 1e-5;

const cudaLibsPresent = () => {
  const bin = path.join(
    path.dirname(require.resolve('onnxruntime-node')),
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
  );
  return ['libonnxruntime_providers_cuda.so', 'onnxruntime_providers_cuda.dll'].some((f) =>
    fs.existsSync(path.join(bin, f)),
  );
};

/** Whether onnxruntime itself creates and runs a session on `provider` alone (tiny-mlp, batch 2). */
async function runsOn(provider: string): Promise<boolean> {
  try {
    const s = await ort.InferenceSession.create(MLP, { executionProviders: [provider], logSeverityLevel: 4 });
    try {
      const out = await s.run({ input: new ort.Tensor('float32', new Float32Array(2 * 784).fill(0.5), [2, 784]) });
      return out.logits.dims.join() === '2,10';
    } finally {
      await s.release();
    }
  } catch {
    return false;
  }
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

const logged: string[] = [];

test('the provider list says what runs here: cpu does, cuda only with its libraries (else the fix), webgpu as onnxruntime itself finds', async () => {
  const list = await onnxProviders();
  assert.deepEqual(
    list.map((p) => p.name),
    ['cuda', 'webgpu', 'cpu'],
  );
  for (const p of list) {
    assert.equal(typeof p.available, 'boolean');
    assert.ok(p.detail.startsWith(`${p.name}: `) && !p.detail.includes('\n'), p.detail);
  }
  const [cuda, webgpu, cpu] = list;
  assert.equal(cpu.available, true, cpu.detail);
  if (!cudaLibsPresent()) {
    assert.equal(cuda.available, false, cuda.detail);
    assert.match(cuda.detail, /installed without the CUDA provider/);
    assert.match(cuda.detail, /ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/);
  }
  // Checked against onnxruntime directly, not against the module's own reasoning.
  assert.equal(cuda.available, await runsOn('cuda'), cuda.detail);
  assert.equal(webgpu.available, await runsOn('webgpu'), webgpu.detail);
  const { adapter } = await webgpuAdapter();
  if (webgpu.available && adapter?.software) assert.match(webgpu.detail, /not tried automatically: .*software adapter/);
  for (const p of list) logged.push(`${p.available ? 'available  ' : 'unavailable'} ${p.detail}`);
});

test('where webgpu runs, onnxruntime really places the nodes on it (its profile names the provider of every node)', async (t) => {
  if (!(await runsOn('webgpu'))) return t.skip('the webgpu provider does not run here');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-ort-profile-'));
  const s = await ort.InferenceSession.create(CNN, {
    executionProviders: ['webgpu'],
    logSeverityLevel: 3,
    enableProfiling: true,
    profileFilePrefix: path.join(dir, 'webgpu'),
  });
  await s.run({ input: new ort.Tensor('float32', new Float32Array(2 * 784).fill(0.25), [2, 1, 28, 28]) });
  s.endProfiling();
  await s.release();
  const profile = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
  assert.ok(profile, 'no profile written');
  const events = JSON.parse(fs.readFileSync(path.join(dir, profile), 'utf8')) as Array<{
    cat?: string;
    name?: string;
    args?: { provider?: string };
  }>;
  const providers = new Set(events.filter((e) => e.cat === 'Node' && e.args?.provider).map((e) => e.args!.provider));
  assert.deepEqual([...providers], ['WebGpuExecutionProvider']);
  logged.push(`webgpu profile of tiny-cnn: every node on ${[...providers].join(', ')}`);
});

test('a teacher run through the product code records the provider: in its event, the CLI line and the cache entry, and a second run reads that entry', async () => {
  const list = await onnxProviders();
  const { adapter } = await webgpuAdapter();
  const expected = list[0].available ? 'cuda' : list[1].available && adapter && !adapter.software ? 'webgpu' : 'cpu';

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-onnx-provider-'));
  fs.copyFileSync(MLP, path.join(dir, 'teacher.onnx'));
  const configFile = path.join(dir, 'mlp.distill.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      name: 'provider',
      data: { source: 'demo', trainLimit: 300, batchSize: 64 },
      teacher: { source: 'onnx', path: 'teacher.onnx' },
      student: { architecture: { type: 'mlp', hidden: [8] } },
      distill: { method: 'kd', temperature: 2, alpha: 0.5 },
      train: { epochs: 1, logEvery: 5 },
      baseline: false,
      backend: 'cpu',
      bench: { enabled: false },
      export: { onnx: false },
      output: { dir: 'runs' },
    }),
  );
  const teacherEvent = async () => {
    const { runDir, status } = await runDistillation({ configFile });
    assert.equal(status, 'finished');
    const events = parseEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
    const e = events.find((ev): ev is TeacherOutputsEvent => ev.type === 'teacher_outputs');
    assert.ok(e, 'no teacher_outputs event');
    return e;
  };

  const first = await teacherEvent();
  assert.equal(first.provider, expected, first.providerDetail);
  assert.ok(first.providerDetail && first.providerDetail.length > 0);
  if (expected !== 'cuda')
    assert.ok(
      first.providerDetail.includes(list[0].detail.slice(0, 40)),
      `the detail says why not cuda: ${first.providerDetail}`,
    );
  assert.equal(first.cache?.hit, false);
  const manifest = JSON.parse(fs.readFileSync(path.join(first.cache!.dir, 'manifest.json'), 'utf8')) as {
    meta: { provider?: string };
  };
  assert.equal(manifest.meta.provider, expected);

  // The CLI's progress printer, writing into a real stream.
  let printed = '';
  const out = new Writable({
    write(chunk, _enc, done) {
      printed += String(chunk);
      done();
    },
  });
  new ProgressPrinter(out as unknown as NodeJS.WriteStream, false).handle(first);
  assert.match(
    printed,
    new RegExp(`^teacher outputs: [\\d,]+ examples in [\\d.]+s on onnxruntime ${expected} \\(.+\\), cached in .+\\n$`),
  );
  logged.push(`CLI: ${printed.trim()}`);

  const second = await teacherEvent();
  assert.equal(second.cache?.hit, true, 'same teacher, data and provider: the cached outputs are reused');
  assert.equal(second.cache?.dir, first.cache?.dir);
  assert.equal(second.provider, expected);
});

test('the cache key depends on the provider, and only ONNX teachers (which name one) get a new key', () => {
  const inputs = { train: Float32Array.of(1, 2), validation: Float32Array.of(3), test: Float32Array.of(4) };
  const base = { teacherHash: 'ab'.repeat(32), inputs, featureNames: [] };
  const keys = new Set(['cpu', 'webgpu', 'cuda'].map((provider) => teacherCacheKey({ ...base, provider })));
  assert.equal(keys.size, 3);
  assert.ok(!keys.has(teacherCacheKey(base)));
  assert.equal(teacherCacheKey({ ...base, provider: undefined }), teacherCacheKey(base));
});

test('a provider that cannot create the session falls back to the next, the reason recorded', async (t) => {
  if (cudaLibsPresent()) return t.skip('the CUDA provider is installed here: no real failure to fall back from');
  const teacher = await openOnnxTeacher(MLP, [28, 28, 1], 10, { layout: 'auto', providers: ['cuda'] });
  try {
    assert.equal(teacher.provider, 'cpu');
    assert.match(teacher.providerDetail, /^cuda: no session \(.*[Ff]ailed to load/);
    logged.push(`providers ['cuda'] without its libraries: ${teacher.provider} (${teacher.providerDetail})`);
  } finally {
    await teacher.dispose();
  }
});

test(`webgpu, where it runs, gives cpu's logits and features within ${TOLERANCE} (relative, float32)`, async (t) => {
  if (!(await runsOn('webgpu'))) return t.skip('the webgpu provider does not run here');
  const idx = readIdx(path.join(demoDataDir(), 't10k-images-idx3-ubyte.gz'));
  const n = 64;
  const x = Float32Array.from(idx.data.subarray(0, n * 784), (p) => p / 255);
  let largest = 0;
  for (const [name, file, features] of [
    ['tiny-cnn', CNN, [FEATURE]],
    ['tiny-mlp', MLP, []],
  ] as const) {
    const gpu = await openOnnxTeacher(file, [28, 28, 1], 10, {
      layout: 'auto',
      features: [...features],
      providers: ['webgpu'],
    });
    const cpu = await openOnnxTeacher(file, [28, 28, 1], 10, {
      layout: 'auto',
      features: [...features],
      providers: ['cpu'],
    });
    try {
      assert.equal(gpu.provider, 'webgpu', gpu.providerDetail);
      assert.equal(cpu.provider, 'cpu');
      const a = await gpu.run(x, n, 16);
      const b = await cpu.run(x, n, 16);
      const dLogits = maxRelDiff(a.logits, b.logits);
      assert.ok(dLogits <= TOLERANCE, `${name} logits: max relative |diff| ${dLogits}`);
      largest = Math.max(largest, dLogits);
      for (const f of features) {
        assert.deepEqual(a.features[f].shape, b.features[f].shape);
        const d = maxRelDiff(a.features[f].data, b.features[f].data);
        assert.ok(d <= TOLERANCE, `${name} feature ${f}: max relative |diff| ${d}`);
        largest = Math.max(largest, d);
        logged.push(`${name} webgpu vs cpu, ${n} demo images: feature max relative |diff| ${d.toExponential(2)}`);
      }
      logged.push(
        `${name} webgpu vs cpu, ${n} demo images: logits max relative |diff| ${dLogits.toExponential(2)} (${gpu.providerDetail})`,
      );
    } finally {
      await gpu.dispose();
      await cpu.dispose();
    }
  }
  // Sums in another order round differently: results bit-identical to cpu's would mean webgpu computed nothing.
  assert.ok(largest > 0, 'webgpu results are bit-identical to cpu: the session did not run on webgpu');
});

test('summary', () => {
  for (const line of logged) console.log(line);
});
