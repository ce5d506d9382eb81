/**
 * `distill doctor`: every backend, tried here one by one: installed, loads, its device, whether it
 * can train convolutions, and the one action that fixes it; then what `auto` picks and why.
 */
import {
  BACKEND_NAMES,
  DOCTOR_VERSION,
  type BackendName,
  type BackendReport,
  type DoctorReport,
} from '../protocol/backends.ts';
import { TFJS_NAME, initBackend, selectBackend, tensorflowPackageInstalled } from './backend.ts';
import { CONV_TRAINING, DENSE_TRAINING, missingKernels } from './kernels.ts';
import { probeDawn } from './webgpu.ts';
import { onnxProviders } from './models/onnxProviders.ts';

async function installed(name: BackendName): Promise<boolean> {
  if (name === 'tensorflow-gpu') return tensorflowPackageInstalled('@tensorflow/tfjs-node-gpu');
  if (name === 'tensorflow')
    return (
      tensorflowPackageInstalled('@tensorflow/tfjs-node') || tensorflowPackageInstalled('@tensorflow/tfjs-node-gpu')
    );
  if (name === 'webgpu') {
    const dawn = await probeDawn();
    return dawn.ok || dawn.installed;
  }
  return true;
}

async function report(name: BackendName): Promise<BackendReport> {
  const init = await initBackend(name, true);
  if (!init.ok)
    return {
      name,
      installed: await installed(name),
      loads: false,
      canTrainConvs: false,
      detail: init.detail,
      ...(init.fix ? { fix: init.fix } : {}),
    };
  const missing = missingKernels(TFJS_NAME[name], CONV_TRAINING);
  const software = init.adapter?.software === true;
  return {
    name,
    installed: true,
    loads: true,
    device: init.device,
    ...(init.adapter ? { adapter: init.adapter } : {}),
    canTrainConvs: missing.length === 0,
    detail: software
      ? 'a software adapter: auto skips it; `--backend webgpu` uses it (slow)'
      : missing.length
        ? `cannot train convolutions (no ${missing.join(', ')})`
        : (init.note ?? 'ready'),
    ...(software
      ? { fix: 'on a machine with a GPU, install its Vulkan/Metal/D3D12 driver' }
      : missing.length
        ? { fix: 'for conv models use auto (it picks a backend that has the kernels)' }
        : {}),
  };
}

export async function doctorReport(): Promise<DoctorReport> {
  const backends: BackendReport[] = [];
  for (const name of BACKEND_NAMES) backends.push(await report(name));
  const [dense, conv] = [await selectBackend('auto', DENSE_TRAINING), await selectBackend('auto', CONV_TRAINING)];
  return {
    v: DOCTOR_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    backends,
    auto: {
      dense: { name: dense.name as BackendName, reason: dense.reason },
      conv: { name: conv.name as BackendName, reason: conv.reason },
    },
    onnxProviders: await onnxProviders(),
  };
}
