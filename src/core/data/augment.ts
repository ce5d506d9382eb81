/**
 * Augmentation of image batches [b, height, width, channels] on the device: a random crop of the
 * zero-padded image, a horizontal flip, a random translation with zeros shifted in, in that order
 * (torchvision's RandomCrop(padding), RandomHorizontalFlip, then an integer RandomAffine
 * translate). Each is a move of whole pixels, so the three compose into one source row per output
 * row and one source column per output column of each example: the batch is padded with one zero
 * row and column, then its rows and its columns are gathered, exactly (no interpolation).
 *
 * The random parameters are drawn on the host from a generator seeded by (train.seed, epoch, step)
 * alone, never from a running stream: a resumed run, and every phase of a run, sees the same
 * augmentation of the same batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { AugmentSpec } from '../config/schema.ts';
import { mixSeed, SeededRandom } from '../random.ts';

/** The transform of each example of a batch. */
export interface AugmentParams {
  /** Top-left corner of the crop in the padded image, 0..2 * padding (padding when there is no crop). */
  cropY: Int32Array;
  cropX: Int32Array;
  /** 1: mirrored left-right. */
  flip: Uint8Array;
  /** Shift of the content, -pixels..pixels: positive moves it down / right. */
  shiftY: Int32Array;
  shiftX: Int32Array;
}

/** The seed of a batch's augmentation: the same in every phase and after a resume. */
export const augmentSeed = (seed: number, epoch: number, step: number) => mixSeed(seed, 'augment', epoch, step);

/** Draws the transforms of `b` examples: for each example in order, its crop corner, flip, then shift. */
export function augmentParams(spec: AugmentSpec, b: number, seed: number): AugmentParams {
  const rng = new SeededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
  const padding = spec.crop?.padding ?? 0;
  const pixels = spec.translate?.pixels ?? 0;
  const p: AugmentParams = {
    cropY: new Int32Array(b),
    cropX: new Int32Array(b),
    flip: new Uint8Array(b),
    shiftY: new Int32Array(b),
    shiftX: new Int32Array(b),
  };
  for (let i = 0; i < b; i++) {
    p.cropY[i] = spec.crop ? int(0, 2 * padding) : padding;
    p.cropX[i] = spec.crop ? int(0, 2 * padding) : padding;
    p.flip[i] = spec.flip && rng.next() < 0.5 ? 1 : 0;
    p.shiftY[i] = spec.translate ? int(-pixels, pixels) : 0;
    p.shiftX[i] = spec.translate ? int(-pixels, pixels) : 0;
  }
  return p;
}

/**
 * Per example, the source index + 1 of each output row (or column) in an image padded with one
 * zero row (column) in front; 0 picks that zero. `size` is the image's height (width).
 */
function sourceIndices(
  b: number,
  size: number,
  padding: number,
  crop: Int32Array,
  shift: Int32Array,
  flip?: Uint8Array,
): Int32Array {
  const out = new Int32Array(b * size);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < size; i++) {
      const moved = i - shift[n]; // before the translation
      if (moved < 0 || moved >= size) continue;
      const mirrored = flip?.[n] ? size - 1 - moved : moved; // before the flip
      const source = mirrored + crop[n] - padding; // in the original image
      if (source >= 0 && source < size) out[n * size + i] = source + 1;
    }
  return out;
}

/** The augmented batch (a new tensor; `x` is left as it is). */
export function augmentBatch(x: tf.Tensor4D, spec: AugmentSpec, params: AugmentParams): tf.Tensor4D {
  const [b, height, width, channels] = x.shape;
  const padding = spec.crop?.padding ?? 0;
  const rows = sourceIndices(b, height, padding, params.cropY, params.shiftY);
  const cols = sourceIndices(b, width, padding, params.cropX, params.shiftX, params.flip);
  // Plain gathers along the first axis of a flattened tensor: a batched gather (batchDims) reads
  // out of bounds on the wasm backend.
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < height; i++) rows[n * height + i] += n * (height + 1);
    for (let k = 0; k < width; k++) cols[n * width + k] += n * (width + 1);
  }
  return tf.tidy(() => {
    const padded = tf.pad(x, [
      [0, 0],
      [1, 0],
      [1, 0],
      [0, 0],
    ]);
    const byRow = tf
      .gather(padded.reshape([b * (height + 1), (width + 1) * channels]), tf.tensor1d(rows, 'int32'))
      .reshape([b, height, width + 1, channels]);
    const columnsFirst = byRow.transpose([0, 2, 1, 3]).reshape([b * (width + 1), height * channels]);
    return tf
      .gather(columnsFirst, tf.tensor1d(cols, 'int32'))
      .reshape([b, width, height, channels])
      .transpose([0, 2, 1, 3]) as tf.Tensor4D;
  });
}

/** Why `spec` cannot augment examples of `inputShape`, with the field at fault; none when it can. */
export function augmentProblems(
  spec: AugmentSpec,
  inputShape: number[],
): Array<{ at: Array<string | number>; message: string }> {
  if (inputShape.length !== 3)
    return [
      {
        at: [],
        message: `augments images, but the examples have shape [${inputShape.join(', ')}] (a vector each); expected image data of shape [height, width, channels] (image folders, IDX, demo, or 4-D NumPy arrays), or no data.augment`,
      },
    ];
  if (!spec.crop && !spec.flip && !spec.translate)
    return [{ at: [], message: 'turns on no transform; expected crop, flip: true or translate' }];
  const limit = Math.floor(Math.min(inputShape[0], inputShape[1]) / 2);
  const problems = [];
  for (const [key, field, value] of [
    ['crop', 'padding', spec.crop?.padding],
    ['translate', 'pixels', spec.translate?.pixels],
  ] as const)
    if (value !== undefined && value > limit)
      problems.push({
        at: [key, field],
        message: `is ${value} pixels, more than half the ${inputShape[0]}x${inputShape[1]} image; expected at most ${limit}`,
      });
  return problems;
}
