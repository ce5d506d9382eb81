/**
 * The unlabeled transfer set (`data.unlabeled`): examples without labels, read by the reader of
 * their source (an IDX images file, a CSV of features, a NumPy array, or an image folder read
 * recursively) and checked against the labeled examples' shape. Image folders are decoded at the
 * labeled examples' height, width and channels. `limit` keeps that many after a seeded shuffle.
 * The caller normalises them with the statistics of the labeled training split.
 */
import type { DataSpec, UnlabeledSpec } from '../config/schema.ts';
import type { JsonPath } from '../config/problems.ts';
import { mixSeed, permutation } from '../random.ts';
import { readCsv } from './csv.ts';
import { DataError } from './dataError.ts';
import { readIdx } from './idx.ts';
import { readImageFolder } from './images.ts';
import { readNpyExamples } from './npyExamples.ts';

/** The transfer set before normalisation: `n * prod(shape)` values in the labeled examples' layout. */
export interface RawUnlabeled {
  x: Float32Array;
  n: number;
  /** Raw values are bytes (0..255): `normalize: "scale"` divides them by 255, as the labeled ones. */
  bytes: boolean;
  /** Where they came from, for the run's data description. */
  source: string;
}

/** What the transfer set must match, from the labeled data. */
export interface LabeledShape {
  /** Shape of one labeled example: [h, w, c] for images, [features] for tables. */
  inputShape: number[];
  /** Whether the labeled raw values are bytes (their `scale` is x / 255). */
  bytes: boolean;
}

/**
 * A transfer-set problem that is a config problem: it is reported at `at` (a JSON path in the
 * config), e.g. examples of another shape than the labeled ones.
 */
export class UnlabeledDataError extends DataError {
  constructor(
    readonly at: JsonPath,
    file: string,
    problem: string,
    expected: string,
  ) {
    super(file, problem, expected);
  }
}

/** The sources that read examples from a file or folder (`augment` makes them from the training texts). */
type ReadUnlabeledSpec = Exclude<UnlabeledSpec, { source: 'augment' }>;

/** The config field that locates each source's examples. */
const LOCATION = { idx: 'images', csv: 'file', npy: 'x', images: 'dir' } as const;

export const unlabeledLocation = (spec: ReadUnlabeledSpec): string =>
  spec[LOCATION[spec.source] as keyof typeof spec] as string;

const shapeText = (shape: number[]) => `[${shape.join(', ')}]`;

function checkShape(spec: ReadUnlabeledSpec, file: string, shape: number[], labeled: LabeledShape): void {
  const same = shape.length === labeled.inputShape.length && shape.every((d, i) => d === labeled.inputShape[i]);
  if (!same)
    throw new UnlabeledDataError(
      ['data', 'unlabeled', LOCATION[spec.source]],
      file,
      `holds unlabeled examples of shape ${shapeText(shape)}`,
      `${shapeText(labeled.inputShape)}, the shape of the labeled examples`,
    );
}

function checkFinite(file: string, x: Float32Array, per: number): void {
  for (let i = 0; i < x.length; i++)
    if (!Number.isFinite(x[i]))
      throw new DataError(
        file,
        `value ${i % per} of unlabeled example ${Math.floor(i / per)} is ${x[i]}`,
        'finite numbers (within float32 range)',
      );
}

/** An example's shape from an array's dims after the count: 2-D images get a channel axis. */
const exampleShape = (dims: number[]) => (dims.length === 2 ? [...dims, 1] : dims);

