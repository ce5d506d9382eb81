/**
 * IDX files (the MNIST / Fashion-MNIST format, http://yann.lecun.com/exdb/mnist/), plain or gzip-compressed
 * (recognised by the gzip magic bytes 1f 8b, whatever the file name).
 *
 * Layout: 0x00 0x00, a type byte, the number of dimensions; one big-endian uint32 per dimension; then the
 * values, big-endian, row-major.
 */
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

const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

export interface IdxArray {
  dims: number[];
  /** Bytes for type 0x08 (unsigned byte); float32 for every other type. */
  data: Uint8Array | Float32Array;
}

export interface IdxPair {
  images: Uint8Array | Float32Array;
  /** Class indices, 0, 1, 2, ... */
  labels: Int32Array;
  /** Number of examples. */
  n: number;
  /** Shape of one example: the images' dims without the first, e.g. [28, 28]. */
  shape: number[];
}

function decompress(file: string, buf: Buffer): { bytes: Buffer; gzip: boolean } {
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) return { bytes: buf, gzip: false };
  try {
    return { bytes: zlib.gunzipSync(buf), gzip: true };
  } catch (err) {
    const reason = (err as Error).message;
    throw new DataError(
      file,
      `the gzip stream is corrupt or truncated (${reason})`,
      'a complete .gz file (download or copy it again)',
      { found: reason },
    );
  }
}

/** "10 images of 28x28", "10 labels", "10 examples of 4x3x2". */
function describe(dims: number[]): string {
  if (dims.length === 1) return `${dims[0]} labels`;
  if (dims.length === 3) return `${dims[0]} images of ${dims[1]}x${dims[2]}`;
  return `${dims[0]} examples of ${dims.slice(1).join('x')}`;
}

/** Reads one IDX file. Type 0x08 comes back as bytes, the other types (0x09, 0x0B-0x0E) as float32. */
export function readIdx(file: string): IdxArray {
  const { bytes: buf, gzip } = decompress(file, readDataFile(file, 'IDX file'));
  const what = gzip ? 'the decompressed data' : 'the file';
  if (buf.length < 4)
    throw new DataError(
      file,
      `is too short for an IDX header: ${what} has ${buf.length} byte${buf.length === 1 ? '' : 's'}`,
      'at least 4 bytes: 0x00 0x00 <type> <dimensions>',
      {
        found: `${buf.length} bytes`,
      },
    );
  const magic = [...buf.subarray(0, 4)].map(hex).join(' ');
  if (buf[0] !== 0 || buf[1] !== 0)
    throw new DataError(
      file,
      `has the wrong magic number (${magic}); it is not an IDX file`,
      '0x00 0x00 <type> <dimensions>, e.g. 0x00 0x00 0x08 0x03 for MNIST images',
      {
        field: 'magic',
        found: magic,
      },
    );
  const typeByte = buf[2];
  const type = TYPES[typeByte];
  if (!type)
    throw new DataError(
      file,
      `has an unknown IDX value type ${hex(typeByte)} (magic number ${magic})`,
      'type 0x08 (unsigned byte), 0x09 (signed byte), 0x0b (int16), 0x0c (int32), 0x0d (float32) or 0x0e (float64)',
      {
        field: 'type',
        found: hex(typeByte),
      },
    );
  const ndims = buf[3];
  if (ndims === 0)
    throw new DataError(file, `says it has 0 dimensions (magic number ${magic})`, 'at least 1 dimension', {
      field: 'dimensions',
      found: '0',
    });
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes)
    throw new DataError(
      file,
      `its header is truncated: ${what} has ${buf.length} bytes but a header with ${ndims} dimensions takes ${headerBytes}`,
      `at least ${headerBytes} bytes`,
      {
        field: 'header',
        found: `${buf.length} bytes`,
      },
    );
  const dims = Array.from({ length: ndims }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * type.size;
  const actual = buf.length - headerBytes;
  const says = `its header says ${describe(dims)}${typeByte === 0x08 ? '' : ` (${type.name})`}, ${expected} bytes after the ${headerBytes}-byte header`;
  if (actual < expected)
    throw new DataError(
      file,
      `is truncated: ${says}, but ${what} has only ${actual}`,
      `the complete file (download or copy it again)`,
      { field: 'data', found: `${actual} bytes` },
    );
  if (actual > expected)
    throw new DataError(
      file,
      `has trailing bytes: ${says}, but ${what} has ${actual}`,
      `exactly ${expected} bytes after the header`,
      { field: 'data', found: `${actual} bytes` },
    );
  const body = buf.subarray(headerBytes);
  if (typeByte === 0x08) return { dims, data: new Uint8Array(body.buffer, body.byteOffset, body.length) };
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const read: (o: number) => number =
    typeByte === 0x09
      ? (o) => view.getInt8(o)
      : typeByte === 0x0b
        ? (o) => view.getInt16(o)
        : typeByte === 0x0c
          ? (o) => view.getInt32(o)
          : typeByte === 0x0d
            ? (o) => view.getFloat32(o)
            : (o) => view.getFloat64(o);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = read(i * type.size);
  return { dims, data: out };
}

/** An images file and its labels file, checked against each other: one label (an integer >= 0) per image. */
export function readIdxPair(imagesFile: string, labelsFile: string): IdxPair {
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.dims.length < 2)
    throw new DataError(
      imagesFile,
      `has ${images.dims.length} dimension ([${images.dims.join(', ')}]), so it is not an images file`,
      'a count and the shape of one example, e.g. [n, 28, 28]',
      {
        field: 'dimensions',
        found: `[${images.dims.join(', ')}]`,
      },
    );
  if (labels.dims.length !== 1)
    throw new DataError(
      labelsFile,
      `has shape [${labels.dims.join(', ')}]`,
      'a labels file with one dimension, e.g. [n]',
      {
        field: 'dimensions',
        found: `[${labels.dims.join(', ')}]`,
      },
    );
  const n = images.dims[0];
  if (labels.dims[0] !== n)
    throw new DataError(
      labelsFile,
      `has ${labels.dims[0]} labels but ${imagesFile} has ${n} images`,
      'one label per image (are these two files from the same set?)',
      {
        field: 'count',
        found: String(labels.dims[0]),
      },
    );
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i];
    if (!Number.isInteger(v) || v < 0)
      throw new DataError(labelsFile, `label ${i} is ${v}`, 'class indices 0, 1, 2, ... (integers >= 0)', {
        field: `label ${i}`,
        found: String(v),
      });
    out[i] = v;
  }
  if (images.data instanceof Float32Array) {
    const per = images.dims.slice(1).reduce((a, b) => a * b, 1);
    for (let i = 0; i < images.data.length; i++)
      if (!Number.isFinite(images.data[i]))
        throw new DataError(
          imagesFile,
          `value ${i % per} of image ${Math.floor(i / per)} is ${images.data[i]}`,
          'finite numbers (within float32 range)',
          {
            field: `image ${Math.floor(i / per)}`,
            found: String(images.data[i]),
          },
        );
  }
  return { images: images.data, labels: out, n, shape: images.dims.slice(1) };
}
