/**
 * Reduced-precision variants of an fp32 ONNX export (a post-pass on the ModelProto `toOnnx` built).
 *
 * fp16 stores every weight tensor as float16 and casts it back to float32 inside the graph: the file
 * is about half the size, and the graph computes in float32, so any onnxruntime (CPU included, which
 * has few float16 kernels) runs it. The only change to the outputs is the weights' fp16 rounding.
 * int8 (QDQ, calibrated) is in quantize.ts.
 */
import { onnx } from 'onnx-proto';

export const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a number, rounded to nearest even (overflow goes to ±Infinity). */
export function float16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Infinity, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: the 24-bit significand shifted right; below 2^-25 it rounds to zero.
    if (e < -10) return sign;
    const significand = mant | 0x800000;
    const shift = 14 - e;
    const kept = significand >>> shift;
    const rest = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (rest > halfway || (rest === halfway && kept & 1) ? kept + 1 : kept);
  }
  const bits = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to Infinity: that is the right rounding.
  return sign | (rest > 0x1000 || (rest === 0x1000 && bits & 1) ? bits + 1 : bits);
}

/** float32 values as little-endian binary16 bytes (ONNX raw_data). */
export function toFloat16Bytes(values: Float32Array): Uint8Array {
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = float16Bits(values[i]);
  return new Uint8Array(half.buffer);
}

/**
 * The fp16-weight variant of an fp32 ONNX model: each float32 weight initializer `w` becomes a
 * float16 initializer `w.fp16` and a `Cast(to = FLOAT)` node that outputs `w`, so no other node
 * changes. Scalar constants (activation bounds) stay float32: they cost nothing.
 */
export function toFp16Weights(fp32Model: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(fp32Model);
  const graph = model.graph!;
  const casts: onnx.INodeProto[] = [];
  for (const init of graph.initializer ?? []) {
    if (init.dataType !== onnx.TensorProto.DataType.FLOAT || !init.rawData?.length) continue;
    // A copy: decoded raw_data may sit at an offset no Float32Array can start at.
    const values = new Float32Array(new Uint8Array(init.rawData).buffer);
    const original = init.name!;
    init.name = `${original}.fp16`;
    init.dataType = onnx.TensorProto.DataType.FLOAT16;
    init.rawData = toFloat16Bytes(values);
    casts.push({
      opType: 'Cast',
      input: [init.name],
      output: [original],
      name: `cast_${original}`,
      attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT }],
    });
  }
  graph.node = [...casts, ...(graph.node ?? [])];
  model.docString = `${model.docString ?? ''}${model.docString ? '; ' : ''}weights stored as float16, computed in float32`;
  return onnx.ModelProto.encode(model).finish();
}
