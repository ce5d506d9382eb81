/**
 * An ONNX text classifier as a teacher (a fine-tuned transformer exported from PyTorch or
 * transformers): inputs `input_ids` and `attention_mask` (and `token_type_ids`, all zeros for one
 * text) fed by name as int64 (or int32, as the model declares), logits out, batched through
 * onnxruntime-node on the best execution provider that works (onnxProviders.ts). It reads the rows
 * that encodeTeacherRows writes from its own tokenizer: per text `maxLength` ids then `maxLength`
 * mask values, as float32. Its token embedding's row count is found (a Gather of an initializer by
 * the ids) so that a tokenizer of another vocabulary is refused before any run.
 */
import * as fs from 'node:fs';
import type * as ortTypes from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelFileError } from './io.ts';
import type { OnnxTeacher } from './onnxTeacher.ts';
import { openOnFirstProvider, type OnnxProviderName } from './onnxProviders.ts';

export const TOKEN_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
type TokenInput = (typeof TOKEN_INPUTS)[number];

export interface OnnxTextTeacherOptions {
  /** Tokens per text (the rows' length). */
  maxLength: number;
  /** Name of the logits output; default: the model's first output. */
  logits?: string;
  providers?: OnnxProviderName[];
}

export interface OnnxTextTeacher extends OnnxTeacher {
  /** Rows of the token embedding (its vocabulary), when the graph shows it; else undefined. */
  readonly embeddingRows?: number;
  /** The initializer holding it, for messages. */
  readonly embeddingName?: string;
  readonly tokenInputs: TokenInput[];
}

const ELEM = onnx.TensorProto.DataType;
const typeName = (t: number | null | undefined) =>
  ({
    [ELEM.FLOAT]: 'float32',
    [ELEM.INT64]: 'int64',
    [ELEM.INT32]: 'int32',
    [ELEM.FLOAT16]: 'float16',
    [ELEM.DOUBLE]: 'float64',
    [ELEM.BOOL]: 'bool',
  })[t ?? -1] ?? `element type ${t}`;
const firstLine = (err: unknown) => (err as Error).message.trim().split('\n')[0];

type Dim = number | string | undefined;
function shapeOf(vi: onnx.IValueInfoProto): Dim[] | undefined {
  const dims = vi.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) => {
    if (d.dimParam) return d.dimParam;
    const v = d.dimValue === null || d.dimValue === undefined ? undefined : Number(d.dimValue.toString());
    return v && v > 0 ? v : undefined;
  });
}
const fmtShape = (s: Dim[] | undefined) =>
  s ? `[${s.map((d) => (d === undefined ? '?' : String(d))).join(', ')}]` : 'of unknown shape';

/** The token embedding: an initializer of rank 2 gathered (axis 0) by input_ids, through casts and reshapes. */
function findEmbedding(graph: onnx.IGraphProto): { name: string; rows: number } | undefined {
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const derived = new Set(['input_ids']);
  const passThrough = new Set(['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Identity']);
  for (const node of graph.node ?? []) {
    const inputs = node.input ?? [];
    if (passThrough.has(node.opType ?? '') && derived.has(inputs[0])) for (const o of node.output ?? []) derived.add(o);
    if (node.opType === 'Gather' && derived.has(inputs[1]) && initializers.has(inputs[0])) {
      const axis = (node.attribute ?? []).find((a) => a.name === 'axis');
      const dims = (initializers.get(inputs[0])!.dims ?? []).map((d) => Number(d.toString()));
      if ((axis ? Number(axis.i ?? 0) : 0) === 0 && dims.length === 2) return { name: inputs[0], rows: dims[0] };
    }
  }
  return undefined;
}