async function readRaw(
  spec: ReadUnlabeledSpec,
  data: DataSpec,
  labeled: LabeledShape,
  cacheDir: string | undefined,
  onProgress: ((done: number, total: number, folder: string) => void) | undefined,
): Promise<{ x: Float32Array; n: number; shape: number[]; bytes: boolean }> {
  switch (spec.source) {
    case 'idx': {
      const idx = readIdx(spec.images);
      if (idx.dims.length < 2)
        throw new DataError(
          spec.images,
          `has shape ${shapeText(idx.dims)}, so it is not an images file`,
          'a count and the shape of one example, e.g. [n, 28, 28]',
        );
      const bytes = idx.data instanceof Uint8Array;
      const x = bytes ? Float32Array.from(idx.data) : (idx.data as Float32Array);
      return { x, n: idx.dims[0], shape: exampleShape(idx.dims.slice(1)), bytes };
    }
    case 'csv': {
      const table = readCsv(spec.file, {
        label: spec.label ?? null,
        ignoreLabel: true,
        header: spec.header,
        delimiter: spec.delimiter,
      });
      return { x: table.features, n: table.n, shape: [table.numFeatures], bytes: false };
    }
    case 'npy': {
      // The labeled npy source's conventions (shapes, NCHW, refusals), so both read an array alike.
      const ref = { file: spec.x, key: spec.xKey, keyField: 'data.unlabeled.xKey' };
      const { x, n, shape, bytes } = readNpyExamples(ref, spec.layout, 'data.unlabeled.x');
      return { x, n, shape, bytes };
    }
    case 'images': {
      const [height, width, channels] = labeled.inputShape;
      if (labeled.inputShape.length !== 3 || (channels !== 1 && channels !== 3))
        throw new UnlabeledDataError(
          ['data', 'unlabeled', 'source'],
          spec.dir,
          `is an image folder, but the labeled examples have shape ${shapeText(labeled.inputShape)}`,
          'labeled images of shape [height, width, 1 or 3] for unlabeled images, or another unlabeled source',
        );
      const folder = await readImageFolder(
        spec.dir,
        {
          height,
          width,
          channels,
          fit: spec.fit ?? (data.source === 'images' ? data.fit : 'fill'),
          cacheDir,
        },
        'flat',
        onProgress && ((done, total) => onProgress(done, total, spec.dir)),
      );
      return { x: Float32Array.from(folder.pixels), n: folder.n, shape: [...folder.shape], bytes: true };
    }
  }
}

/**
 * Reads `data.unlabeled`; bad data raises DataError, examples that do not fit the labeled ones
 * UnlabeledDataError (located in the config).
 */
export async function loadUnlabeled(
  data: DataSpec,
  labeled: LabeledShape,
  seed: number,
  cacheDir?: string,
  onProgress?: (done: number, total: number, folder: string) => void,
): Promise<RawUnlabeled | undefined> {
  const spec = data.unlabeled;
  if (!spec) return undefined;
  if (spec.source === 'augment') {
    // Augmented copies are made from the training texts, after tokenisation is known (textAugment.ts).
    if (data.source === 'text') return undefined;
    throw new UnlabeledDataError(
      ['data', 'unlabeled', 'source'],
      'data.unlabeled',
      `is "augment", which makes augmented copies of training texts, but data.source is "${data.source}"`,
      'data.source "text" for an augmented transfer set, or an unlabeled source of examples (idx, csv, npy, images)',
    );
  }
  const file = unlabeledLocation(spec);
  const raw = await readRaw(spec, data, labeled, cacheDir, onProgress);
  checkShape(spec, file, raw.shape, labeled);
  const per = raw.shape.reduce((a, b) => a * b, 1);
  if (raw.n === 0) throw new DataError(file, 'holds no examples', 'at least one unlabeled example');
  if (!raw.bytes) checkFinite(file, raw.x, per);
  let x = raw.x;
  let n = raw.n;
  if (spec.limit !== undefined && spec.limit < n) {
    const order = permutation(n, mixSeed(seed, 'unlabeled'));
    x = new Float32Array(spec.limit * per);
    for (let i = 0; i < spec.limit; i++) x.set(raw.x.subarray(order[i] * per, (order[i] + 1) * per), i * per);
    n = spec.limit;
  }
  return { x, n, bytes: raw.bytes, source: `${spec.source} ${file}` };
}
