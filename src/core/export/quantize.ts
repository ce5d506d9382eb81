/**
 * int8 QDQ variant of an fp32 ONNX export, in the form onnxruntime fuses into int8 kernels
 * (QLinearConv, QGemm): DequantizeLinear in front of each Conv / Gemm weight (symmetric int8,
 * one scale per output channel) and bias (int32 at input scale x weight scale), and a
 * QuantizeLinear -> DequantizeLinear pair on the activations around them (asymmetric int8, min-max
 * ranges measured by running the fp32 model on calibration examples).
 */
import type * as ortTypes from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import type { Split } from '../data/dataset.ts';

const { FLOAT, INT8, INT32 } = onnx.TensorProto.DataType;

/** Ops whose output range lies inside their input's: the output reuses the input's scale, so
 * onnxruntime can run them on int8 directly (it drops a DQ -> op -> Q with equal parameters). */
const RANGE_PRESERVING = new Set(['MaxPool', 'Transpose', 'Flatten', 'Reshape', 'Identity']);

interface ActivationParams {
  scale: number;
  zeroPoint: number;
}

/** Asymmetric int8 parameters of a [min, max] range; the range always holds 0, so 0 is exact. */
export function activationParams(min: number, max: number): ActivationParams {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale, zeroPoint };
}

/** Symmetric per-channel int8 weights: `axis` is the output-channel axis of `dims`. */
export function quantizeWeights(
  values: Float32Array,
  dims: number[],
  axis: number,
): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < values.length; i++) maxAbs[channelOf(i)] = Math.max(maxAbs[channelOf(i)], Math.abs(values[i]));
  const scales = maxAbs.map((m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++)
    q[i] = Math.max(-127, Math.min(127, Math.round(values[i] / scales[channelOf(i)])));
  return { q, scales };
}

const floatsOf = (t: onnx.ITensorProto) => new Float32Array(new Uint8Array(t.rawData!).buffer);
const bytesOf = (a: Float32Array | Int8Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Min and max of each named tensor over the calibration examples, from the fp32 model run in
 * onnxruntime with those tensors added as outputs.
 */
async function calibrate(
  model: onnx.ModelProto,
  names: string[],
  examples: Split,
  inputShape: number[],
  batch = 128,
): Promise<Map<string, [number, number]>> {
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const probe = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const outputs = new Set(probe.graph!.output!.map((o) => o.name));
  for (const name of names.filter((n) => n !== model.graph!.input![0].name))
    if (!outputs.has(name)) probe.graph!.output!.push({ name, type: { tensorType: { elemType: FLOAT } } });
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(probe).finish(), {
    executionProviders: ['cpu'],
  });
  const ranges = new Map<string, [number, number]>(names.map((n) => [n, [Infinity, -Infinity]]));
  const dim = inputShape.reduce((a, b) => a * b, 1);
  // The graph input's range is the examples' own; onnxruntime does not return an input as an output.
  const inputName = model.graph!.input![0].name!;
  if (ranges.has(inputName)) {
    const r = ranges.get(inputName)!;
    for (const v of examples.x.subarray(0, examples.n * dim)) {
      if (v < r[0]) r[0] = v;
      if (v > r[1]) r[1] = v;
    }
  }
  const fetched = names.filter((n) => n !== inputName);
  try {
    for (let start = 0; start < examples.n; start += batch) {
      const m = Math.min(batch, examples.n - start);
      const input = new ort.Tensor('float32', examples.x.subarray(start * dim, (start + m) * dim), [m, ...inputShape]);
      const out = await session.run({ input }, fetched);
      for (const name of fetched) {
        const r = ranges.get(name)!;
        for (const v of out[name].data as Float32Array) {
          if (v < r[0]) r[0] = v;
          if (v > r[1]) r[1] = v;
        }
      }
    }
  } finally {
    await session.release();
  }
  return ranges;
}

