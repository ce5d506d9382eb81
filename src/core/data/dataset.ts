/**
 * Turns the config's `data` section into normalised train / validation / test splits.
 * Shuffling and splitting are seeded, so the same config and seed give the same splits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSpec } from '../config/schema.ts';
import { demoDataDir } from '../paths.ts';
import { mixSeed, permutation } from '../random.ts';
import { readCsv } from './csv.ts';
import { DataError } from './dataError.ts';
import { readIdxPair } from './idx.ts';
import { loadUnlabeled, UnlabeledDataError } from './unlabeled.ts';
import { readImageFolder, type ImageFolder, type ImageReadOptions } from './images.ts';
import { readNpyExamples, readNpyLabels } from './npyExamples.ts';
import { labelIndices, readTexts, textClasses } from './text.ts';
import { augmentedTransferTexts } from './textAugment.ts';
import { tokenizeSplits, type TextInfo } from './textDataset.ts';

export interface Split {
  /** Row-major examples, `n * prod(inputShape)` values. */
  x: Float32Array;
  y: Int32Array;
  n: number;
}

export interface Dataset {
  train: Split;
  validation: Split;
  test: Split;
  /** Shape of one example: [h, w, 1] for images, [features] for tables. */
  inputShape: number[];
  numClasses: number;
  classNames?: string[];
  /** What was done to the raw values, recorded with the run (an exported model expects the same). */
  normalization: { kind: DataSpec['normalize']; detail: string };
  /** `data.unlabeled`: the transfer set, normalised like the labeled splits (labels all -1). */
  unlabeled?: Split;
  /** Where the transfer set came from ("npy /path/x.npy"). */
  unlabeledSource?: string;
  /** `data.source: "text"`: x holds the student's token ids; the texts stay for a teacher's own tokenizer. */
  text?: TextInfo;
}

interface RawSplit {
  x: Float32Array;
  y: Int32Array;
  n: number;
  /** Raw values are bytes (0..255), so `scale` divides by 255. */
  bytes: boolean;
  /** Text data: the texts, row for row (x is filled by the tokenizer once the splits are known). */
  texts?: string[];
}

const STANDARD_NAMES = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

function standardFile(dir: string, base: string): string {
  for (const name of [`${base}.gz`, base]) if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  throw new DataError(
    path.join(dir, `${base}.gz`),
    `not found (nor ${base}) in the data folder`,
    'the standard MNIST / Fashion-MNIST file names, or explicit "images" and "labels" paths',
  );
}

function idxSplit(files: { images: string; labels: string }): { split: RawSplit; shape: number[] } {
  const pair = readIdxPair(files.images, files.labels);
  const x = pair.images instanceof Float32Array ? pair.images : Float32Array.from(pair.images);
  return { split: { x, y: pair.labels, n: pair.n, bytes: !(pair.images instanceof Float32Array) }, shape: pair.shape };
}

function take(s: RawSplit, idx: ArrayLike<number>, dim: number): RawSplit {
  const x = new Float32Array(idx.length * dim);
  const y = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i];
    x.set(s.x.subarray(j * dim, (j + 1) * dim), i * dim);
    y[i] = s.y[j];
  }
  return { x, y, n: idx.length, bytes: s.bytes, ...(s.texts ? { texts: Array.from(idx, (j) => s.texts![j]) } : {}) };
}

/** The first `limit` indices of `order`, class-balanced: each class gets its share while it has examples. */
export function balancedSubset(order: Int32Array, labels: Int32Array, limit: number, numClasses: number): Int32Array {
  if (limit >= order.length) return order;
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (const i of order) byClass[labels[i]].push(i);
  const chosen = new Set<number>();
  for (let round = 0; chosen.size < limit; round++) {
    for (const members of byClass) if (round < members.length && chosen.size < limit) chosen.add(members[round]);
  }
  return Int32Array.from(order.filter((i) => chosen.has(i)));
}

