/**
 * Checkpoints: `checkpoints/<phase>/<name>/` with the model (model.json + weights.bin), the
 * optimizer's slots, the best weights so far (early stopping) and `state.json`. Each folder is
 * written to a temp name and renamed, so a crash never leaves a half-written checkpoint.
 *
 * Every array is stored under its name (a weight's `dense_1/kernel`, an optimizer slot's
 * `dense_1/kernel/m`), so a checkpoint that does not fit the model it is restored into is refused
 * naming what differs, instead of being loaded by position.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Phase, EvalMetrics } from '../../protocol/events.ts';
import { writeDirAtomic } from '../fsutil.ts';
import { loadModel, ModelFileError, saveModel } from '../models/io.ts';

/** 2: optimizer.bin and best.bin name each array (1 stored them by position). */
export const CHECKPOINT_VERSION = 2;

/** A checkpoint that cannot be resumed: another version, or another model. A user error (the CLI exits 2). */
export class CheckpointError extends ModelFileError {
  override name = 'CheckpointError';
}

/** An array of a checkpoint with its name and shape. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A saved set of arrays that does not fit what it is restored into; the message names the difference. */
export class MismatchError extends Error {
  override name = 'MismatchError';
}

const someOf = (names: string[]) =>
  names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * The saved arrays in the order of `expected`, matched by name; a missing, extra or reshaped
 * array is a MismatchError naming it (`what`: "optimizer slots", "best weights", "weights").
 */
export function matchByName<T extends { name: string; shape: readonly number[] }>(
  saved: T[],
  expected: Array<{ name: string; shape: readonly number[] }>,
  what: string,
): T[] {
  const byName = new Map(saved.map((a) => [a.name, a]));
  const wanted = new Set(expected.map((e) => e.name));
  const missing = expected.filter((e) => !byName.has(e.name)).map((e) => e.name);
  const extra = saved.filter((a) => !wanted.has(a.name)).map((a) => a.name);
  if (missing.length || extra.length)
    throw new MismatchError(
      `the saved ${what} do not fit this model: ${[missing.length ? `none for ${someOf(missing)}` : '', extra.length ? `${someOf(extra)} that it does not have` : ''].filter(Boolean).join('; ')}`,
    );
  return expected.map((e) => {
    const a = byName.get(e.name)!;
    if (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape[i]))
      throw new MismatchError(
        `the saved ${what} do not fit this model: ${e.name} is ${shapeText(a.shape)} there and ${shapeText(e.shape)} here`,
      );
    return a;
  });
}

/** The stable names of a model's weights (`dense_1/kernel`), in `getWeights()` order. */
export const weightNames = (model: tf.LayersModel): Array<{ name: string; shape: number[] }> =>
  model.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[] }));

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
  optimizerSlots: NamedArray[];
  /** The best weights so far, in the order of `model.getWeights()`. */
  bestWeights?: tf.Tensor[];
  /** The state the loss terms keep across steps (CRD's memory bank), named. */
  termState?: NamedArray[];
}

export const checkpointName = (p: PhaseProgress) =>
  p.done
    ? 'final'
    : `epoch-${String(p.epochsDone).padStart(4, '0')}${p.stepInEpoch > 0 ? `-step-${String(p.stepInEpoch).padStart(6, '0')}` : ''}`;

/** [u32 header length][JSON header: name and shape of each array][float32 data, in order]. */
function writeArrays(file: string, arrays: NamedArray[]): void {
  const header = Buffer.from(JSON.stringify(arrays.map((a) => ({ name: a.name, shape: a.shape }))));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const body = Buffer.concat(arrays.map((a) => Buffer.from(Float32Array.from(a.data).buffer)));
  fs.writeFileSync(file, Buffer.concat([len, header, body]));
}

