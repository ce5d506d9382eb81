/**
 * Checkpoints: `checkpoints/<phase>/<name>/` with the model (model.json + weights.bin), the
 * optimizer's slots, the best weights so far (early stopping) and `state.json`. Each folder is
 * written to a temp name and renamed, so a crash never leaves a half-written checkpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Phase, EvalMetrics } from '../../protocol/events.ts';
import { writeDirAtomic } from '../fsutil.ts';
import { loadModel, saveModel } from '../models/io.ts';

export const CHECKPOINT_VERSION = 1;

export interface PhaseProgress {
  version: typeof CHECKPOINT_VERSION;
  phase: Phase;
  /** Completed epochs; with `stepInEpoch` > 0 the next epoch is partly done. */
  epochsDone: number;
  stepInEpoch: number;
  globalStep: number;
  /** State of the seeded Math.random (dropout masks), to continue the same stream. */
  rngState: number;
  optimizerStep: number;
  best: { accuracy: number; epoch: number } | null;
  epochsWithoutImprovement: number;
  /** Set in the `final` checkpoint of a finished phase. */
  done?: { stoppedEarly: boolean; bestEpoch: number; epochs: number; seconds: number; test: EvalMetrics };
}

export interface CheckpointPayload {
  progress: PhaseProgress;
  model: tf.LayersModel;
  optimizerSlots: Float32Array[];
  bestWeights?: tf.Tensor[];
}

export const checkpointName = (p: PhaseProgress) =>
  p.done ? 'final' : `epoch-${String(p.epochsDone).padStart(4, '0')}${p.stepInEpoch > 0 ? `-step-${String(p.stepInEpoch).padStart(6, '0')}` : ''}`;

function writeFloats(file: string, arrays: ArrayLike<number>[]): void {
  const header = Buffer.from(JSON.stringify(arrays.map((a) => a.length)));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const body = Buffer.concat(arrays.map((a) => Buffer.from(Float32Array.from(a).buffer)));
  fs.writeFileSync(file, Buffer.concat([len, header, body]));
}

function readFloats(file: string): Float32Array[] {
  const buf = fs.readFileSync(file);
  const headerLength = buf.readUInt32LE(0);
  const lengths = JSON.parse(buf.subarray(4, 4 + headerLength).toString()) as number[];
  let offset = 4 + headerLength;
  return lengths.map((n) => {
    const out = new Float32Array(n);
    Buffer.from(out.buffer).set(buf.subarray(offset, offset + n * 4));
    offset += n * 4;
    return out;
  });
}

/** Writes a checkpoint and returns its folder. */
export async function writeCheckpoint(runDir: string, payload: CheckpointPayload): Promise<string> {
  const dir = path.join(runDir, 'checkpoints', payload.progress.phase, checkpointName(payload.progress));
  const modelDir = path.join(path.dirname(dir), `.model-${process.pid}`);
  await saveModel(payload.model, modelDir);
  const best = payload.bestWeights && (await Promise.all(payload.bestWeights.map((t) => t.data())));
  writeDirAtomic(dir, (tmp) => {
    fs.renameSync(modelDir, path.join(tmp, 'model'));
    writeFloats(path.join(tmp, 'optimizer.bin'), payload.optimizerSlots);
    if (best) writeFloats(path.join(tmp, 'best.bin'), best);
    fs.writeFileSync(path.join(tmp, 'state.json'), `${JSON.stringify(payload.progress, null, 2)}\n`);
  });
  return dir;
}

export interface LoadedCheckpoint {
  dir: string;
  progress: PhaseProgress;
  modelJson: string;
  optimizerSlots: () => Float32Array[];
  bestWeights: () => Float32Array[] | undefined;
}

/** The most advanced complete checkpoint of a phase (`final` first), or undefined. */
export function latestCheckpoint(runDir: string, phase: Phase): LoadedCheckpoint | undefined {
  const phaseDir = path.join(runDir, 'checkpoints', phase);
  if (!fs.existsSync(phaseDir)) return undefined;
  const names = fs.readdirSync(phaseDir).filter((n) => !n.startsWith('.') && fs.existsSync(path.join(phaseDir, n, 'state.json')));
  const name = names.includes('final') ? 'final' : names.sort().at(-1);
  if (!name) return undefined;
  const dir = path.join(phaseDir, name);
  const progress = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as PhaseProgress;
  if (progress.version !== CHECKPOINT_VERSION) throw new Error(`${dir}: checkpoint version ${progress.version}, expected ${CHECKPOINT_VERSION}`);
  return {
    dir,
    progress,
    modelJson: path.join(dir, 'model', 'model.json'),
    optimizerSlots: () => readFloats(path.join(dir, 'optimizer.bin')),
    bestWeights: () => (fs.existsSync(path.join(dir, 'best.bin')) ? readFloats(path.join(dir, 'best.bin')) : undefined),
  };
}

/** Loads the weights of a checkpoint into a model of the same architecture. */
export async function restoreWeights(model: tf.LayersModel, checkpoint: LoadedCheckpoint): Promise<void> {
  const { model: saved } = await loadModel(checkpoint.modelJson);
  model.setWeights(saved.getWeights());
  saved.dispose();
}