/** Progress of a long step of loading (decoding an image folder): `done` of `total` files in `folder`. */
export type DataProgress = (done: number, total: number, folder: string) => void;

type RawData = { train: RawSplit; test: RawSplit; inputShape: number[]; classNames?: string[] };

async function loadImages(
  spec: Extract<DataSpec, { source: 'images' }>,
  seed: number,
  onProgress: DataProgress | undefined,
  cacheDir: string | undefined,
): Promise<RawData> {
  const options: ImageReadOptions = {
    height: spec.height,
    width: spec.width,
    channels: spec.channels === 'rgb' ? 3 : 1,
    fit: spec.fit,
    cacheDir,
    classNames: spec.classes,
  };
  const read = (dir: string, opts: ImageReadOptions) =>
    readImageFolder(dir, opts, 'classes', onProgress && ((done, total) => onProgress(done, total, dir)));
  const raw = (f: ImageFolder, y: Int32Array): RawSplit => ({ x: Float32Array.from(f.pixels), y, n: f.n, bytes: true });
  const train = await read(spec.train, options);
  const rawTrain = raw(train, train.labels!);
  const inputShape = [...train.shape];
  const dim = train.shape[0] * train.shape[1] * train.shape[2];
  const classNames = train.classNames!;
  if (!spec.test) {
    const order = permutation(train.n, mixSeed(seed, 'test-split'));
    const nTest = Math.max(1, Math.round(train.n * spec.testFraction));
    return {
      test: take(rawTrain, order.subarray(0, nTest), dim),
      train: take(rawTrain, order.subarray(nTest), dim),
      inputShape,
      classNames,
    };
  }
  // The test folder may lack classes; its folder names map onto the training classes.
  const test = await read(spec.test, { ...options, classNames: undefined });
  const unknown = test.classNames!.filter((name) => !classNames.includes(name));
  if (unknown.length)
    throw new DataError(
      spec.test,
      `has class folder${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} that the training folder lacks`,
      `class folders among ${classNames.join(', ')} (as in ${spec.train})`,
    );
  const remap = test.classNames!.map((name) => classNames.indexOf(name));
  const testLabels = test.labels!.map((l) => remap[l]);
  return { train: rawTrain, test: raw(test, testLabels), inputShape, classNames };
}

/** Examples and labels of one npy split; `at` is its config path (`data.train`). */
function npySplit(
  arrays: Extract<DataSpec, { source: 'npy' }>['train'],
  layout: Extract<DataSpec, { source: 'npy' }>['layout'],
  at: string,
): { split: RawSplit; shape: number[]; dtype: string } {
  const x = readNpyExamples({ file: arrays.x, key: arrays.xKey, keyField: `${at}.xKey` }, layout, `${at}.x`);
  const y = readNpyLabels({ file: arrays.y, key: arrays.yKey, keyField: `${at}.yKey` }, `${at}.y`);
  if (y.length !== x.n)
    throw new DataError(
      arrays.y,
      `holds ${y.length} labels (${at}.y) for ${x.n} examples in ${arrays.x}${arrays.xKey ? `[${arrays.xKey}]` : ''}`,
      'one label per example',
    );
  return { split: { x: x.x, y, n: x.n, bytes: x.bytes }, shape: x.shape, dtype: x.dtype };
}