/** The int8 QDQ model of an fp32 ONNX model, its activations calibrated on `examples`. */
export async function toInt8Qdq(fp32Model: Uint8Array, examples: Split, inputShape: number[]): Promise<Uint8Array> {
  const model = onnx.ModelProto.decode(fp32Model);
  const graph = model.graph!;
  const nodes = graph.node ?? [];
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name!));
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const n of nodes) for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);

  // Activations to quantize: the input of each Conv / Gemm, and its output (after a Relu that is
  // its only consumer, so onnxruntime folds the Relu into the quantization); never the logits.
  const quantized = new Set<string>();
  for (const n of nodes) {
    if (n.opType !== 'Conv' && n.opType !== 'Gemm') continue;
    quantized.add(n.input![0]);
    let y = n.output![0];
    const next = consumers.get(y) ?? [];
    if (next.length === 1 && next[0].opType === 'Relu') y = next[0].output![0];
    if (!graphOutputs.has(y)) quantized.add(y);
  }
  const ranges = await calibrate(model, [...quantized], examples, inputShape);
  const params = new Map<string, ActivationParams>();
  for (const [name, [min, max]] of ranges) params.set(name, activationParams(min, max));
  // Topological order: a range-preserving op after a quantized tensor passes its parameters on.
  for (const n of nodes)
    if (RANGE_PRESERVING.has(n.opType!) && params.has(n.input![0]) && !graphOutputs.has(n.output![0]))
      params.set(n.output![0], params.get(n.input![0])!);

  const newInitializers: onnx.ITensorProto[] = [];
  const scalar = (name: string, dataType: number, value: number): string => {
    newInitializers.push(
      dataType === FLOAT
        ? { name, dataType, dims: [], floatData: [value] }
        : { name, dataType, dims: [], int32Data: [value] },
    );
    return name;
  };
  const out: onnx.INodeProto[] = [];
  const dequantized = (name: string) => (params.has(name) ? `${name}_dq` : name);
  const qdq = (name: string) => {
    const p = params.get(name)!;
    const scale = scalar(`${name}_scale`, FLOAT, p.scale);
    const zeroPoint = scalar(`${name}_zero_point`, INT8, p.zeroPoint);
    out.push({ opType: 'QuantizeLinear', input: [name, scale, zeroPoint], output: [`${name}_q`], name: `${name}_q` });
    out.push({
      opType: 'DequantizeLinear',
      input: [`${name}_q`, scale, zeroPoint],
      output: [`${name}_dq`],
      name: `${name}_dq`,
    });
  };
  const axisAttr = (axis: number): onnx.IAttributeProto => ({
    name: 'axis',
    type: onnx.AttributeProto.AttributeType.INT,
    i: axis,
  });
  const quantizedWeights = new Set<string>();

  for (const name of graph.input!.map((i) => i.name!)) if (params.has(name)) qdq(name);
  for (const n of nodes) {
    const inputs = (n.input ?? []).map(dequantized);
    if ((n.opType === 'Conv' || n.opType === 'Gemm') && params.has(n.input![0])) {
      const w = initializers.get(n.input![1]);
      if (w && w.dataType === FLOAT && w.rawData?.length && !quantizedWeights.has(w.name!)) {
        // Conv weights are [out, in, kh, kw]; Gemm's B is [in, out] (transB = 0 in this exporter).
        const axis = n.opType === 'Conv' ? 0 : 1;
        const dims = (w.dims ?? []).map(Number);
        const { q, scales } = quantizeWeights(floatsOf(w), dims, axis);
        const wName = w.name!;
        newInitializers.push(
          { name: `${wName}_int8`, dataType: INT8, dims, rawData: bytesOf(q) },
          { name: `${wName}_scale`, dataType: FLOAT, dims: [scales.length], rawData: bytesOf(scales) },
          {
            name: `${wName}_zero_point`,
            dataType: INT8,
            dims: [scales.length],
            rawData: bytesOf(new Int8Array(scales.length)),
          },
        );
        out.push({
          opType: 'DequantizeLinear',
          input: [`${wName}_int8`, `${wName}_scale`, `${wName}_zero_point`],
          output: [`${wName}_dq`],
          name: `${wName}_dq`,
          attribute: [axisAttr(axis)],
        });
        inputs[1] = `${wName}_dq`;
        const b = n.input![2] ? initializers.get(n.input![2]) : undefined;
        if (b && b.dataType === FLOAT && b.rawData?.length) {
          const xScale = params.get(n.input![0])!.scale;
          const bias = floatsOf(b);
          const bScales = scales.map((s) => s * xScale);
          const qb = Int32Array.from(bias, (v, c) => Math.round(v / bScales[c]));
          const bName = b.name!;
          newInitializers.push(
            { name: `${bName}_int32`, dataType: INT32, dims: [qb.length], rawData: bytesOf(qb) },
            { name: `${bName}_scale`, dataType: FLOAT, dims: [qb.length], rawData: bytesOf(bScales) },
          );
          out.push({
            opType: 'DequantizeLinear',
            input: [`${bName}_int32`, `${bName}_scale`],
            output: [`${bName}_dq`],
            name: `${bName}_dq`,
            attribute: [axisAttr(0)],
          });
          inputs[2] = `${bName}_dq`;
          quantizedWeights.add(bName);
        }
        quantizedWeights.add(wName);
      }
    }
    out.push({ ...n, input: inputs });
    for (const o of n.output ?? []) if (params.has(o)) qdq(o);
  }
  graph.node = out;
  graph.initializer = [...(graph.initializer ?? []).filter((t) => !quantizedWeights.has(t.name!)), ...newInitializers];
  model.docString = `${model.docString ?? ''}${model.docString ? '; ' : ''}int8 QDQ: per-channel weights, activations calibrated (min-max) on ${examples.n} training examples`;
  return onnx.ModelProto.encode(model).finish();
}
