/**
 * NumPy arrays as examples and labels: the shape conventions of `data.source: "npy"` (and of an
 * unlabeled npy transfer set). Examples are [n, features], [n, h, w], [n, h, w, c] or, with
 * layout `nchw` (PyTorch), [n, c, h, w], which is transposed to NHWC.
 */
import { DataError } from './dataError.ts';
import { loadNpyArray, shapeText, type NdArray, type NpyRef } from './npy.ts';

export type ImageLayout = 'nhwc' | 'nchw';

export interface NpyExamples {
  /** Row-major examples, `n * prod(shape)` values, images NHWC. */
  x: Float32Array;
  n: number;
  /** Shape of one example: [features], or [h, w, c] for images (c = 1 for 3-D arrays). */
  shape: number[];
  /** The array was uint8: values are bytes 0..255 (normalize `scale` divides by 255). */
  bytes: boolean;
  dtype: string;
}

/** `[5, 2, 3]` -> "[5, 2, 3]": a C-order multi-index of the flat position `k`, for messages. */
function indexAt(k: number, shape: number[]): string {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = k % shape[d];
    k = Math.floor(k / shape[d]);
  }
  return `[${index.join(', ')}]`;
}

function where(ref: NpyRef): string {
  return ref.key === undefined ? 'the array' : `array "${ref.key}"`;
}

/** Float32 values of any numeric array (int64 / uint64 through Number). */
function toFloat32(a: NdArray): Float32Array {
  if (a.data instanceof Float32Array) return a.data;
  if (a.data instanceof BigInt64Array || a.data instanceof BigUint64Array) {
    const out = new Float32Array(a.data.length);
    for (let k = 0; k < out.length; k++) out[k] = Number(a.data[k]);
    return out;
  }
  const out = new Float32Array(a.data.length);
  out.set(a.data);
  return out;
}

/** NCHW [n, c, h, w] values to NHWC [n, h, w, c]. */
export function nchwToNhwc(src: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(src.length);
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const base = i * c * plane;
    for (let ch = 0; ch < c; ch++) {
      const from = base + ch * plane;
      for (let p = 0; p < plane; p++) out[base + p * c + ch] = src[from + p];
    }
  }
  return out;
}

/** Reads an examples array; `field` is its config path (`data.train.x`), for messages. */
export function readNpyExamples(ref: NpyRef, layout: ImageLayout, field: string): NpyExamples {
  return npyExamples(loadNpyArray(ref), ref, layout, field);
}

/**
 * Interprets a loaded array as examples (see the module comment); bad shapes and values raise DataError.
 * A float32 array's values may be shared with the result, not copied.
 */
export function npyExamples(array: NdArray, ref: NpyRef, layout: ImageLayout, field: string): NpyExamples {
  const { shape } = array;
  const found = `${where(ref)} (${field}) has shape ${shapeText(shape)}`;
  const expected =
    'examples of shape (n, features), (n, height, width), (n, height, width, channels) or, with data.layout "nchw", (n, channels, height, width)';
  if (shape.length < 2 || shape.length > 4)
    throw new DataError(
      ref.file,
      shape.length === 1
        ? `${found}: one value per example`
        : `${found}, ${shape.length === 0 ? 'a single value' : `${shape.length} axes`}`,
      shape.length === 1 ? `${expected} (for a single feature, save x.reshape(-1, 1))` : expected,
      { found: shapeText(shape) },
    );
  const n = shape[0];
  if (n === 0 || shape.some((d) => d === 0))
    throw new DataError(ref.file, `${found}: it holds no values`, expected, { found: shapeText(shape) });
  if (shape.length === 4 && layout === 'nhwc' && [1, 3].includes(shape[1]) && ![1, 3, 4].includes(shape[3]))
    // (n, 3, 32, 32) read as NHWC would be images 3 pixels high with 32 channels: PyTorch's NCHW, surely.
    throw new DataError(
      ref.file,
      `${found}, which reads as ${shape[3]}-channel images ${shape[1]} pixel${shape[1] === 1 ? '' : 's'} high: it looks like PyTorch's (n, channels, height, width)`,
      'data.layout "nchw" for such arrays, or NHWC arrays (x.transpose(0, 2, 3, 1))',
      { found: shapeText(shape) },
    );
  let x = toFloat32(array);
  // Only floats can hold NaN or infinity (a float64 beyond the float32 range becomes infinity here).
  if (array.dtype.startsWith('float'))
    for (let k = 0; k < x.length; k++)
      if (!Number.isFinite(x[k]))
        throw new DataError(
          ref.file,
          `${where(ref)} (${field}) holds ${array.data[k]} at index ${indexAt(k, shape)}${Number.isFinite(array.data[k]) ? ', beyond the float32 range' : ''}`,
          'finite float32 values (replace or drop missing values before saving)',
          { found: String(array.data[k]) },
        );
  let example = shape.slice(1);
  if (shape.length === 3) example = [...example, 1];
  else if (shape.length === 4 && layout === 'nchw') {
    const [c, h, w] = example;
    x = nchwToNhwc(x, n, c, h, w);
    example = [h, w, c];
  }
  return { x, n, shape: example, bytes: array.dtype === 'uint8', dtype: array.dtype };
}

/** Reads a labels array: class indices of shape (n,) or (n, 1); integral floats are accepted. */
export function readNpyLabels(ref: NpyRef, field: string): Int32Array {
  const array = loadNpyArray(ref);
  const { shape, data } = array;
  const found = `${where(ref)} (${field}) has shape ${shapeText(shape)}`;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1)))
    throw new DataError(
      ref.file,
      shape.length === 2 ? `${found}: ${shape[1]} values per example` : found,
      `integer class labels of shape (n,) or (n, 1)${shape.length === 2 ? ' (for one-hot labels save y.argmax(axis=1))' : ''}`,
      { found: shapeText(shape) },
    );
  const labels = new Int32Array(shape[0]);
  for (let k = 0; k < labels.length; k++) {
    const v = data[k];
    const value = typeof v === 'bigint' ? Number(v) : v;
    if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff)
      throw new DataError(
        ref.file,
        `${where(ref)} (${field}) holds ${String(v)} at index ${k}${typeof v === 'bigint' || Number.isInteger(value) ? '' : ', not an integer'}`,
        'class indices 0, 1, 2, ... (non-negative integers)',
        { found: String(v) },
      );
    labels[k] = value;
  }
  return labels;
}