function loadNpy(spec: Extract<DataSpec, { source: 'npy' }>, seed: number): RawData {
  const train = npySplit(spec.train, spec.layout, 'data.train');
  const dim = train.shape.reduce((a, b) => a * b, 1);
  if (!spec.test) {
    const order = permutation(train.split.n, mixSeed(seed, 'test-split'));
    const nTest = Math.max(1, Math.round(train.split.n * spec.testFraction));
    return {
      test: take(train.split, order.subarray(0, nTest), dim),
      train: take(train.split, order.subarray(nTest), dim),
      inputShape: train.shape,
    };
  }
  const test = npySplit(spec.test, spec.layout, 'data.test');
  if (test.shape.join('x') !== train.shape.join('x'))
    throw new DataError(
      spec.test.x,
      `holds test examples of shape [${test.shape.join(', ')}]${spec.layout === 'nchw' && test.shape.length === 3 ? ' (as NHWC)' : ''}`,
      `[${train.shape.join(', ')}] as in the training examples ${spec.train.x}`,
    );
  // Pixels (uint8) are divided by 255 under `scale`; floats are min-max scaled: both splits must be one kind.
  if (test.split.bytes !== train.split.bytes)
    throw new DataError(
      spec.test.x,
      `holds test examples of dtype ${test.dtype} but the training examples ${spec.train.x} are ${train.dtype}`,
      'one kind in both: uint8 pixels (divided by 255 under normalize "scale") or other numbers (min-max scaled)',
    );
  return { train: train.split, test: test.split, inputShape: train.shape };
}

/** Texts and labels; token ids come later, from the training split's vocabulary (tokenizeSplits). */
function loadTextRaw(spec: Extract<DataSpec, { source: 'text' }>, seed: number): RawData {
  if (spec.unlabeled && spec.unlabeled.source !== 'augment')
    throw new UnlabeledDataError(
      ['data', 'unlabeled', 'source'],
      spec.train,
      `is text data, for which an unlabeled transfer set of source "${spec.unlabeled.source}" is not read`,
      'data.unlabeled {"source": "augment"}: augmented copies of the training texts (Tang et al. 2019)',
    );
  const options = { format: spec.format, text: spec.text, label: spec.label };
  const train = readTexts(spec.train, options);
  const test = spec.test ? readTexts(spec.test, options) : undefined;
  const { names, integer } = textClasses(test ? [train, test] : [train], spec.classes);
  const raw = (t: typeof train, y: Int32Array): RawSplit => ({
    x: new Float32Array(0),
    y,
    n: t.texts.length,
    bytes: false,
    texts: t.texts,
  });
  const why = spec.classes ? 'data.classes does not list' : 'is not a class';
  const rawTrain = raw(train, labelIndices(train, names, integer, why));
  const classNames = integer ? undefined : names;
  const inputShape = [spec.maxLength];
  if (!test) {
    const order = permutation(rawTrain.n, mixSeed(seed, 'test-split'));
    const nTest = Math.max(1, Math.round(rawTrain.n * spec.testFraction));
    return {
      test: take(rawTrain, order.subarray(0, nTest), 0),
      train: take(rawTrain, order.subarray(nTest), 0),
      inputShape,
      classNames,
    };
  }
  return { train: rawTrain, test: raw(test, labelIndices(test, names, integer, why)), inputShape, classNames };
}

