/**
 * Writes .npy files and .npz archives as numpy.save / numpy.savez do (format 1.0, C order,
 * little-endian), for tests that need arrays larger than the numpy-written fixtures.
 */
import * as fs from 'node:fs';
import { zipSync } from 'fflate';

type Typed = Uint8Array | Int32Array | Float32Array | Float64Array | BigInt64Array;

const DESCR = new Map<Function, string>([
  [Uint8Array, '|u1'],
  [Int32Array, '<i4'],
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [BigInt64Array, '<i8'],
]);

/** The bytes of a .npy file holding `data` (C order) of `shape`. */
export function npyBytes(data: Typed, shape: number[]): Uint8Array {
  const descr = DESCR.get(data.constructor)!;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // numpy pads the header with spaces and a newline so the values start at a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

export function writeNpy(file: string, data: Typed, shape: number[]): string {
  fs.writeFileSync(file, npyBytes(data, shape));
  return file;
}

/** An .npz archive of `arrays` (key -> values and shape), deflated as np.savez_compressed does. */
export function writeNpz(file: string, arrays: Record<string, { data: Typed; shape: number[] }>): string {
  const members: Record<string, Uint8Array> = {};
  for (const [key, a] of Object.entries(arrays)) members[`${key}.npy`] = npyBytes(a.data, a.shape);
  fs.writeFileSync(file, zipSync(members, { level: 6 }));
  return file;
}
