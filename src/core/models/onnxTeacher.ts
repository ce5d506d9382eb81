/**
 * A teacher given as an ONNX file (e.g. exported from PyTorch), run by onnxruntime-node on the
 * best execution provider that works here (cuda, webgpu or cpu; see onnxProviders.ts). It sees
 * the same preprocessed examples as the student; only their layout may differ:
 *
 *   nhwc  the model's per-example input shape equals the data's (NHWC images, or flat tables): as is
 *   nchw  the model takes [C, H, W] images (PyTorch): each batch is transposed NHWC -> NCHW
 *   flat  the model takes [H * W * C] vectors: the rows are passed as they are, with a rank-1 shape
 *
 * Intermediate values (for feature-based KD) that are not graph outputs are made graph outputs:
 * the model bytes get a second, tiny serialized ModelProto appended whose graph lists the extra
 * outputs. Protobuf merges repeated occurrences of an embedded message field, so the result parses
 * as the original model with `graph.output` extended, and every byte of the original is kept (a
 * decode / re-encode with onnx-proto, whose schema is onnx 1.10's, would drop fields of newer IR
 * versions). Each added output carries the graph's own ValueInfoProto for that value when
 * `value_info` has one, otherwise elem_type FLOAT and no shape: onnxruntime infers shapes itself
 * when it loads the model, so no shape inference is needed here (a non-float value then fails
 * type checking when the session is created, which is reported as a non-float32 output).
 * Rank-4 features of an NCHW model come back transposed to NHWC, so callers always get channels last.
 * A provider on which the session cannot be created, or the first batch fails, is left for the
 * next one, and the reason is kept in `providerDetail`.
 */
import * as fs from 'node:fs';
import type * as ortTypes from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelFileError } from './io.ts';
import { openOnFirstProvider, type OnnxProviderName } from './onnxProviders.ts';

export type OnnxLayout = 'auto' | 'nhwc' | 'nchw' | 'flat';

export interface OnnxTeacherOptions {
  /**
   * How the model's input relates to our examples (per example shape `dataShape`, NHWC for
   * images). auto: decided from the model's input shape: equal to dataShape -> nhwc (as is);
   * equal to [C,H,W] -> nchw (each batch transposed NHWC -> NCHW); rank 1 of length prod(dataShape)
   * -> flat. Dynamic dims (names, or -1 / 0) match anything. Ambiguous (e.g. 1x1x1, or all dims
   * dynamic) -> as is (nhwc), then nchw, then flat.
   */
  layout: OnnxLayout;
  /** Name of the output holding the logits; default: the model's only output, or its first output if it has several. */
  logits?: string;
  /**
   * Names of intermediate values to fetch as well (feature-based KD, e.g. FitNets hints). A graph
   * output is used as is; any other value produced by a top-level node is added as a graph output.
   */
  features?: string[];
  /** Execution providers to try, in order (cpu is added last); default: automatic (onnxProviders.ts). */
  providers?: OnnxProviderName[];
}

export interface OnnxTeacher {
  readonly file: string;
  readonly layout: Exclude<OnnxLayout, 'auto'>;
  readonly inputName: string;
  readonly logitsName: string;
  /** The onnxruntime execution provider the session runs on: cuda, webgpu or cpu. */
  readonly provider: OnnxProviderName;
  /** Why: what kept the better providers out (and for webgpu, its adapter). */
  readonly providerDetail: string;
  /** One line for logs: input name/shape, layout used, output names. */
  describe(): string;
  /**
   * Runs `n` examples (row-major, n * prod(dataShape) values, in our NHWC layout) in batches of
   * `batchSize` (of the model's own batch size when its input has a fixed one). logits: n * numClasses.
   * features: each with its shape [n, ...]; rank-4 NCHW features are transposed to NHWC when the
   * layout is 'nchw'.
   */
  run(
    x: Float32Array,
    n: number,
    batchSize: number,
  ): Promise<{ logits: Float32Array; features: Record<string, { data: Float32Array; shape: number[] }> }>;
  dispose(): Promise<void>;
}

type Dim = number | string | undefined;

const ELEM_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};
const FLOAT = onnx.TensorProto.DataType.FLOAT;