async function loadRaw(spec: DataSpec, seed: number, onProgress?: DataProgress, cacheDir?: string): Promise<RawData> {
  if (spec.source === 'text') return loadTextRaw(spec, seed);
  if (spec.source === 'images') return loadImages(spec, seed, onProgress, cacheDir);
  if (spec.source === 'npy') return loadNpy(spec, seed);
  if (spec.source === 'csv') {
    const opts = { label: spec.label, header: spec.header, delimiter: spec.delimiter };
    const train = readCsv(spec.train, opts);
    const rawTrain: RawSplit = { x: train.features, y: train.labels, n: train.n, bytes: false };
    if (!spec.test) {
      const order = permutation(train.n, mixSeed(seed, 'test-split'));
      const nTest = Math.max(1, Math.round(train.n * spec.testFraction));
      return {
        test: take(rawTrain, order.subarray(0, nTest), train.numFeatures),
        train: take(rawTrain, order.subarray(nTest), train.numFeatures),
        inputShape: [train.numFeatures],
        classNames: train.classNames,
      };
    }
    const test = readCsv(spec.test, opts);
    if (test.numFeatures !== train.numFeatures)
      throw new DataError(
        spec.test,
        `has ${test.numFeatures} feature columns`,
        `${train.numFeatures}, as in ${spec.train}`,
      );
    let testLabels = test.labels;
    if (train.classNames || test.classNames) {
      // String labels are indexed per file: map the test names onto the training names.
      const names = train.classNames ?? [];
      const remap = (test.classNames ?? []).map((name) => {
        const k = names.indexOf(name);
        if (k < 0)
          throw new DataError(
            spec.test!,
            `has label "${name}", which the training file never uses`,
            `one of ${names.join(', ')}`,
          );
        return k;
      });
      testLabels = test.labels.map((l) => remap[l]);
    }
    return {
      train: rawTrain,
      test: { x: test.features, y: testLabels, n: test.n, bytes: false },
      inputShape: [train.numFeatures],
      classNames: train.classNames,
    };
  }
  const dir = spec.source === 'demo' ? demoDataDir() : spec.dir;
  const files = (split: 'train' | 'test') => {
    const explicit = spec.source === 'idx' ? spec[split] : undefined;
    if (explicit) return explicit;
    return {
      images: standardFile(dir!, STANDARD_NAMES[split].images),
      labels: standardFile(dir!, STANDARD_NAMES[split].labels),
    };
  };
  const train = idxSplit(files('train'));
  const test = idxSplit(files('test'));
  if (train.shape.join('x') !== test.shape.join('x'))
    throw new DataError(
      files('test').images,
      `holds examples of shape [${test.shape.join(', ')}]`,
      `[${train.shape.join(', ')}] as in the training images`,
    );
  // 28x28 images become 28x28x1 so conv layers see a channel axis.
  const inputShape = train.shape.length === 2 ? [...train.shape, 1] : train.shape;
  return { train: train.split, test: test.split, inputShape };
}

function featureStats(s: RawSplit, dim: number) {
  const min = new Float32Array(dim).fill(Infinity);
  const max = new Float32Array(dim).fill(-Infinity);
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < s.n; i++)
    for (let j = 0; j < dim; j++) {
      const v = s.x[i * dim + j];
      if (v < min[j]) min[j] = v;
      if (v > max[j]) max[j] = v;
      mean[j] += v;
      sq[j] += v * v;
    }
  const std = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    mean[j] /= s.n;
    std[j] = Math.sqrt(Math.max(0, sq[j] / s.n - mean[j] * mean[j]));
  }
  return { min, max, mean, std };
}

/** Per-feature affine map (x - shift) * scale, fitted on the training split only. */
function normalizer(
  kind: DataSpec['normalize'],
  train: RawSplit,
  dim: number,
): { apply: (s: RawSplit) => Float32Array; detail: string } {
  if (kind === 'none') return { apply: (s) => s.x, detail: 'raw values' };
  if (kind === 'scale' && train.bytes) return { apply: (s) => s.x.map((v) => v / 255), detail: 'x / 255' };
  const st = featureStats(train, dim);
  const shift = new Float32Array(dim);
  const scale = new Float32Array(dim);
  for (let j = 0; j < dim; j++) {
    const range = st.max[j] - st.min[j];
    if (kind === 'scale') {
      shift[j] = st.min[j];
      scale[j] = range > 0 ? 1 / range : 0;
    } else {
      shift[j] = st.mean[j];
      scale[j] = st.std[j] > 0 ? 1 / st.std[j] : 0;
    }
  }
  const apply = (s: RawSplit) => {
    const out = new Float32Array(s.x.length);
    for (let i = 0; i < s.x.length; i++) {
      const j = i % dim;
      out[i] = (s.x[i] - shift[j]) * scale[j];
    }
    return out;
  };
  return {
    apply,
    detail:
      kind === 'scale'
        ? 'per-feature min-max to [0, 1] from the training split'
        : 'per-feature (x - mean) / std from the training split',
  };
}

/**
 * Loads and prepares the data of a (path-resolved) config; bad data raises DataError.
 * `onProgress` hears about long steps (image decoding); `cacheDir` (the config's `cache.dir`)
 * keeps decoded images for the next run.
 */