export async function openOnnxTextTeacher(
  file: string,
  numClasses: number,
  options: OnnxTextTeacherOptions,
): Promise<OnnxTextTeacher> {
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const fail = (problem: string): never => {
    throw new ModelFileError(file, problem);
  };
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(
      code === 'ENOENT' ? 'the ONNX model file does not exist' : `the ONNX model file cannot be read (${code})`,
    );
  }
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    return fail(
      `is not an ONNX model (${(err as Error).message}); expected a .onnx file such as torch.onnx.export writes`,
    );
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0) return fail('is not an ONNX model: its graph has no nodes');

  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (graph.input ?? []).filter((vi) => !initializers.has(vi.name ?? ''));
  const expected =
    'a text teacher takes token ids: int64 (or int32) inputs named input_ids, attention_mask and optionally token_type_ids, each [batch, sequence]';
  const describeInput = (vi: onnx.IValueInfoProto) =>
    `"${vi.name}" (${typeName(vi.type?.tensorType?.elemType)} ${fmtShape(shapeOf(vi))})`;
  for (const vi of inputs) {
    const name = vi.name ?? '';
    const elem = vi.type?.tensorType?.elemType;
    if (!(TOKEN_INPUTS as readonly string[]).includes(name) || (elem !== ELEM.INT64 && elem !== ELEM.INT32))
      fail(
        `takes input ${describeInput(vi)}, which is not token ids; ${expected} (its inputs: ${inputs.map(describeInput).join(', ')})`,
      );
    const shape = shapeOf(vi);
    if (shape && shape.length !== 2) fail(`input ${describeInput(vi)} is not [batch, sequence]; ${expected}`);
    const steps = shape?.[1];
    if (typeof steps === 'number' && steps !== options.maxLength)
      fail(
        `input ${describeInput(vi)} takes exactly ${steps} tokens per text, but the teacher's rows have ${options.maxLength}; expected teacher.maxLength set to ${steps}`,
      );
  }
  if (!inputs.some((vi) => vi.name === 'input_ids'))
    fail(`has no input "input_ids" (its inputs: ${inputs.map(describeInput).join(', ') || 'none'}); ${expected}`);
  const tokenInputs = TOKEN_INPUTS.filter((n) => inputs.some((vi) => vi.name === n));
  const int32 = new Set(inputs.filter((vi) => vi.type?.tensorType?.elemType === ELEM.INT32).map((vi) => vi.name ?? ''));
  const fixedBatch = (() => {
    const b = shapeOf(inputs.find((vi) => vi.name === 'input_ids')!)?.[0];
    return typeof b === 'number' ? b : undefined;
  })();

  const outputs = (graph.output ?? []).map((o) => o.name ?? '');
  if (outputs.length === 0) fail('the model has no output; expected one holding the logits');
  if (options.logits !== undefined && !outputs.includes(options.logits))
    fail(`has no output "${options.logits}" (teacher.logits); its outputs: ${outputs.map((o) => `"${o}"`).join(', ')}`);
  const logitsName = options.logits ?? outputs[0];
  const embedding = findEmbedding(graph);

  const L = options.maxLength;
  const feed = (rows: Float32Array, b: number): Record<string, ortTypes.Tensor> => {
    const make = (name: TokenInput, value: (i: number, t: number) => number) => {
      const size = b * L;
      const data = int32.has(name) ? new Int32Array(size) : new BigInt64Array(size);
      for (let i = 0; i < b; i++)
        for (let t = 0; t < L; t++) {
          const v = value(i, t);
          if (data instanceof Int32Array) data[i * L + t] = v;
          else data[i * L + t] = BigInt(v);
        }
      return new ort.Tensor(int32.has(name) ? 'int32' : 'int64', data, [b, L]);
    };
    const feeds: Record<string, ortTypes.Tensor> = {};
    for (const name of tokenInputs)
      feeds[name] = make(
        name,
        name === 'input_ids'
          ? (i, t) => rows[i * 2 * L + t]
          : name === 'attention_mask'
            ? (i, t) => rows[i * 2 * L + L + t]
            : () => 0,
      );
    return feeds;
  };
  const probeBatch = fixedBatch ?? 1;
  const probeRows = new Float32Array(probeBatch * 2 * L);
  for (let i = 0; i < probeBatch; i++) probeRows[i * 2 * L + L] = 1; // one token (id 0) per text

  const { session, provider, probe, providerDetail } = await openOnFirstProvider(bytes, options.providers, {
    loadFailed: (err) => fail(`onnxruntime cannot load the model: ${firstLine(err)}`),
    run: (candidate) => candidate.run(feed(probeRows, probeBatch), [logitsName]),
    runFailed: (err) => fail(`fails in onnxruntime on token inputs of shape [${probeBatch}, ${L}]: ${firstLine(err)}`),
  });
  const logitsOf = async (out: ortTypes.InferenceSession.ReturnType, b: number): Promise<Float32Array> => {
    const l = out[logitsName];
    if (l.type !== 'float32' || l.dims.length !== 2 || Number(l.dims[0]) !== b || Number(l.dims[1]) !== numClasses) {
      await session.release();
      fail(
        `logits output "${logitsName}" is ${l.type} [${l.dims.join(', ')}] for a batch of ${b}; expected float32 [${b}, ${numClasses}] ([batch, numClasses] for the data's ${numClasses} classes)`,
      );
    }
    return l.data as Float32Array;
  };
  await logitsOf(probe, probeBatch);
  probe[logitsName].dispose();
  let released = false;
  return {
    file,
    layout: 'flat',
    inputName: 'input_ids',
    logitsName,
    provider,
    providerDetail,
    embeddingRows: embedding?.rows,
    embeddingName: embedding?.name,
    tokenInputs,
    describe() {
      return `ONNX text teacher ${file}: inputs ${tokenInputs.map((n) => `"${n}" ${int32.has(n) ? 'int32' : 'int64'} [batch, ${L}]`).join(', ')}${tokenInputs.includes('token_type_ids') ? ' (token_type_ids all 0)' : ''}${fixedBatch ? `, fixed batch ${fixedBatch}` : ''}; token embedding ${embedding ? `"${embedding.name}" with ${embedding.rows} rows` : 'not found in the graph (vocabulary size not checked)'}; logits "${logitsName}" [batch, ${numClasses}]; onnxruntime ${provider} (${providerDetail})`;
    },
    async run(x, n, batchSize) {
      if (released) throw new Error(`${file}: the ONNX session was disposed`);
      const rowSize = 2 * L;
      if (x.length !== n * rowSize)
        throw new RangeError(`expected ${n} rows of ${rowSize} values, got ${x.length} values`);
      const step = fixedBatch ?? Math.max(1, Math.floor(batchSize));
      const logits = new Float32Array(n * numClasses);
      for (let start = 0; start < n; start += step) {
        const b = Math.min(step, n - start);
        let rows = x.subarray(start * rowSize, (start + b) * rowSize);
        const runB = fixedBatch ?? b;
        if (runB > b) {
          const padded = new Float32Array(runB * rowSize);
          padded.set(rows);
          rows = padded;
        }
        const out = await session.run(feed(rows, runB), [logitsName]);
        try {
          logits.set((await logitsOf(out, runB)).subarray(0, b * numClasses), start * numClasses);
        } finally {
          for (const t of Object.values(out)) t.dispose();
        }
      }
      return { logits, features: {} };
    },
    async dispose() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}