const prod = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const fmtShape = (shape: Dim[] | undefined) =>
  shape ? `[${shape.map((d) => (d === undefined ? '?' : String(d))).join(', ')}]` : 'of unknown rank';
const firstLine = (err: unknown) => (err as Error).message.trim().split('\n')[0];
const toNumber = (v: number | { toString(): string } | null | undefined): number | undefined =>
  v === null || v === undefined ? undefined : typeof v === 'number' ? v : Number(v.toString());

/** The per-example shape the model's input takes in a layout: NHWC data, [C, H, W], or [H * W * C]. */
export function onnxInputShape(layout: Exclude<OnnxLayout, 'auto'>, dataShape: number[]): number[] {
  if (layout === 'nchw') {
    if (dataShape.length !== 3)
      throw new Error(`layout nchw needs image data of shape [height, width, channels], not [${dataShape.join(', ')}]`);
    const [h, w, c] = dataShape;
    return [c, h, w];
  }
  return layout === 'flat' ? [prod(dataShape)] : [...dataShape];
}

/** A model dim matches a wanted size when it is that size or dynamic (a name, -1, 0, or absent). */
function fits(modelShape: Dim[] | undefined, wanted: number[]): boolean {
  if (!modelShape) return true;
  if (modelShape.length !== wanted.length + 1) return false;
  return wanted.every((size, i) => {
    const d = modelShape[i + 1];
    return typeof d !== 'number' || d <= 0 || d === size;
  });
}

function shapeOf(vi: onnx.IValueInfoProto | undefined): Dim[] | undefined {
  const shape = vi?.type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) => {
    const v = toNumber(d.dimValue);
    if (v !== undefined) return v;
    return d.dimParam ? d.dimParam : undefined;
  });
}

function typeName(vi: onnx.IValueInfoProto): string {
  const t = vi.type;
  if (!t) return 'of unknown type';
  if (t.tensorType) return ELEM_TYPES[t.tensorType.elemType ?? 0] ?? `elem_type ${t.tensorType.elemType}`;
  if (t.sequenceType) return 'a sequence';
  if (t.mapType) return 'a map';
  return 'not a dense tensor';
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Up to `max` of `names` closest to `wanted`: substring matches first, then by edit distance. */
export function closestNames(wanted: string, names: string[], max = 8): string[] {
  const w = wanted.toLowerCase();
  return [...new Set(names)]
    .map((name) => {
      const n = name.toLowerCase();
      const sub = n.includes(w) || w.includes(n);
      return { name, score: sub ? Math.abs(n.length - w.length) - 1e6 : levenshtein(w, n) };
    })
    .sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
    .slice(0, max)
    .map((c) => c.name);
}

/** NCHW -> NHWC for `b` examples of [c, h, w], into `out` at `offset`. */
function nchwToNhwc(
  src: Float32Array,
  b: number,
  c: number,
  h: number,
  w: number,
  out: Float32Array,
  offset: number,
): void {
  const hw = h * w;
  for (let i = 0; i < b; i++) {
    const s = i * c * hw;
    const o = offset + i * c * hw;
    for (let ch = 0; ch < c; ch++) {
      const sc = s + ch * hw;
      for (let p = 0; p < hw; p++) out[o + p * c + ch] = src[sc + p];
    }
  }
}

/** NHWC -> NCHW for `b` examples of [h, w, c]. */
function nhwcToNchw(src: Float32Array, b: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(src.length);
  const hw = h * w;
  for (let i = 0; i < b; i++) {
    const base = i * hw * c;
    for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) out[base + ch * hw + p] = src[base + p * c + ch];
  }
  return out;
}

