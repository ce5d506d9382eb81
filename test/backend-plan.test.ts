import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BACKEND_NAMES, type DoctorReport } from '../src/protocol/backends.ts';
import { configSchema } from '../src/core/config/schema.ts';
import {
  BACKEND_SETTING_VALUES,
  backendRows,
  backendSetting,
  backendsMarkdown,
  parseDoctorReport,
  planBackend,
  planLabel,
  trainsConvolutions,
} from '../src/extension/backendPlan.ts';
import { BackendState } from '../src/extension/backendState.ts';
import { cliPath, root, smallConfig } from './helpers/cli.ts';

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const config = (overrides: Record<string, unknown> = {}) => configSchema.parse(smallConfig(overrides));

test('the distill.backend setting offers every BackendPreference, each described, "" and auto first', () => {
  const setting = manifest.contributes.configuration.properties['distill.backend'];
  assert.deepEqual(setting.enum, ['', 'auto', ...BACKEND_NAMES]);
  assert.deepEqual(setting.enum, [...BACKEND_SETTING_VALUES]);
  assert.equal(setting.enumDescriptions.length, setting.enum.length);
  assert.ok(setting.enumDescriptions.every((d: string) => d.length > 10));
  assert.equal(backendSetting('webgpu'), 'webgpu');
  assert.equal(backendSetting('gpu'), '', 'a hand-edited unknown value counts as unset');
  // Titles are package.nls.json keys (%key%), as VS Code shows them.
  const nls = JSON.parse(fs.readFileSync(path.join(root, 'package.nls.json'), 'utf8'));
  const commands = manifest.contributes.commands.map(
    (c: { command: string; title: string }) => `${c.command}=${c.title.replace(/^%(.+)%$/, (_, k) => nls[k])}`,
  );
  assert.ok(commands.includes('distill.checkBackends=Check Backends'));
  assert.ok(commands.includes('distill.setUpNativeBackend=Set Up Native Backend'));
});

test('the VSIX ships the offline build script (.vscodeignore is an allow-list)', () => {
  const lines = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n');
  assert.ok(lines.includes('!scripts/setup-native-tfjs.sh'));
});

/** A report as a machine with an NVIDIA GPU (webgpu) and no tfjs-node gives it. */
function gpuReport(software = false): DoctorReport {
  const adapter = {
    vendor: software ? 'mesa' : 'nvidia',
    architecture: software ? '' : 'hopper',
    device: '',
    description: software ? 'llvmpipe (LLVM 19.1.7, 256 bits)' : 'NVIDIA H200',
    software,
  };
  return {
    v: 1,
    node: 'v20.20.2',
    platform: 'linux-x64',
    backends: [
      {
        name: 'tensorflow-gpu',
        installed: false,
        loads: false,
        canTrainConvs: false,
        detail: '@tensorflow/tfjs-node-gpu: not installed',
        fix: 'use webgpu',
      },
      {
        name: 'webgpu',
        installed: true,
        loads: true,
        device: software ? 'software adapter llvmpipe' : 'GPU: NVIDIA H200 (WebGPU)',
        adapter,
        canTrainConvs: true,
        detail: software ? 'a software adapter' : 'ready',
        ...(software ? { fix: 'install the GPU driver' } : {}),
      },
      {
        name: 'tensorflow',
        installed: false,
        loads: false,
        canTrainConvs: false,
        detail: '@tensorflow/tfjs-node: not installed',
        fix: 'in VS Code: "Distill: Set Up Native Backend"; from a clone: scripts/setup-native-tfjs.sh',
      },
      {
        name: 'wasm',
        installed: true,
        loads: true,
        device: 'CPU (WebAssembly SIMD, 1 thread)',
        canTrainConvs: false,
        detail: 'cannot train convolutions (no Conv2DBackpropFilter)',
        fix: 'for conv models use auto',
      },
      {
        name: 'cpu',
        installed: true,
        loads: true,
        device: 'CPU (plain JavaScript)',
        canTrainConvs: true,
        detail: 'ready',
      },
    ],
    auto: software
      ? {
          dense: { name: 'wasm', reason: 'best available (webgpu: software adapter)' },
          conv: { name: 'cpu', reason: 'best available (wasm: no Conv2DBackpropFilter)' },
        }
      : {
          dense: { name: 'webgpu', reason: 'best available (tensorflow-gpu: not installed)' },
          conv: { name: 'webgpu', reason: 'best available (tensorflow-gpu: not installed)' },
        },
    onnxProviders: [{ name: 'cpu', available: true, detail: 'cpu' }],
  };
}

