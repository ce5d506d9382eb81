/**
 * NumPy arrays: `.npy` files (numpy.save, format versions 1.0, 2.0 and 3.0) and `.npz` archives
 * (numpy.savez, stored, and numpy.savez_compressed, deflated), read without Python.
 *
 * Layout of a .npy file (numpy/lib/format.py): the magic `\x93NUMPY`, a major and a minor version
 * byte, the header length (uint16 little-endian in 1.0, uint32 in 2.0 and 3.0), the header, a Python
 * dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` (latin-1 text;
 * UTF-8 in 3.0), then the values, `prod(shape)` of them, in C or Fortran order.
 */
import * as os from 'node:os';
import { unzipSync } from 'fflate';
import { DataError, readDataFile } from './dataError.ts';

export type NdData =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigInt64Array
  | BigUint64Array;

export interface NdArray {
  /**
   * NumPy's name of the stored type: bool, uint8, int8, uint16, int16, uint32, int32, uint64, int64,
   * float16, float32 or float64. bool comes back as 0/1 bytes, float16 as float32 (exactly).
   */
  dtype: string;
  /** `[]` for a 0-d array (one value). */
  shape: number[];
  /** `prod(shape)` values in C (row-major) order, whatever the file's order. */
  data: NdData;
}

/** An array in a .npy file, or one array (`key`, the np.savez keyword) of an .npz archive. */
export interface NpyRef {
  file: string;
  key?: string;
  /** The config field that names `key` (e.g. `data.train.xKey`), for messages. */
  keyField?: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ZIP_MAGIC = [0x50, 0x4b]; // PK

interface NumericType {
  name: string;
  size: number;
  /** A typed array of `count` values at `offset` of `buffer` (a view; float16 is converted). */
  make: (buffer: ArrayBufferLike, offset: number, count: number) => NdData;
}

const NUMERIC: Record<string, NumericType> = {
  b1: { name: 'bool', size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  u1: { name: 'uint8', size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  i1: { name: 'int8', size: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  u2: { name: 'uint16', size: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  i2: { name: 'int16', size: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  u4: { name: 'uint32', size: 4, make: (b, o, n) => new Uint32Array(b, o, n) },
  i4: { name: 'int32', size: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  u8: { name: 'uint64', size: 8, make: (b, o, n) => new BigUint64Array(b, o, n) },
  i8: { name: 'int64', size: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  f2: { name: 'float16', size: 2, make: (b, o, n) => halfToFloat32(new Uint16Array(b, o, n)) },
  f4: { name: 'float32', size: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  f8: { name: 'float64', size: 8, make: (b, o, n) => new Float64Array(b, o, n) },
};

const SUPPORTED =
  'a numeric dtype: bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float16, float32 or float64';

/** What a refused type code is, for the message. */
const REFUSED_KINDS: Record<string, string> = {
  O: 'an object array',
  U: 'an array of unicode strings',
  S: 'an array of byte strings',
  a: 'an array of byte strings',
  V: 'an array of raw void records',
  c: 'an array of complex numbers',
  M: 'an array of datetimes',
  m: 'an array of timedeltas',
};

const hostLittleEndian = os.endianness() === 'LE';

// --- Python literal (the header dict) ---------------------------------------------------------

type PyValue = string | number | boolean | null | PyValue[] | { tuple: PyValue[] } | Map<string, PyValue>;

class PyLiteralError extends Error {}

/** Parses the subset of Python literals numpy writes: dicts, tuples, lists, strings, ints, True/False/None. */
function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new PyLiteralError(`${what} at character ${i + 1}`);
  };
  const value = (): PyValue => {
    ws();
    const ch = text[i];
    if (ch === '{') return sequence('}', true) as Map<string, PyValue>;
    if (ch === '(') {
      const items = sequence(')', false) as PyValue[];
      return { tuple: items };
    }
    if (ch === '[') return sequence(']', false) as PyValue[];
    if (ch === "'" || ch === '"') return str();
    const word = /^(True|False|None|-?\d+)L?/.exec(text.slice(i));
    if (!word) return fail(ch === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(ch)}`);
    i += word[0].length;
    if (word[1] === 'True') return true;
    if (word[1] === 'False') return false;
    if (word[1] === 'None') return null;
    return Number(word[1]);
  };
  const sequence = (close: string, dict: boolean): PyValue[] | Map<string, PyValue> => {
    i++;
    const items: PyValue[] = [];
    const map = new Map<string, PyValue>();
    for (;;) {
      ws();
      if (text[i] === close) {
        i++;
        return dict ? map : items;
      }
      if (dict) {
        const key = value();
        if (typeof key !== 'string') fail('a dict key that is not a string');
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        map.set(key as string, value());
      } else items.push(value());
      ws();
      if (text[i] === ',') i++;
      else if (text[i] !== close) fail(`expected "," or "${close}"`);
    }
  };
  const str = (): string => {
    const quote = text[i++];
    let out = '';
    while (i < text.length && text[i] !== quote) {
      if (text[i] !== '\\') {
        out += text[i++];
        continue;
      }
      const e = text[i + 1];
      const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      if (hexLen) {
        out += String.fromCodePoint(parseInt(text.slice(i + 2, i + 2 + hexLen), 16));
        i += 2 + hexLen;
      } else {
        out += ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[e] ?? e;
        i += 2;
      }
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    return out;
  };
  const v = value();
  ws();
  if (i < text.length) fail('unexpected text after the dict');
  return v;
}

/** How Python would print it, for messages: ('<f4', (2,)) rather than [object Object]. */
function pyRepr(v: PyValue): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v === null) return 'None';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `'${k}': ${pyRepr(x)}`).join(', ')}}`;
  return v.tuple.length === 1 ? `(${pyRepr(v.tuple[0])},)` : `(${v.tuple.map(pyRepr).join(', ')})`;
}

export const shapeText = (shape: number[]): string => (shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`);

// --- header -----------------------------------------------------------------------------------

interface Header {
  type: NumericType;
  littleEndian: boolean;
  fortranOrder: boolean;
  shape: number[];
  dataOffset: number;
}

/** Reads the magic, version and header dict of the .npy bytes `buf`; `what` prefixes the messages. */
function readHeader(buf: Uint8Array, file: string, what: string): Header {
  const fail = (problem: string, expected: string, found?: string): never => {
    throw new DataError(file, `${what}${problem}`, expected, { found });
  };
  const magicOk = buf.length >= 6 && MAGIC.every((b, k) => buf[k] === b);
  if (!magicOk) {
    const start = [...buf.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    if (buf.length < 6 && MAGIC.slice(0, buf.length).every((b, k) => buf[k] === b))
      fail(
        `is truncated: it has ${buf.length} byte${buf.length === 1 ? '' : 's'}`,
        'a complete .npy file (save it again)',
      );
    if (buf[0] === ZIP_MAGIC[0] && buf[1] === ZIP_MAGIC[1])
      fail('is a zip archive (an .npz), not a .npy file', 'a .npy file written by np.save');
    fail(
      `is not a .npy file: it starts with the bytes ${start}`,
      'the .npy magic 93 4e 55 4d 50 59 ("\\x93NUMPY") of a file written by np.save',
      start,
    );
  }
  if (buf.length < 10)
    fail(`is truncated: it ends inside its header (${buf.length} bytes)`, 'a complete .npy file (save it again)');
  const major = buf[6];
  const minor = buf[7];
  if (![1, 2, 3].includes(major) || minor !== 0)
    fail(
      `has .npy format version ${major}.${minor}, which this reader does not know`,
      'format version 1.0, 2.0 or 3.0 (as np.save writes)',
      `${major}.${minor}`,
    );
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  const start = 8 + lengthBytes;
  if (buf.length < start)
    fail(`is truncated: it ends inside its header (${buf.length} bytes)`, 'a complete .npy file (save it again)');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (buf.length < start + headerLength)
    fail(
      `is truncated: it ends inside its header (the file has ${buf.length} bytes, the header ends at byte ${start + headerLength})`,
      'a complete .npy file (save it again)',
    );
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + headerLength));
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (err) {
    if (!(err instanceof PyLiteralError)) throw err;
    return fail(
      `has a header that is not a Python dict literal (${err.message})`,
      "a header such as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
      text.trim(),
    );
  }
  if (!(dict instanceof Map))
    return fail('has a header that is not a dict', "{'descr': ..., 'fortran_order': ..., 'shape': ...}", text.trim());
  const missing = ['descr', 'fortran_order', 'shape'].filter((k) => !dict.has(k));
  if (missing.length)
    fail(
      `has a header without ${missing.map((k) => `'${k}'`).join(', ')}`,
      "the keys 'descr', 'fortran_order' and 'shape'",
      text.trim(),
    );
  const fortran = dict.get('fortran_order');
  if (typeof fortran !== 'boolean')
    fail(`has 'fortran_order' ${pyRepr(fortran!)} in its header`, 'True or False', pyRepr(fortran!));
  const shapeValue = dict.get('shape')!;
  const shape =
    typeof shapeValue === 'object' && shapeValue !== null && 'tuple' in shapeValue ? shapeValue.tuple : undefined;
  if (!shape || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
    fail(
      `has 'shape' ${pyRepr(shapeValue)} in its header`,
      'a tuple of non-negative integers, e.g. (60000, 28, 28)',
      pyRepr(shapeValue),
    );
  const { type, littleEndian } = parseDescr(dict.get('descr')!, file, what);
  return {
    type,
    littleEndian,
    fortranOrder: fortran as boolean,
    shape: shape as number[],
    dataOffset: start + headerLength,
  };
}

function parseDescr(descr: PyValue, file: string, what: string): { type: NumericType; littleEndian: boolean } {
  const convert = 'convert it first, e.g. np.save(path, arr.astype(np.float32))';
  if (typeof descr !== 'string')
    throw new DataError(
      file,
      `${what}holds a structured array (dtype ${pyRepr(descr)}), which cannot be read`,
      `${SUPPORTED}; save each field as its own array (np.savez(path, a=arr['a'], ...))`,
      { found: pyRepr(descr) },
    );
  const m = /^([<>|=]?)([a-zA-Z])(\d*)(.*)$/.exec(descr);
  const order = m?.[1] ?? '';
  const kind = m?.[2] ?? '';
  const type = m && !m[4] ? NUMERIC[`${kind}${m[3]}`] : undefined;
  if (!type) {
    const refused = REFUSED_KINDS[kind];
    // Unpickling runs arbitrary code, so object arrays are refused even when they hold numbers.
    const why = kind === 'O' ? ' (its elements are pickled Python objects, and pickles are never loaded)' : '';
    throw new DataError(
      file,
      `${what}holds ${refused ?? 'an array of an unsupported dtype'} (dtype '${descr}'), which cannot be read${why}`,
      `${SUPPORTED}; ${convert}`,
      { found: descr },
    );
  }
  // '|' (no byte order) and '=' (the writer's native order; np.save never writes it) read as little-endian.
  return { type, littleEndian: order !== '>' };
}

// --- values -----------------------------------------------------------------------------------

/** IEEE 754 half to float32, exactly (every half is a float32). */
function halfToFloat32(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let k = 0; k < h.length; k++) {
    const v = h[k];
    const sign = v & 0x8000 ? -1 : 1;
    const exp = (v >> 10) & 0x1f;
    const frac = v & 0x3ff;
    if (exp === 0) out[k] = sign * frac * 2 ** -24;
    else if (exp === 31) out[k] = frac ? NaN : sign * Infinity;
    else out[k] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let k = 0; k < bytes.length; k += size)
    for (let a = k, b = k + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
}

/** Reorders Fortran-order (column-major) values of `shape` into C order, for any rank. */
function fortranToC<T extends NdData>(src: T, shape: number[]): T {
  const rank = shape.length;
  if (rank < 2 || src.length === 0) return src;
  const out = new (src.constructor as new (n: number) => T)(src.length);
  // Fortran strides: the first axis varies fastest.
  const stride = new Array<number>(rank);
  stride[0] = 1;
  for (let d = 1; d < rank; d++) stride[d] = stride[d - 1] * shape[d - 1];
  const index = new Array<number>(rank).fill(0);
  let from = 0;
  for (let to = 0; to < out.length; to++) {
    out[to] = src[from];
    // Advance the C-order multi-index (last axis fastest), keeping `from` in step.
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      from += stride[d];
      if (index[d] < shape[d]) break;
      from -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** Parses the bytes of one .npy file; `what` prefixes its messages ("" for a file, "member x.npy " in an archive). */
function parseNpy(buf: Uint8Array, file: string, what: string): NdArray {
  const header = readHeader(buf, file, what);
  const { type, shape } = header;
  const count = shape.reduce((a, b) => a * b, 1);
  const byteLength = count * type.size;
  const available = buf.length - header.dataOffset;
  const dtype = `${type.name}, ${header.littleEndian || type.size === 1 ? 'little' : 'big'}-endian`;
  if (available < byteLength)
    throw new DataError(
      file,
      `${what}is truncated: its header announces shape ${shapeText(shape)} of ${dtype} (${byteLength.toLocaleString('en-US')} bytes of values) but ${available.toLocaleString('en-US')} bytes follow the header`,
      'the complete file (save or copy it again)',
      { found: `${available} bytes` },
    );
  if (available > byteLength)
    throw new DataError(
      file,
      `${what}has ${(available - byteLength).toLocaleString('en-US')} bytes after the values of its shape ${shapeText(shape)} array (several np.save calls into one file?)`,
      'one array per .npy file (np.savez keeps several in one .npz)',
      { found: `${available} bytes` },
    );
  const start = buf.byteOffset + header.dataOffset;
  const swap = type.size > 1 && header.littleEndian !== hostLittleEndian;
  let values: NdData;
  // A view of the file's bytes when they need no swapping and are aligned (numpy aligns the values to 64 bytes).
  if (!swap && start % type.size === 0) values = type.make(buf.buffer, start, count);
  else {
    // A copy aligned for the typed array and free to be byte-swapped (a Buffer's slice is a view).
    const bytes = new Uint8Array(byteLength);
    bytes.set(buf.subarray(header.dataOffset, header.dataOffset + byteLength));
    if (swap) swapBytes(bytes, type.size);
    values = type.make(bytes.buffer, 0, count);
  }
  return { dtype: type.name, shape, data: header.fortranOrder ? fortranToC(values, shape) : values };
}

// --- files ------------------------------------------------------------------------------------

/** Reads a .npy file. Bad files raise DataError naming the file. */
export function readNpy(file: string): NdArray {
  return parseNpy(readDataFile(file, '.npy file'), file, '');
}

const isZip = (buf: Uint8Array) => buf.length >= 2 && buf[0] === ZIP_MAGIC[0] && buf[1] === ZIP_MAGIC[1];

/** The .npy members of an .npz archive (all, or those `wanted` accepts), by member name. */
function unzipNpz(buf: Uint8Array, file: string, wanted?: (key: string) => boolean): Record<string, Uint8Array> {
  if (!isZip(buf))
    throw new DataError(
      file,
      buf.length >= 6 && MAGIC.every((b, k) => buf[k] === b)
        ? 'is a .npy file, not an .npz archive'
        : 'is not an .npz archive (no zip signature)',
      'an archive written by np.savez or np.savez_compressed',
    );
  try {
    return unzipSync(buf, { filter: (f) => f.name.endsWith('.npy') && (!wanted || wanted(keyOf(f.name))) });
  } catch (err) {
    const reason = (err as Error).message;
    throw new DataError(
      file,
      `is not a readable .npz archive: the zip data is corrupt or truncated (${reason})`,
      'a complete archive written by np.savez or np.savez_compressed (save or copy it again)',
      { found: reason },
    );
  }
}

const keyOf = (member: string) => member.slice(0, -'.npy'.length);

/** Every array of an .npz archive, by key (the np.savez keyword, or arr_0, arr_1, ... for positional arrays). */
export function readNpz(file: string): Map<string, NdArray> {
  const members = unzipNpz(readDataFile(file, '.npz archive'), file);
  const arrays = new Map<string, NdArray>();
  for (const [name, bytes] of Object.entries(members).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    arrays.set(keyOf(name), parseNpy(bytes, file, `member ${name} `));
  return arrays;
}

/** The keys of an .npz archive without decompressing its arrays. */
function npzKeys(buf: Uint8Array, file: string): string[] {
  const keys: string[] = [];
  unzipNpz(buf, file, (key) => {
    keys.push(key);
    return false;
  });
  return keys.sort();
}

/**
 * One array: a .npy file, or the array `key` of an .npz archive (recognised by its content, not its
 * name). Without a key, an archive must hold exactly one array.
 */
export function loadNpyArray(ref: NpyRef): NdArray {
  const buf = readDataFile(ref.file, '.npy or .npz file');
  const keyField = ref.keyField ? ` (${ref.keyField})` : '';
  if (!isZip(buf)) {
    if (ref.key !== undefined)
      throw new DataError(
        ref.file,
        `is a .npy file (one array), but a key${keyField} "${ref.key}" was given`,
        'an .npz archive for a key, or no key for a .npy file',
      );
    return parseNpy(buf, ref.file, '');
  }
  const keys = npzKeys(buf, ref.file);
  if (keys.length === 0)
    throw new DataError(
      ref.file,
      'is an .npz archive without arrays',
      'an archive written by np.savez or np.savez_compressed',
    );
  let key = ref.key;
  if (key === undefined) {
    if (keys.length > 1)
      throw new DataError(
        ref.file,
        `holds ${keys.length} arrays (${keys.join(', ')}) and no key${keyField} says which one to use`,
        `a key${keyField} naming one of them`,
      );
    key = keys[0];
  } else if (!keys.includes(key))
    throw new DataError(
      ref.file,
      `has no array "${key}"${keyField}: it holds ${keys.join(', ')}`,
      'one of those keys (the keyword given to np.savez)',
    );
  const member = `${key}.npy`;
  const bytes = unzipNpz(buf, ref.file, (k) => k === key)[member];
  return parseNpy(bytes, ref.file, `member ${member} `);
}

/** "x.npz[images]" or "x.npy": where an array came from, for messages. */
export function describeRef(ref: NpyRef): string {
  return ref.key === undefined ? ref.file : `${ref.file}[${ref.key}]`;
}