/** Opens an ONNX teacher and checks it on one example; every unusable model is a ModelFileError. */
export async function openOnnxTeacher(
  file: string,
  dataShape: number[],
  numClasses: number,
  options: OnnxTeacherOptions,
): Promise<OnnxTeacher> {
  const ort = require('onnxruntime-node') as typeof ortTypes;
  function fail(problem: string): never {
    throw new ModelFileError(file, problem);
  }

  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(
      code === 'ENOENT'
        ? 'the ONNX model file does not exist'
        : code === 'EISDIR'
          ? 'is a folder; expected an .onnx file'
          : `the ONNX model file cannot be read (${code ?? (err as Error).message})`,
    );
  }
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    return fail(
      `is not an ONNX model: its ${bytes.length} bytes do not decode as an ONNX ModelProto (${(err as Error).message}); expected a .onnx file such as torch.onnx.export writes`,
    );
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0)
    return fail(
      `is not an ONNX model: ${graph ? 'its graph has no nodes' : `its ${bytes.length} bytes decode to no graph`}; expected a .onnx file such as torch.onnx.export writes`,
    );
  if ((graph.initializer ?? []).some((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL))
    fail(
      'keeps weights in external data files, which this loader does not read; save the model as one file (onnx.save_model(model, path, save_as_external_data=False), possible below 2 GB)',
    );

  // The one real input (older exporters also list the initializers as inputs).
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (graph.input ?? []).filter((vi) => !initializers.has(vi.name ?? ''));
  if (inputs.length !== 1)
    fail(
      inputs.length === 0
        ? 'the model has no input; expected one input taking a batch of examples'
        : `the model has ${inputs.length} inputs (${inputs.map((i) => `"${i.name}"`).join(', ')}); expected one input taking a batch of examples`,
    );
  const input = inputs[0];
  const inputName = input.name ?? '';
  const inputShape = shapeOf(input);
  if (!input.type?.tensorType || input.type.tensorType.elemType !== FLOAT)
    fail(`input "${inputName}" is ${typeName(input)}; expected float32`);

  // Layout.
  const candidates: Array<Exclude<OnnxLayout, 'auto'>> =
    dataShape.length === 3 ? ['nhwc', 'nchw', 'flat'] : dataShape.length === 1 ? ['nhwc'] : ['nhwc', 'flat'];
  const tried = options.layout === 'auto' ? candidates : [options.layout];
  const fitting = tried.filter(
    (l) => (l !== 'nchw' || dataShape.length === 3) && fits(inputShape, onnxInputShape(l, dataShape)),
  );
  if (fitting.length === 0) {
    const tries = tried.map((l) =>
      l === 'nchw' && dataShape.length !== 3
        ? 'nchw (needs [height, width, channels] data)'
        : `${l} [batch, ${onnxInputShape(l, dataShape).join(', ')}]`,
    );
    fail(
      `input "${inputName}" has shape ${fmtShape(inputShape)}, which fits the data's per-example shape [${dataShape.join(', ')}] in no layout; tried ${tries.join(', ')}`,
    );
  }
  const layout = fitting[0];
  const perExample = onnxInputShape(layout, dataShape);
  const fixedBatch = typeof inputShape?.[0] === 'number' && inputShape[0] > 0 ? inputShape[0] : undefined;

  // Outputs: logits and features.
  const graphOutputs = (graph.output ?? []).map((o) => o.name ?? '');
  if (graphOutputs.length === 0) fail('the model has no output; expected one holding the logits');
  const produced = new Set<string>();
  for (const node of graph.node ?? []) for (const o of node.output ?? []) if (o) produced.add(o);
  const available = [...new Set([...graphOutputs, ...produced])];
  const checkName = (name: string, what: string) => {
    if (graphOutputs.includes(name) || produced.has(name)) return;
    const near = closestNames(name, available);
    fail(
      `${what} "${name}" is not an output or intermediate value of the model; closest of its ${available.length} values: ${near.map((n) => `"${n}"`).join(', ')}`,
    );
  };
  if (options.logits !== undefined) checkName(options.logits, 'logits output');
  const logitsName = options.logits ?? graphOutputs[0];
  const featureNames = [...new Set(options.features ?? [])];
  for (const f of featureNames) checkName(f, 'feature');
  const fetches = [...new Set([logitsName, ...featureNames])];
  const added = fetches.filter((name) => !graphOutputs.includes(name));
  const valueInfo = new Map((graph.valueInfo ?? []).map((vi) => [vi.name ?? '', vi]));
  for (const name of added) {
    const vi = valueInfo.get(name);
    if (vi?.type?.tensorType && vi.type.tensorType.elemType !== FLOAT)
      fail(`value "${name}" is ${typeName(vi)}; expected float32`);
  }
  for (const o of graph.output ?? [])
    if (fetches.includes(o.name ?? '') && o.type?.tensorType && o.type.tensorType.elemType !== FLOAT)
      fail(`output "${o.name}" is ${typeName(o)}; expected float32`);

  let modelBytes: Uint8Array = bytes;
  if (added.length > 0) {
    const extra = added.map(
      (name): onnx.IValueInfoProto => valueInfo.get(name) ?? { name, type: { tensorType: { elemType: FLOAT } } },
    );
    const patch = onnx.ModelProto.encode({ graph: { output: extra } }).finish();
    modelBytes = Buffer.concat([bytes, patch]);
  }

  const modelInputDims = (b: number) => [b, ...perExample];
  const feed = (data: Float32Array, b: number) => ({
    [inputName]: new ort.Tensor(
      'float32',
      layout === 'nchw' ? nhwcToNchw(data, b, dataShape[0], dataShape[1], dataShape[2]) : data,
      modelInputDims(b),
    ),
  });
  const loadError = (err: unknown): never => {
    const message = (err as Error).message.trim();
    // An added output declared FLOAT whose value is not: "Type (tensor(float)) of output arg (s) of node (shape) does not match expected type (tensor(int64))".
    const typeError = /of output arg \((.+?)\) of node .*does not match expected type \((?:tensor\()?(\w+)\)?\)/.exec(
      message,
    );
    if (typeError && fetches.includes(typeError[1]))
      return fail(
        `value "${typeError[1]}" is ${typeError[2] === 'float' ? 'float32' : typeError[2] === 'double' ? 'float64' : typeError[2]}; expected float32`,
      );
    return fail(`onnxruntime cannot load the model: ${message.split('\n')[0]}`);
  };
  const probeBatch = fixedBatch ?? 1;
  const probeInput = new Float32Array(probeBatch * prod(dataShape));

  const { session, provider, probe, providerDetail } = await openOnFirstProvider(modelBytes, options.providers, {
    loadFailed: loadError,
    check: async (candidate) => {
      const metadata = new Map(candidate.outputMetadata.map((m) => [m.name, m]));
      for (const name of fetches) {
        const m = metadata.get(name);
        if (m && (!m.isTensor || m.type !== 'float32')) {
          await candidate.release();
          fail(
            `${name === logitsName ? 'logits output' : 'feature'} "${name}" is ${m.isTensor ? m.type : 'not a tensor'}; expected float32`,
          );
        }
      }
    },
    run: (candidate) => candidate.run(feed(probeInput, probeBatch), fetches),
    runFailed: (err) =>
      fail(
        `fails in onnxruntime on an input of shape [${modelInputDims(probeBatch).join(', ')}] (layout ${layout}): ${firstLine(err)}`,
      ),
  });
  const closeAndFail = async (problem: string): Promise<never> => {
    await session.release();
    return fail(problem);
  };
  const runBatch = (data: Float32Array, b: number) => session.run(feed(data, b), fetches);

  const logitsDims = probe[logitsName].dims.map(Number);
  if (logitsDims.length !== 2 || logitsDims[0] !== probeBatch || logitsDims[1] !== numClasses)
    await closeAndFail(
      `logits output "${logitsName}" has shape [${logitsDims.join(', ')}] for a batch of ${probeBatch}; expected [${probeBatch}, ${numClasses}] ([batch, numClasses] for the data's ${numClasses} classes)`,
    );
  const featureShapes = new Map<string, number[]>();
  for (const f of featureNames) {
    const dims = probe[f].dims.map(Number);
    if (dims.length === 0 || dims[0] !== probeBatch)
      await closeAndFail(
        `feature "${f}" has shape [${dims.join(', ')}] for a batch of ${probeBatch}; expected the batch as its first dimension`,
      );
    featureShapes.set(f, dims.slice(1));
  }
  for (const t of Object.values(probe)) t.dispose();

  const nhwcFeatures = (shape: number[]) => layout === 'nchw' && shape.length === 3;
  const outShape = (shape: number[]) => (nhwcFeatures(shape) ? [shape[1], shape[2], shape[0]] : shape);
  const logitsNote =
    options.logits !== undefined
      ? 'as configured'
      : graphOutputs.length === 1
        ? "the model's only output"
        : `the first of its ${graphOutputs.length} outputs ${graphOutputs.map((o) => `"${o}"`).join(', ')}`;
  const layoutNote = {
    nhwc: 'examples passed as they are',
    nchw: 'examples transposed NHWC -> NCHW',
    flat: 'examples passed flattened',
  }[layout];
  const ambiguity =
    options.layout === 'auto' && fitting.length > 1 ? `; auto: also fits ${fitting.slice(1).join(', ')}` : '';
  let released = false;

  return {
    file,
    layout,
    inputName,
    logitsName,
    provider,
    providerDetail,
    describe() {
      const feats = featureNames.map(
        (f) =>
          `"${f}" [batch, ${outShape(featureShapes.get(f)!).join(', ')}]${nhwcFeatures(featureShapes.get(f)!) ? ' (NCHW -> NHWC)' : ''}`,
      );
      return `ONNX teacher ${file}: input "${inputName}" ${fmtShape(inputShape)}, layout ${layout} (${options.layout === 'auto' ? 'auto' : 'configured'}: ${layoutNote}${ambiguity})${fixedBatch ? `, fixed batch ${fixedBatch}` : ''}; logits "${logitsName}" [batch, ${numClasses}] (${logitsNote})${feats.length > 0 ? `; features ${feats.join(', ')}` : ''}; onnxruntime ${provider} (${providerDetail})`;
    },
    async run(x, n, batchSize) {
      if (released) throw new Error(`${file}: the ONNX session was disposed`);
      const rowSize = prod(dataShape);
      if (x.length !== n * rowSize)
        throw new RangeError(`expected ${n} examples of ${rowSize} values (${n * rowSize}), got ${x.length} values`);
      if (!(batchSize >= 1)) throw new RangeError(`batch size must be at least 1, got ${batchSize}`);
      const step = fixedBatch ?? Math.floor(batchSize);
      const logits = new Float32Array(n * numClasses);
      const features: Record<string, { data: Float32Array; shape: number[] }> = {};
      for (const f of featureNames) {
        const shape = outShape(featureShapes.get(f)!);
        features[f] = { data: new Float32Array(n * prod(shape)), shape: [n, ...shape] };
      }
      for (let start = 0; start < n; start += step) {
        const b = Math.min(step, n - start);
        let data = x.subarray(start * rowSize, (start + b) * rowSize);
        if (fixedBatch && b < fixedBatch) {
          const padded = new Float32Array(fixedBatch * rowSize);
          padded.set(data);
          data = padded;
        }
        const runB = fixedBatch ?? b;
        const out = await runBatch(data, runB);
        try {
          const l = out[logitsName];
          if (l.dims.length !== 2 || Number(l.dims[0]) !== runB || Number(l.dims[1]) !== numClasses)
            throw new ModelFileError(
              file,
              `logits output "${logitsName}" has shape [${l.dims.join(', ')}] for a batch of ${runB}; expected [${runB}, ${numClasses}]`,
            );
          logits.set((l.data as Float32Array).subarray(0, b * numClasses), start * numClasses);
          for (const f of featureNames) {
            const t = out[f];
            const shape = featureShapes.get(f)!;
            const size = prod(shape);
            if (
              Number(t.dims[0]) !== runB ||
              t.dims.length !== shape.length + 1 ||
              t.dims.slice(1).some((d, i) => Number(d) !== shape[i])
            )
              throw new ModelFileError(
                file,
                `feature "${f}" has shape [${t.dims.join(', ')}] for a batch of ${runB}; expected [${runB}, ${shape.join(', ')}] as on the first batch`,
              );
            const src = (t.data as Float32Array).subarray(0, b * size);
            if (nhwcFeatures(shape)) nchwToNhwc(src, b, shape[0], shape[1], shape[2], features[f].data, start * size);
            else features[f].data.set(src, start * size);
          }
        } finally {
          for (const t of Object.values(out)) t.dispose();
        }
      }
      return { logits, features };
    },
    async dispose() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}
