/** IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed. */
import * as zlib from 'node:zlib';
import { DataError, readDataFile } from './dataError.ts';

const TYPES: Record<number, { name: string; size: number }> = {
  0x08: { name: 'unsigned byte', size: 1 },
  0x09: { name: 'signed byte', size: 1 },
  0x0b: { name: 'int16', size: 2 },
  0x0c: { name: 'int32', size: 4 },
  0x0d: { name: 'float32', size: 4 },
  0x0e: { name: 'float64', size: 8 },
};

export interface IdxArray {
  dims: number[];
  /** Bytes for type 0x08, float32 for every other type. */
  data: Uint8Array | Float32Array;
}

function decompress(file: string, buf: Buffer): Buffer {
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) return buf;
  try {
    return zlib.gunzipSync(buf);
  } catch (err) {
    throw new DataError(file, `the gzip stream is corrupt or truncated (${(err as Error).message})`, 'a complete .gz file');
  }
}

export function readIdx(file: string): IdxArray {
  const buf = decompress(file, readDataFile(file, 'IDX file'));
  if (buf.length < 4) throw new DataError(file, `is ${buf.length} bytes long, too short for an IDX header`, 'at least 4 bytes: 0x00 0x00 <type> <dimensions>');
  const type = TYPES[buf[2]];
  if (buf[0] !== 0 || buf[1] !== 0 || !type || buf[3] === 0) {
    const found = [...buf.subarray(0, 4)].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
    throw new DataError(file, `has the wrong magic number (${found}); it is not an IDX file`, '0x00 0x00, a type byte (0x08 for images and labels) and the number of dimensions');
  }
  const ndims = buf[3];
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) throw new DataError(file, `its header is truncated (${buf.length} bytes for ${ndims} dimensions)`, `${headerBytes} header bytes`);
  const dims = Array.from({ length: ndims }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * type.size;
  const actual = buf.length - headerBytes;
  if (actual !== expected)
    throw new DataError(file, `${actual < expected ? 'is truncated' : 'has trailing bytes'}: its header says [${dims.join(' x ')}] ${type.name} values (${expected} bytes), the file has ${actual}`, `${expected} data bytes`);
  const body = buf.subarray(headerBytes);
  if (buf[2] === 0x08) return { dims, data: new Uint8Array(body.buffer, body.byteOffset, body.length) };
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * type.size;
    out[i] = buf[2] === 0x09 ? body.readInt8(o) : buf[2] === 0x0b ? body.readInt16BE(o) : buf[2] === 0x0c ? body.readInt32BE(o) : buf[2] === 0x0d ? body.readFloatBE(o) : body.readDoubleBE(o);
  }
  return { dims, data: out };
}

/** An images file and its labels file, checked against each other. */
export function readIdxPair(imagesFile: string, labelsFile: string): { images: Uint8Array | Float32Array; labels: Int32Array; n: number; shape: number[] } {
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.dims.length < 2) throw new DataError(imagesFile, `has ${images.dims.length} dimension`, 'an images file with a count and an example shape, e.g. [n, 28, 28]');
  if (labels.dims.length !== 1) throw new DataError(labelsFile, `has shape [${labels.dims.join(', ')}]`, 'a labels file with one dimension');
  const n = images.dims[0];
  if (labels.dims[0] !== n) throw new DataError(labelsFile, `has ${labels.dims[0]} labels but ${imagesFile} has ${n} images`, 'one label per image');
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i];
    if (!Number.isInteger(v) || v < 0) throw new DataError(labelsFile, `label ${i} is ${v}`, 'class indices 0, 1, 2, ...');
    out[i] = v;
  }
  const shape = images.dims.slice(1);
  for (let i = 0; i < images.data.length; i++)
    if (!Number.isFinite(images.data[i])) throw new DataError(imagesFile, `value ${i} of the images is ${images.data[i]}`, 'finite numbers');
  return { images: images.data, labels: out, n, shape };
}