test('auto: the dense or the conv choice of the report, with its reason and device', () => {
  const gpu = planBackend(gpuReport(), '', 'auto', true);
  assert.equal(gpu.name, 'webgpu');
  assert.equal(gpu.source, 'auto');
  assert.ok(gpu.ok);
  assert.equal(planLabel(gpu), 'webgpu (NVIDIA H200)');
  assert.match(gpu.reason, /^auto: best available/);
  const soft = gpuReport(true);
  assert.equal(planBackend(soft, '', 'auto', false).name, 'wasm');
  assert.equal(planLabel(planBackend(soft, '', 'auto', false)), 'wasm (CPU)');
  assert.equal(planBackend(soft, '', 'auto', true).name, 'cpu');
  const unknown = planBackend(soft, '', undefined, undefined);
  assert.equal(unknown.name, 'wasm', 'no config known: the dense choice');
  assert.match(unknown.reason, /a run that trains convolutions gets cpu/);
  assert.equal(planBackend(soft, 'auto', 'cpu', false).name, 'wasm', "the setting's auto overrides the config's cpu");
});

test('a forced backend: from the setting before the config; one that cannot run says why and how to fix it', () => {
  const r = gpuReport(true);
  const config = planBackend(r, '', 'cpu', true);
  assert.deepEqual(
    [config.name, config.source, config.ok, config.reason],
    ['cpu', 'config', true, 'forced by the config\'s "backend"'],
  );
  const setting = planBackend(r, 'wasm', 'cpu', false);
  assert.deepEqual([setting.name, setting.source, setting.ok], ['wasm', 'setting', true]);
  const conv = planBackend(r, 'wasm', 'auto', true);
  assert.equal(conv.ok, false);
  assert.match(conv.problem!, /wasm cannot train the convolutions of this config/);
  const missing = planBackend(r, '', 'tensorflow', false);
  assert.equal(missing.ok, false);
  assert.match(missing.problem!, /tensorflow does not load here: @tensorflow\/tfjs-node: not installed/);
  assert.match(missing.fix!, /Set Up Native Backend/);
  const soft = planBackend(r, 'webgpu', 'auto', true);
  assert.equal(soft.ok, true, 'named, a software adapter runs');
  assert.match(soft.problem!, /software adapter \(llvmpipe/);
  assert.equal(planLabel(soft), 'webgpu (llvmpipe (LLVM 19.1.7, 256 bits))');
});

test('whether a config trains convolutions: every model the run trains, not the teacher from a file', () => {
  assert.equal(trainsConvolutions(config()), false, 'the demo teacher is a CNN, but it is not trained');
  assert.equal(trainsConvolutions(config({ student: { architecture: { type: 'cnn', channels: [4] } } })), true);
  assert.equal(
    trainsConvolutions(
      config({
        student: {
          architecture: {
            type: 'layers',
            layers: [{ type: 'maxpool' }, { type: 'flatten' }, { type: 'dense', units: 8 }],
          },
        },
      }),
    ),
    true,
  );
  assert.equal(
    trainsConvolutions(
      config({ teacher: { source: 'train', architecture: { type: 'cnn', channels: [4] }, epochs: 1 } }),
    ),
    true,
  );
  assert.equal(
    trainsConvolutions(
      config({ strategy: { type: 'assistants', assistants: [{ architecture: { type: 'cnn', channels: [4] } }] } }),
    ),
    true,
  );
  assert.equal(
    trainsConvolutions(config({ strategy: { type: 'mutual', peer: { type: 'cnn', channels: [4] } } })),
    true,
  );
});

test('Check Backends rows: facts, device (the adapter for webgpu), fix, the setup action, what auto picks', () => {
  const rows = backendRows(gpuReport());
  assert.deepEqual(
    rows.map((r) => r.name),
    [...BACKEND_NAMES],
  );
  const webgpu = rows.find((r) => r.name === 'webgpu')!;
  assert.deepEqual(
    [webgpu.ok, webgpu.facts, webgpu.device, webgpu.autoFor],
    [true, 'installed · loads · trains convolutions', 'NVIDIA H200', ['dense', 'conv']],
  );
  const tf = rows.find((r) => r.name === 'tensorflow')!;
  assert.deepEqual(
    [tf.ok, tf.facts, tf.action],
    [false, 'not installed · does not load · cannot train convolutions', { kind: 'setup' }],
  );
  assert.deepEqual(rows.find((r) => r.name === 'wasm')!.action, { kind: 'fix', text: 'for conv models use auto' });
  assert.equal(rows.find((r) => r.name === 'cpu')!.action, undefined);
  assert.equal(
    backendRows(gpuReport(true)).find((r) => r.name === 'webgpu')!.device,
    'llvmpipe (LLVM 19.1.7, 256 bits) (software adapter)',
  );
});

test('the whole report as Markdown: one table row per backend, the auto choice with its reasons, the ONNX providers', () => {
  const r = gpuReport(true);
  r.backends[0].detail = 'a | b';
  const md = backendsMarkdown(r);
  const rows = md.split('\n').filter((l) => /^\| `/.test(l));
  assert.equal(rows.length, BACKEND_NAMES.length + 1);
  assert.match(
    md,
    /\*\*auto\*\* picks \*\*wasm\*\* for dense models \(best available \(webgpu: software adapter\)\) and \*\*cpu\*\* for models with convolutions/,
  );
  assert.ok(
    rows.includes(
      '| `wasm` | yes | yes | CPU (WebAssembly SIMD, 1 thread) | no | cannot train convolutions (no Conv2DBackpropFilter) | for conv models use auto |',
    ),
    rows.join('\n'),
  );
  assert.ok(rows[0].includes('a \\| b'), 'a pipe in a detail does not split the table');
  assert.match(md, /## ONNX teachers[\s\S]*\| `cpu` \| yes \| cpu \|/);
});

test('a doctor output that is not a report of this version is an error that says so', () => {
  assert.throws(() => parseDoctorReport('warning: something\n'), /printed no JSON report: warning: something/);
  assert.throws(() => parseDoctorReport('{"v":2}'), /version 2; this editor reads version 1/);
  assert.throws(() => parseDoctorReport('{"v":1}'), /lacks its backends/);
  assert.equal(parseDoctorReport(`TensorFlow says hello\n${JSON.stringify(gpuReport())}\n`).auto.dense.name, 'webgpu');
});

test(
  "the real trainer's doctor: cpu and wasm load here, and the plan for a dense and a conv config follows its auto choice",
  { skip: !fs.existsSync(cliPath) && 'dist/trainer/cli.js is missing: npm run build' },
  async () => {
    const state = new BackendState(() => ({ trainerPath: cliPath, nodePath: process.execPath }));
    let changes = 0;
    state.onChange(() => changes++);
    const [report, joined] = await Promise.all([state.refresh(), state.refresh()]);
    assert.equal(report, joined, 'a second check joins the one under way');
    assert.equal(state.report, report);
    assert.equal(state.checking, false);
    assert.ok(changes >= 2, 'listeners hear the start and the end');
    for (const name of ['cpu', 'wasm'] as const)
      assert.equal(report.backends.find((b) => b.name === name)?.loads, true, name);
    assert.deepEqual(
      report.backends.map((b) => b.name),
      [...BACKEND_NAMES],
    );
    const dense = planBackend(report, '', config().backend, trainsConvolutions(config()));
    assert.equal(dense.name, report.auto.dense.name);
    const conv = planBackend(report, '', 'auto', true);
    assert.equal(conv.name, report.auto.conv.name);
    assert.ok(
      report.backends.find((b) => b.name === conv.name)!.canTrainConvs,
      'auto never picks a backend that cannot train the convolutions',
    );
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(state.refresh(aborted.signal), { name: 'AbortError' });
    assert.equal(state.report, report, 'a cancelled check keeps the last report');
  },
);