export async function loadDataset(
  spec: DataSpec,
  seed: number,
  onProgress?: DataProgress,
  cacheDir?: string,
): Promise<Dataset> {
  const raw = await loadRaw(spec, seed, onProgress, cacheDir);
  const dim = raw.inputShape.reduce((a, b) => a * b, 1);
  let maxLabel = -1;
  const seen = new Set<number>();
  for (const s of [raw.train, raw.test])
    for (const l of s.y) {
      seen.add(l);
      if (l > maxLabel) maxLabel = l;
    }
  if (seen.size < 2)
    throw new DataError(
      describeSource(spec),
      `has a single class (${[...seen].join(', ')})`,
      'examples of at least two classes',
    );
  const numClasses = raw.classNames ? raw.classNames.length : maxLabel + 1;

  const order = permutation(raw.train.n, mixSeed(seed, 'validation-split'));
  const nVal = Math.round(raw.train.n * spec.validationFraction);
  let trainIdx = order.subarray(nVal);
  if (spec.trainLimit !== undefined) trainIdx = balancedSubset(trainIdx, raw.train.y, spec.trainLimit, numClasses);
  const train = take(raw.train, trainIdx, dim);
  const validation = take(raw.train, order.subarray(0, nVal), dim);
  if (train.n < spec.batchSize)
    throw new DataError(
      describeSource(spec),
      `leaves ${train.n} training examples, fewer than one batch (data.batchSize = ${spec.batchSize})`,
      'a batch size no larger than the training set',
    );
  // Text: the student's vocabulary is built from the training split alone, then every split is tokenised.
  // Tang et al.'s transfer set: augmented copies of the training split's texts (after the validation split is removed).
  const augmented =
    spec.source === 'text' && spec.unlabeled?.source === 'augment'
      ? { x: new Float32Array(0), n: 0, texts: augmentedTransferTexts(train.texts!, spec.unlabeled, seed) }
      : undefined;
  if (augmented) augmented.n = augmented.texts.length;
  const text =
    spec.source === 'text' ? tokenizeSplits(spec, { train, validation, test: raw.test }, augmented) : undefined;
  const norm = text
    ? { apply: (s: RawSplit) => s.x, detail: text.normalization }
    : normalizer(spec.normalize, train, dim);
  const finish = (s: RawSplit): Split => ({ x: norm.apply(s), y: s.y, n: s.n });
  // The transfer set is normalised with the labeled training split's statistics, as the other splits are.
  const unlabeled = await loadUnlabeled(
    spec,
    { inputShape: raw.inputShape, bytes: train.bytes },
    seed,
    cacheDir,
    onProgress,
  );
  const unlabeledSplit = augmented
    ? { x: augmented.x, y: new Int32Array(augmented.n).fill(-1), n: augmented.n }
    : unlabeled &&
      finish({ x: unlabeled.x, y: new Int32Array(unlabeled.n).fill(-1), n: unlabeled.n, bytes: unlabeled.bytes });
  const unlabeledSource = augmented
    ? `augment: ${augmented.n} augmented copies of the ${train.n} training texts (Tang et al. 2019)`
    : unlabeled?.source;
  return {
    train: finish(train),
    validation: finish(validation),
    test: finish(raw.test),
    inputShape: raw.inputShape,
    numClasses,
    classNames: raw.classNames,
    normalization: { kind: spec.normalize, detail: norm.detail },
    ...(unlabeledSplit ? { unlabeled: unlabeledSplit, unlabeledSource } : {}),
    ...(text ? { text } : {}),
  };
}

export function describeSource(spec: DataSpec): string {
  if (spec.source === 'demo') return demoDataDir();
  if (spec.source === 'csv' || spec.source === 'images' || spec.source === 'text') return spec.train;
  if (spec.source === 'npy') return spec.train.x;
  return spec.dir ?? spec.train?.images ?? 'data';
}
