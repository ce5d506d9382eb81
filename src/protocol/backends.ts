/**
 * What `distill doctor --json` prints: every tfjs backend the trainer knows, whether it is
 * installed and loads here, where it computes, whether it can train convolutions, and the one
 * action that fixes it. The editor's "Check Backends" and the run's "will use" line read it.
 */

export const DOCTOR_VERSION = 1;

/** The backends a config or `--backend` can name, best first (auto's order). */
export const BACKEND_NAMES = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendPreference = 'auto' | BackendName;

/** A WebGPU adapter as Dawn describes it (GPUAdapterInfo), and whether it is a software rasterizer. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** llvmpipe, SwiftShader, or an adapter Dawn marks as fallback: used only when webgpu is named. */
  software: boolean;
}

export interface BackendReport {
  name: BackendName;
  /** Its package (or addon) is present. */
  installed: boolean;
  /** It initialised here. For tensorflow-gpu: TensorFlow sees a GPU, not only that the package loaded. */
  loads: boolean;
  /** Where it computes, e.g. "GPU: NVIDIA H200 (Vulkan)" or "CPU (native TensorFlow)". */
  device?: string;
  /** webgpu only: the adapter found. */
  adapter?: AdapterInfo;
  /** It has the gradient kernels of conv2d and pooling layers. */
  canTrainConvs: boolean;
  /** One line: what was found (why it does or does not load). */
  detail: string;
  /** The one action that makes it work, when it does not. */
  fix?: string;
}

export interface DoctorReport {
  v: typeof DOCTOR_VERSION;
  node: string;
  platform: string;
  backends: BackendReport[];
  /** What `auto` picks for a dense model and for a conv model, and why. */
  auto: { dense: { name: BackendName; reason: string }; conv: { name: BackendName; reason: string } };
  /** onnxruntime-node execution providers for ONNX teachers, best first. */
  onnxProviders?: Array<{ name: string; available: boolean; detail: string }>;
}
