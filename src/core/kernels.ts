/**
 * Which tfjs kernels a run needs, from the measured table (src/core/kernelTable.json, written by
 * `npm run kernels` from src/core/kernelProfile.ts), and which of them a backend lacks.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerSpec, LossTermSpec, OptimizerSpec } from './config/schema.ts';
import type { KernelTable } from './kernelProfile.ts';
import tableJson from './kernelTable.json';

export const KERNEL_TABLE_FILE = 'src/core/kernelTable.json';
const table = tableJson as KernelTable;

/** What a run trains: every layer of every model it trains, its loss terms and its optimizer. */
export interface KernelNeeds {
  layers: LayerSpec[];
  terms: Array<LossTermSpec['type']>;
  /** Absent: inference only (export, bench). */
  optimizer?: OptimizerSpec['type'];
  /** Whether training batches are augmented (data.augment). */
  augment?: boolean;
}

export const INFERENCE_ONLY: KernelNeeds = { layers: [], terms: [] };

/** A conv net trained with Adam: what "can train convolutions" means in the backend report. */
export const CONV_TRAINING: KernelNeeds = {
  layers: [
    { type: 'conv2d', filters: 1, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' },
    { type: 'maxpool', poolSize: 2, padding: 'valid' },
    { type: 'avgpool', poolSize: 2, padding: 'valid' },
    { type: 'flatten' },
    { type: 'dense', units: 1, activation: 'relu' },
  ],
  terms: ['kd'],
  optimizer: 'adam',
};

export const DENSE_TRAINING: KernelNeeds = {
  layers: [{ type: 'dense', units: 1, activation: 'relu' }],
  terms: ['kd'],
  optimizer: 'adam',
};

export function formatKernelTable(t: KernelTable): string {
  return `${JSON.stringify(t, null, 2)}\n`;
}

function activationOf(layer: LayerSpec): string | undefined {
  if (layer.type === 'dense' || layer.type === 'conv2d') return layer.activation;
  if (layer.type === 'activation') return layer.fn;
  return undefined;
}

export function requiredKernels(needs: KernelNeeds): Set<string> {
  const required = new Set(table.common);
  const add = (names: readonly string[] | undefined) => names?.forEach((k) => required.add(k));
  for (const layer of needs.layers) {
    add(table.layers[layer.type]);
    const fn = activationOf(layer);
    if (fn) add(table.activations[fn as keyof KernelTable['activations']]);
  }
  for (const term of needs.terms) add(table.terms[term]);
  if (needs.optimizer) add(table.optimizers[needs.optimizer]);
  if (needs.augment) add(table.augment);
  return required;
}

/** The kernels of `needs` that `backend` (a tfjs backend name) does not register, sorted. */
export function missingKernels(backend: string, needs: KernelNeeds): string[] {
  return [...requiredKernels(needs)].filter((k) => !tf.getKernel(k, backend)).sort();
}