/** The arrays of `file`; a damaged file (truncated, edited, unreadable) is a CheckpointError naming it. */
function readArrays(file: string): NamedArray[] {
  const damaged = (what: string) => new CheckpointError(file, `${what}; the checkpoint is damaged`);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw damaged(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const headerLength = buf.length >= 4 ? buf.readUInt32LE(0) : -1;
  if (headerLength < 0 || 4 + headerLength > buf.length) throw damaged(`${buf.length} bytes hold no complete header`);
  let entries: Array<{ name: string; shape: number[] }>;
  try {
    entries = JSON.parse(buf.subarray(4, 4 + headerLength).toString()) as typeof entries;
  } catch {
    throw damaged('its header is not valid JSON');
  }
  const valid =
    Array.isArray(entries) &&
    entries.every(
      (e) =>
        typeof e?.name === 'string' && Array.isArray(e.shape) && e.shape.every((d) => Number.isInteger(d) && d >= 0),
    );
  if (!valid) throw damaged('its header does not list arrays as { name, shape }');
  const expected = 4 + headerLength + 4 * entries.reduce((sum, e) => sum + e.shape.reduce((a, b) => a * b, 1), 0);
  if (buf.length !== expected) throw damaged(`${buf.length} bytes, but its header describes ${expected}`);
  let offset = 4 + headerLength;
  return entries.map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    Buffer.from(data.buffer).set(buf.subarray(offset, offset + n * 4));
    offset += n * 4;
    return { name, shape, data };
  });
}

/** Writes a checkpoint and returns its folder. */
export async function writeCheckpoint(runDir: string, payload: CheckpointPayload): Promise<string> {
  const dir = path.join(runDir, 'checkpoints', payload.progress.phase, checkpointName(payload.progress));
  const modelDir = path.join(path.dirname(dir), `.model-${process.pid}`);
  await saveModel(payload.model, modelDir);
  const names = weightNames(payload.model);
  const best =
    payload.bestWeights &&
    (await Promise.all(
      payload.bestWeights.map(async (t, i) => ({
        name: names[i].name,
        shape: t.shape,
        data: (await t.data()) as Float32Array,
      })),
    ));
  writeDirAtomic(dir, (tmp) => {
    fs.renameSync(modelDir, path.join(tmp, 'model'));
    writeArrays(path.join(tmp, 'optimizer.bin'), payload.optimizerSlots);
    if (best) writeArrays(path.join(tmp, 'best.bin'), best);
    if (payload.termState) writeArrays(path.join(tmp, 'terms.bin'), payload.termState);
    fs.writeFileSync(path.join(tmp, 'state.json'), `${JSON.stringify(payload.progress, null, 2)}\n`);
  });
  return dir;
}

export interface LoadedCheckpoint {
  dir: string;
  progress: PhaseProgress;
  modelJson: string;
  optimizerSlots: () => NamedArray[];
  bestWeights: () => NamedArray[] | undefined;
  /** The loss terms' state (terms.bin), when the phase has one. */
  termState: () => NamedArray[] | undefined;
}

