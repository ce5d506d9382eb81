/**
 * What a teacher tells its student: logits for every split and the intermediate outputs the loss
 * terms read (training split only), computed once per phase when examples are not augmented, or
 * per training batch (`batchTeacher`) when they are. A teacher is a tfjs model, an ONNX model, or
 * the mean of earlier generations.
 */
import * as tf from '@tensorflow/tfjs';
import type { OnnxTeacher } from '../models/onnxTeacher.ts';
import { predictLogits } from '../train/evaluate.ts';
import type { TeacherBatch, TeacherOutputRequest } from './objective.ts';
import { layerOutputShape } from './studentOutputs.ts';
import { attentionMap } from './terms.ts';
import type { TeacherOutputs as CachedOutputs } from './teacherCache.ts';

export interface Splits<T> {
  train: T;
  validation: T;
  test: T;
}

export type TeacherSource =
  | { kind: 'tfjs'; label: string; model: tf.LayersModel }
  /** `inputs`: the teacher's own rows when they differ from the student's (a text teacher's token ids). */
  | { kind: 'onnx'; label: string; onnx: OnnxTeacher; inputs?: Splits<Float32Array> }
  | { kind: 'ensemble'; label: string; members: tf.LayersModel[] };

export interface TeacherTensors {
  logits: Splits<tf.Tensor2D>;
  /** Requested outputs on the training split, by request key. */
  outputs: Map<string, tf.Tensor>;
}

const SPLITS = ['train', 'validation', 'test'] as const;

/** Shapes (without batch) of the requested outputs: attention maps are [height * width]. */
export async function teacherOutputShapes(
  source: TeacherSource,
  requests: TeacherOutputRequest[],
  probe: Float32Array,
): Promise<Map<string, number[]>> {
  const shapes = new Map<string, number[]>();
  if (requests.length === 0) return shapes;
  if (source.kind === 'ensemble') throw new Error('an ensemble teacher has logits only');
  let raw: (r: TeacherOutputRequest) => number[];
  if (source.kind === 'tfjs')
    raw = (r) =>
      layerOutputShape(source.model, r.layer, r.term, r.attentionP === undefined ? 'teacher' : 'pairs', source.label);
  else {
    const { features } = await source.onnx.run(probe, 1, 1);
    raw = (r) => features[r.layer].shape.slice(1);
  }
  for (const r of requests) {
    const shape = raw(r);
    shapes.set(r.key, r.attentionP === undefined ? shape : [shape.length === 3 ? shape[0] * shape[1] : NaN]);
  }
  return shapes;
}

function reduceRequest(r: TeacherOutputRequest, raw: tf.Tensor): tf.Tensor {
  return r.attentionP === undefined ? raw : attentionMap(raw as tf.Tensor4D, r.attentionP);
}

/** The distinct layers that `requests` read, and a model from the teacher's input to their outputs (after `first`, when given). */
function layerExtractor(
  model: tf.LayersModel,
  requests: TeacherOutputRequest[],
  first: tf.SymbolicTensor[] = [],
): { layers: string[]; extractor: tf.LayersModel } {
  const layers = [...new Set(requests.map((r) => r.layer))];
  const extractor = tf.model({
    inputs: model.inputs,
    outputs: [...first, ...layers.map((l) => model.getLayer(l).output as tf.SymbolicTensor)],
  });
  return { layers, extractor };
}

/** Each request's output from the extractor's layer outputs, in request order. */
function pickRequests(requests: TeacherOutputRequest[], layers: string[], outputs: tf.Tensor[]): tf.Tensor[] {
  return requests.map((r) => reduceRequest(r, outputs[layers.indexOf(r.layer)]));
}

/** Each request's output as a device tensor, from an ONNX run's host features. */
function onnxRequests(
  requests: TeacherOutputRequest[],
  features: Record<string, { data: Float32Array; shape: number[] }>,
): Map<string, tf.Tensor> {
  return new Map(
    requests.map((r) => {
      const f = features[r.layer];
      return [r.key, tf.tidy(() => reduceRequest(r, tf.tensor(f.data, f.shape)))];
    }),
  );
}

/** Logits (and requested outputs) of a tfjs model in batches, in inference mode. */
function tfjsOutputs(
  model: tf.LayersModel,
  x: Splits<tf.Tensor>,
  requests: TeacherOutputRequest[],
  batchSize: number,
): TeacherTensors {
  const logits = {
    train: predictLogits(model, x.train, batchSize),
    validation: predictLogits(model, x.validation, batchSize),
    test: predictLogits(model, x.test, batchSize),
  };
  const outputs = new Map<string, tf.Tensor>();
  if (requests.length > 0) {
    const { layers, extractor } = layerExtractor(model, requests);
    const parts = requests.map(() => [] as tf.Tensor[]);
    for (let start = 0; start < x.train.shape[0]; start += batchSize) {
      const size = Math.min(batchSize, x.train.shape[0] - start);
      tf.tidy(() => {
        const got = extractor.apply(x.train.slice(start, size), { training: false }) as tf.Tensor | tf.Tensor[];
        pickRequests(requests, layers, Array.isArray(got) ? got : [got]).forEach((t, i) => parts[i].push(tf.keep(t)));
      });
    }
    requests.forEach((r, i) => {
      outputs.set(r.key, parts[i].length === 1 ? parts[i][0] : tf.concat(parts[i]));
      if (parts[i].length > 1) tf.dispose(parts[i]);
    });
  }
  return { logits, outputs };
}

