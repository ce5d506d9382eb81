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
}

interface RawSplit {
  x: Float32Array;
  y: Int32Array;
  n: number;
  /** Raw values are bytes (0..255), so `scale` divides by 255. */
  bytes: boolean;
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
  return { x, y, n: idx.length, bytes: s.bytes };
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

async function loadRaw(
  spec: DataSpec,
  seed: number,
): Promise<{ train: RawSplit; test: RawSplit; inputShape: number[]; classNames?: string[] }> {
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

/** Loads and prepares the data of a (path-resolved) config; bad data raises DataError. */
export async function loadDataset(spec: DataSpec, seed: number): Promise<Dataset> {
  const raw = await loadRaw(spec, seed);
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
  const norm = normalizer(spec.normalize, train, dim);
  const finish = (s: RawSplit): Split => ({ x: norm.apply(s), y: s.y, n: s.n });
  return {
    train: finish(train),
    validation: finish(validation),
    test: finish(raw.test),
    inputShape: raw.inputShape,
    numClasses,
    classNames: raw.classNames,
    normalization: { kind: spec.normalize, detail: norm.detail },
  };
}

export function describeSource(spec: DataSpec): string {
  if (spec.source === 'demo') return demoDataDir();
  if (spec.source === 'csv') return spec.train;
  return spec.dir ?? spec.train?.images ?? 'data';
}