/** The most advanced complete checkpoint of a phase (`final` first), or undefined. */
export function latestCheckpoint(runDir: string, phase: Phase): LoadedCheckpoint | undefined {
  const phaseDir = path.join(runDir, 'checkpoints', phase);
  if (!fs.existsSync(phaseDir)) return undefined;
  const names = fs
    .readdirSync(phaseDir)
    .filter((n) => !n.startsWith('.') && fs.existsSync(path.join(phaseDir, n, 'state.json')));
  const name = names.includes('final') ? 'final' : names.sort().at(-1);
  if (!name) return undefined;
  const dir = path.join(phaseDir, name);
  let progress: PhaseProgress;
  try {
    progress = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as PhaseProgress;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(
      path.join(dir, 'state.json'),
      `${code ? `cannot be read (${code})` : 'is not valid JSON'}; the checkpoint is damaged (resume needs its state: remove the folder ${dir} to resume from the one before it)`,
    );
  }
  if (!progress || typeof progress !== 'object')
    throw new CheckpointError(path.join(dir, 'state.json'), 'holds no checkpoint state; the checkpoint is damaged');
  if (progress.version !== CHECKPOINT_VERSION)
    throw new CheckpointError(
      dir,
      `checkpoint version ${progress.version}, but this Distill Studio resumes version ${CHECKPOINT_VERSION} only${progress.version < CHECKPOINT_VERSION ? ' (older checkpoints store the optimizer state without variable names)' : ''}; start a new run with the run's config.json`,
    );
  return {
    dir,
    progress,
    modelJson: path.join(dir, 'model', 'model.json'),
    optimizerSlots: () => readArrays(path.join(dir, 'optimizer.bin')),
    bestWeights: () => (fs.existsSync(path.join(dir, 'best.bin')) ? readArrays(path.join(dir, 'best.bin')) : undefined),
    termState: () => (fs.existsSync(path.join(dir, 'terms.bin')) ? readArrays(path.join(dir, 'terms.bin')) : undefined),
  };
}

/** Loads the weights of a checkpoint into a model of the same architecture; another one is refused by name. */
export async function restoreWeights(model: tf.LayersModel, checkpoint: LoadedCheckpoint): Promise<void> {
  const { model: saved } = await loadModel(checkpoint.modelJson);
  try {
    const values = saved.getWeights();
    const named = weightNames(saved).map((w, i) => ({ ...w, value: values[i] }));
    let matched: typeof named;
    try {
      matched = matchByName(named, weightNames(model), 'weights');
    } catch (err) {
      throw err instanceof MismatchError ? new CheckpointError(checkpoint.dir, err.message) : err;
    }
    model.setWeights(matched.map((w) => w.value));
  } finally {
    saved.dispose();
  }
}

/** Which checkpoints of a phase `pruneCheckpoints` keeps. */
export interface Retention {
  /** The most recent checkpoints kept (besides `final` and the best one); >= 1, so resume always finds the latest. */
  keepLast: number;
  /** Also keep the checkpoint written at the end of the best validation epoch (when one was). */
  keepBest: boolean;
}

/**
 * Removes the checkpoints of a phase that `retention` does not keep: it keeps `final`, the
 * `keepLast` most recent others (names sort in training order) and, with `keepBest`, the one
 * written at the end of epoch `bestEpoch`. Each is renamed to a hidden name before it is deleted,
 * so a crash mid-delete never leaves a partial checkpoint that resume could pick. Returns the
 * names removed.
 */
export function pruneCheckpoints(
  runDir: string,
  phase: Phase,
  retention: Retention,
  bestEpoch: number | undefined,
): string[] {
  const phaseDir = path.join(runDir, 'checkpoints', phase);
  if (!fs.existsSync(phaseDir)) return [];
  const ordered = fs
    .readdirSync(phaseDir)
    .filter((n) => n !== 'final' && /^epoch-\d+(-step-\d+)?$/.test(n))
    .sort();
  const keep = new Set(ordered.slice(-Math.max(1, retention.keepLast)));
  if (retention.keepBest && bestEpoch !== undefined) keep.add(`epoch-${String(bestEpoch).padStart(4, '0')}`);
  const removed = ordered.filter((n) => !keep.has(n));
  for (const name of removed) {
    const doomed = path.join(phaseDir, `.${name}.removed-${process.pid}`);
    fs.renameSync(path.join(phaseDir, name), doomed);
    fs.rmSync(doomed, { recursive: true, force: true });
  }
  // What a crash mid-delete left (hidden: resume never reads it).
  for (const leftover of fs.readdirSync(phaseDir).filter((n) => /^\.epoch-\d+(-step-\d+)?\.removed-\d+$/.test(n)))
    fs.rmSync(path.join(phaseDir, leftover), { recursive: true, force: true });
  return removed;
}