async function onnxOutputs(
  onnx: OnnxTeacher,
  host: Splits<Float32Array>,
  counts: Splits<number>,
  numClasses: number,
  requests: TeacherOutputRequest[],
  batchSize: number,
): Promise<TeacherTensors> {
  const logits = {} as Splits<tf.Tensor2D>;
  const outputs = new Map<string, tf.Tensor>();
  for (const split of SPLITS) {
    const n = counts[split];
    if (n === 0) {
      logits[split] = tf.zeros([0, numClasses]);
      continue;
    }
    const run = await onnx.run(host[split], n, batchSize);
    logits[split] = tf.tensor2d(run.logits, [n, numClasses]);
    if (split !== 'train') continue;
    for (const [key, t] of onnxRequests(requests, run.features)) outputs.set(key, t);
  }
  return { logits, outputs };
}

/** Computes a teacher's outputs on the device; the caller disposes them. */
export async function computeTeacherOutputs(
  source: TeacherSource,
  device: Splits<tf.Tensor>,
  host: Splits<Float32Array>,
  numClasses: number,
  requests: TeacherOutputRequest[],
  batchSize: number,
): Promise<TeacherTensors> {
  if (source.kind === 'tfjs') return tfjsOutputs(source.model, device, requests, batchSize);
  if (source.kind === 'onnx') {
    const counts = { train: device.train.shape[0], validation: device.validation.shape[0], test: device.test.shape[0] };
    return onnxOutputs(source.onnx, source.inputs ?? host, counts, numClasses, requests, batchSize);
  }
  // The mean logits of earlier generations (born-again ensemble).
  const logits = {} as Splits<tf.Tensor2D>;
  for (const split of SPLITS) {
    const each = source.members.map((m) => predictLogits(m, device[split], batchSize));
    logits[split] = tf.tidy(() => tf.div(tf.addN(each), each.length) as tf.Tensor2D);
    tf.dispose(each);
  }
  return { logits, outputs: new Map() };
}

/** Device tensors -> the cache's host arrays. */
export async function toCached(t: TeacherTensors, numClasses: number): Promise<CachedOutputs> {
  const features: CachedOutputs['features'] = {};
  for (const [key, tensor] of t.outputs)
    features[key] = { data: (await tensor.data()) as Float32Array, shape: tensor.shape };
  const [train, validation, test] = (await Promise.all(SPLITS.map((s) => t.logits[s].data()))) as Float32Array[];
  return { numClasses, logits: { train, validation, test }, features };
}

/** The cache's host arrays -> device tensors. */
export function fromCached(c: CachedOutputs, counts: Splits<number>): TeacherTensors {
  const logits = {} as Splits<tf.Tensor2D>;
  for (const split of SPLITS) logits[split] = tf.tensor2d(c.logits[split], [counts[split], c.numClasses]);
  const outputs = new Map<string, tf.Tensor>(
    Object.entries(c.features).map(([key, f]) => [key, tf.tensor(f.data, f.shape)]),
  );
  return { logits, outputs };
}

export function disposeTeacherTensors(t: TeacherTensors | undefined): void {
  if (!t) return;
  tf.dispose([t.logits.train, t.logits.validation, t.logits.test, ...t.outputs.values()]);
}

/** A teacher run on each training batch: online, because an augmented batch has no precomputed outputs. */
export interface BatchTeacher {
  /** The teacher's logits and requested outputs on `x`, in inference mode; the caller disposes them. */
  run(x: tf.Tensor): Promise<TeacherBatch>;
}

/**
 * The online form of `computeTeacherOutputs`: the same forward pass (tfjs, ONNX, or the mean
 * logits of an ensemble) and the same requested outputs and attention maps, on one batch.
 */
export function batchTeacher(source: TeacherSource, requests: TeacherOutputRequest[]): BatchTeacher {
  if (source.kind === 'tfjs') {
    const model = source.model;
    if (requests.length === 0)
      return {
        run: async (x) => ({
          logits: tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor2D),
          outputs: new Map(),
        }),
      };
    // One pass for the logits and every requested layer.
    const { layers, extractor } = layerExtractor(model, requests, model.outputs);
    return {
      run: async (x) => {
        const got = tf.tidy(() => {
          const [logits, ...raw] = extractor.apply(x, { training: false }) as tf.Tensor[];
          return [logits, ...pickRequests(requests, layers, raw)];
        });
        return { logits: got[0] as tf.Tensor2D, outputs: new Map(requests.map((r, i) => [r.key, got[i + 1]])) };
      },
    };
  }
  if (source.kind === 'onnx') {
    const onnx = source.onnx;
    return {
      run: async (x) => {
        const n = x.shape[0];
        const run = await onnx.run((await x.data()) as Float32Array, n, n);
        return {
          logits: tf.tensor2d(run.logits, [n, run.logits.length / n]),
          outputs: onnxRequests(requests, run.features),
        };
      },
    };
  }
  const members = source.members;
  return {
    run: async (x) => ({
      logits: tf.tidy(
        () =>
          tf.div(
            tf.addN(members.map((m) => m.apply(x, { training: false }) as tf.Tensor2D)),
            members.length,
          ) as tf.Tensor2D,
      ),
      outputs: new Map(),
    }),
  };
}
