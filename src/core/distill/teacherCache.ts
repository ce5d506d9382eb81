/**
 * Teacher outputs cached on disk (offline KD): the teacher's logits for train / validation / test,
 * and named training-split features, computed once and reused by later runs that would compute
 * exactly the same thing. The key hashes the teacher's bytes, the inputs exactly as the teacher
 * sees them (every byte of every split), the feature names, topK, the tfjs backend that computed
 * them (CacheKeyParts.backend) and, for an ONNX teacher, the execution provider
 * (CacheKeyParts.provider), so a stale entry is never found; a damaged one (wrong size, checksum, edited manifest) reads as absent.
 *
 * Layout: `<cacheDir>/<key>/manifest.json` (format version, key, shapes, topK, sections with their
 * byte ranges, sha256 of the payload and of the manifest itself, free `meta`) and
 * `<cacheDir>/<key>/payload.bin` (little-endian sections, each 4-byte aligned), written atomically.
 *
 * Top-k logits (DistillKit's compressed logits): per example the k largest logits (float32 values
 * + uint16 indices, int32 beyond 65,536 classes) and one fill value for the other K - k classes,
 *     fill = log((sum_all exp(l) - sum_topk exp(l)) / (K - k)),
 * computed relative to the largest of the other logits, so it neither cancels nor underflows.
 * Reading rebuilds full rows (the fill in every other class). softmax at T = 1 of a rebuilt row
 * gives exactly the stored top-k probabilities (to float32 rounding) and spreads the remaining
 * mass evenly over the other classes; at other temperatures the result is approximate (the
 * remaining classes' spread is lost). Argmax and the order of the top k are preserved. A row whose
 * other logits are all -Infinity (no remaining mass) gets fill = row max - 1000. topK >= K means
 * full storage. Features are always stored in full: top-k applies to logits only.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeDirAtomic } from '../fsutil.ts';

/** Bump when the key's description or the files' layout changes: older entries are then never found. */
export const TEACHER_CACHE_FORMAT = 1;
const FORMAT_NAME = 'distill-teacher-outputs';
const MANIFEST = 'manifest.json';
const PAYLOAD = 'payload.bin';
/** fill below the row max when the other classes have no probability mass at all. */
const EMPTY_FILL_GAP = 1000;

export interface TeacherOutputs {
  logits: { train: Float32Array; validation: Float32Array; test: Float32Array };
  numClasses: number;
  /** Training-split features by name, NHWC for images. */
  features: Record<string, { data: Float32Array; shape: number[] }>;
}

export interface CacheKeyParts {
  /** sha256 hex of the teacher's bytes (see hashFiles). */
  teacherHash: string;
  /** The preprocessed inputs exactly as the teacher sees them, per split (their bytes are hashed: any change of data, split, limit, normalisation or seed changes the key). */
  inputs: { train: Float32Array; validation: Float32Array; test: Float32Array };
  featureNames: string[];
  /** Keep only the top-k logits per example (undefined = all). */
  topK?: number;
  /**
   * Anything else that changes what the teacher computes from the same bytes and inputs (for an
   * ONNX teacher: layout, logits output name, the per-example data shape); JSON-serialisable.
   */
  teacherOptions?: unknown;
  /**
   * ONNX teachers: the onnxruntime execution provider that computes the outputs. In the key
   * because outputs are not provider-independent: webgpu differs from cpu in the last float32
   * bits (relative |diff| up to ~1.2e-7 on the test fixtures), and onnxruntime's CUDA provider
   * computes MatMul and Conv in TF32 by default on Ampere and newer GPUs (its use_tf32 option,
   * which onnxruntime-node does not expose), ~1e-3 relative. Outputs cached on one provider
   * standing in for another would make a rerun train another student than the same run
   * recomputed. Left out of the key when undefined, so other teachers' keys are unchanged.
   */
  provider?: string;
  /**
   * The tfjs backend that computes what is cached with tfjs: a tfjs teacher's logits and layer
   * outputs, and an ONNX teacher's attention maps. In the key for the same reason as `provider`:
   * backends differ in the last bits (the demo teacher's logits differ between cpu and wasm, see
   * the README), so outputs cached on one would train another student than recomputing on the
   * other. Left out of the key when undefined (an ONNX teacher whose outputs tfjs only copies).
   */
  backend?: { name: string; device: string; adapter?: string };
}

const SPLITS = ['train', 'validation', 'test'] as const;
type SplitName = (typeof SPLITS)[number];

const bytesOf = (a: Float32Array | Uint16Array | Int32Array): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * sha256 over (name relative to the first file's folder, length, bytes) of each file in order:
 * for a tfjs model its model.json and weight files, for ONNX the .onnx file. Read in 1 MiB chunks.
 */
export function hashFiles(files: string[]): string {
  const hash = createHash('sha256');
  hash.update(`${FORMAT_NAME} files ${files.length}\n`);
  const base = files.length > 0 ? path.dirname(path.resolve(files[0])) : '';
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (const file of files) {
    const rel = path.relative(base, path.resolve(file)).split(path.sep).join('/');
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      hash.update(`${JSON.stringify(rel)} ${size}\n`);
      let read = 0;
      for (;;) {
        const got = fs.readSync(fd, chunk, 0, chunk.length, null);
        if (got === 0) break;
        hash.update(chunk.subarray(0, got));
        read += got;
      }
      if (read !== size) throw new Error(`${file}: changed while it was hashed (${size} bytes expected, ${read} read)`);
    } finally {
      fs.closeSync(fd);
    }
  }
  return hash.digest('hex');
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Hex sha256 of a canonical description of everything the cached outputs depend on. */
export function teacherCacheKey(parts: CacheKeyParts): string {
  if (parts.topK !== undefined && !(Number.isInteger(parts.topK) && parts.topK >= 1))
    throw new RangeError(`topK must be a positive integer, got ${parts.topK}`);
  const description = {
    format: FORMAT_NAME,
    version: TEACHER_CACHE_FORMAT,
    teacherHash: parts.teacherHash,
    inputs: Object.fromEntries(
      SPLITS.map((s) => [s, { values: parts.inputs[s].length, sha256: sha256(bytesOf(parts.inputs[s])) }]),
    ),
    // The features are stored by name: their order does not matter.
    featureNames: [...new Set(parts.featureNames)].sort(),
    topK: parts.topK ?? null,
    teacherOptions: parts.teacherOptions ?? null,
    ...(parts.provider !== undefined ? { provider: parts.provider } : {}),
    ...(parts.backend !== undefined ? { backend: parts.backend } : {}),
  };
  return createHash('sha256').update(JSON.stringify(description)).digest('hex');
}

type Dtype = 'float32' | 'uint16' | 'int32';
interface Section {
  name: string;
  dtype: Dtype;
  offset: number;
  length: number;
}

interface Manifest {
  format: string;
  version: number;
  key: string;
  endianness: 'LE' | 'BE';
  numClasses: number;
  /** Effective k, or null when all logits are stored. */
  topK: number | null;
  examples: Record<SplitName, number>;
  features: Array<{ name: string; shape: number[] }>;
  sections: Section[];
  payloadBytes: number;
  payloadSha256: string;
  meta: Record<string, unknown>;
  /** sha256 of this manifest's JSON without this field: any edit makes the entry absent. */
  manifestSha256?: string;
}

const DTYPE_SIZE: Record<Dtype, number> = { float32: 4, uint16: 2, int32: 4 };

/** Top-k compression of one split's logits: values, indices and one fill per row. */
export function compressTopK(
  logits: Float32Array,
  numClasses: number,
  k: number,
): { values: Float32Array; indices: Uint16Array | Int32Array; fill: Float32Array } {
  const n = logits.length / numClasses;
  const values = new Float32Array(n * k);
  const indices = numClasses <= 65536 ? new Uint16Array(n * k) : new Int32Array(n * k);
  const fill = new Float32Array(n);
  const inTop = new Uint8Array(numClasses);
  const all = Array.from({ length: numClasses }, (_, c) => c);
  const top: number[] = [];
  for (let r = 0; r < n; r++) {
    const row = logits.subarray(r * numClasses, (r + 1) * numClasses);
    // Largest first, ties by class index (so argmax keeps the first maximum).
    top.length = 0;
    if (k <= 64) {
      // Insertion into a sorted list of at most k: O(K k), far below a sort for the usual small k.
      for (let c = 0; c < numClasses; c++) {
        const v = row[c];
        if (top.length === k && !(v > row[top[k - 1]])) continue;
        let j = Math.min(top.length, k - 1);
        while (j > 0 && v > row[top[j - 1]]) {
          top[j] = top[j - 1];
          j--;
        }
        top[j] = c;
      }
    } else top.push(...[...all].sort((a, b) => row[b] - row[a] || a - b).slice(0, k));
    inTop.fill(0);
    top.forEach((c, j) => {
      values[r * k + j] = row[c];
      indices[r * k + j] = c;
      inTop[c] = 1;
    });
    let restMax = -Infinity;
    for (let c = 0; c < numClasses; c++) if (!inTop[c] && row[c] > restMax) restMax = row[c];
    let f: number;
    if (restMax === -Infinity || !Number.isFinite(restMax)) f = row[top[0]] - EMPTY_FILL_GAP;
    else {
      let rest = 0; // sum over the other classes of exp(l - restMax): >= 1, so no underflow
      for (let c = 0; c < numClasses; c++) if (!inTop[c]) rest += Math.exp(row[c] - restMax);
      f = restMax + Math.log(rest / (numClasses - k));
    }
    fill[r] = f;
  }
  return { values, indices, fill };
}

/** Full logits rows back from top-k values, indices and fills. */
export function expandTopK(
  values: Float32Array,
  indices: Uint16Array | Int32Array,
  fill: Float32Array,
  numClasses: number,
  k: number,
): Float32Array {
  const n = fill.length;
  const out = new Float32Array(n * numClasses);
  for (let r = 0; r < n; r++) {
    out.fill(fill[r], r * numClasses, (r + 1) * numClasses);
    for (let j = 0; j < k; j++) out[r * numClasses + indices[r * k + j]] = values[r * k + j];
  }
  return out;
}

const validKey = (key: string) => /^[A-Za-z0-9_-]+$/.test(key);

function manifestHash(m: Manifest): string {
  const { manifestSha256: _, ...rest } = m;
  return sha256(Buffer.from(JSON.stringify(rest)));
}

/**
 * Writes the outputs atomically to `<cacheDir>/<key>/`; returns the bytes written (manifest and
 * payload), the folder, and `stored`: the outputs exactly as `readTeacherCache` returns them
 * (with top-k, the rebuilt rows), so that the run that writes an entry trains on the same targets
 * as every run, and every resume, that reads it. An existing entry for the key is kept when it
 * reads back whole (another process wrote the same outputs first); a damaged one is replaced.
 */
export function writeTeacherCache(
  cacheDir: string,
  key: string,
  outputs: TeacherOutputs,
  topK: number | undefined,
  meta: Record<string, unknown>,
): { bytes: number; dir: string; stored: TeacherOutputs } {
  const K = outputs.numClasses;
  if (!(Number.isInteger(K) && K >= 1)) throw new RangeError(`numClasses must be a positive integer, got ${K}`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1))
    throw new RangeError(`topK must be a positive integer, got ${topK}`);
  if (!validKey(key))
    throw new RangeError(
      `cache key must be a folder name of letters, digits, '-' and '_' (a teacherCacheKey), got "${key}"`,
    );
  const k = topK !== undefined && topK < K ? topK : null;

  const parts: Array<{ name: string; dtype: Dtype; data: Float32Array | Uint16Array | Int32Array }> = [];
  const examples = {} as Record<SplitName, number>;
  const storedLogits = { ...outputs.logits };
  for (const s of SPLITS) {
    const l = outputs.logits[s];
    if (l.length % K !== 0) throw new RangeError(`${s} logits: ${l.length} values is not a multiple of ${K} classes`);
    examples[s] = l.length / K;
    if (k === null) parts.push({ name: `logits.${s}`, dtype: 'float32', data: l });
    else {
      const c = compressTopK(l, K, k);
      storedLogits[s] = expandTopK(c.values, c.indices, c.fill, K, k);
      parts.push({ name: `logits.${s}.values`, dtype: 'float32', data: c.values });
      parts.push({
        name: `logits.${s}.indices`,
        dtype: c.indices instanceof Uint16Array ? 'uint16' : 'int32',
        data: c.indices,
      });
      parts.push({ name: `logits.${s}.fill`, dtype: 'float32', data: c.fill });
    }
  }
  const features = Object.entries(outputs.features).map(([name, f]) => {
    if (f.data.length !== f.shape.reduce((a, b) => a * b, 1))
      throw new RangeError(`feature "${name}": ${f.data.length} values do not fill shape [${f.shape.join(', ')}]`);
    parts.push({ name: `feature.${name}`, dtype: 'float32', data: f.data });
    return { name, shape: [...f.shape] };
  });

  const sections: Section[] = [];
  let offset = 0;
  for (const p of parts) {
    offset = Math.ceil(offset / 4) * 4;
    sections.push({ name: p.name, dtype: p.dtype, offset, length: p.data.length });
    offset += p.data.byteLength;
  }
  const payloadBytes = Math.ceil(offset / 4) * 4;
  const payload = new Uint8Array(payloadBytes);
  parts.forEach((p, i) => payload.set(bytesOf(p.data), sections[i].offset));

  const manifest: Manifest = {
    format: FORMAT_NAME,
    version: TEACHER_CACHE_FORMAT,
    key,
    endianness: os.endianness(),
    numClasses: K,
    topK: k,
    examples,
    features,
    sections,
    payloadBytes,
    payloadSha256: sha256(payload),
    meta: { createdAt: new Date().toISOString(), ...meta },
  };
  manifest.manifestSha256 = manifestHash(manifest);
  const manifestText = `${JSON.stringify(manifest, null, 1)}\n`;
  const dir = path.join(cacheDir, key);
  // The key names the contents, so an entry another process (a Slurm array task of the same data)
  // wrote first and that reads back whole is as good as this one: keep it.
  writeDirAtomic(
    dir,
    (tmp) => {
      fs.writeFileSync(path.join(tmp, PAYLOAD), payload);
      fs.writeFileSync(path.join(tmp, MANIFEST), manifestText);
    },
    { isComplete: () => readTeacherCache(cacheDir, key) !== undefined },
  );
  return {
    bytes: payloadBytes + Buffer.byteLength(manifestText),
    dir,
    stored: { numClasses: K, logits: storedLogits, features: outputs.features },
  };
}

function isManifest(m: unknown): m is Manifest {
  const o = m as Manifest;
  return (
    !!o &&
    typeof o === 'object' &&
    o.format === FORMAT_NAME &&
    o.version === TEACHER_CACHE_FORMAT &&
    Number.isInteger(o.numClasses) &&
    o.numClasses >= 1 &&
    (o.topK === null || (Number.isInteger(o.topK) && o.topK >= 1 && o.topK < o.numClasses)) &&
    !!o.examples &&
    SPLITS.every((s) => Number.isInteger(o.examples[s]) && o.examples[s] >= 0) &&
    Array.isArray(o.features) &&
    o.features.every(
      (f) =>
        typeof f?.name === 'string' && Array.isArray(f.shape) && f.shape.every((d) => Number.isInteger(d) && d >= 0),
    ) &&
    Array.isArray(o.sections) &&
    o.sections.every(
      (s) =>
        typeof s?.name === 'string' &&
        s.dtype in DTYPE_SIZE &&
        Number.isInteger(s.offset) &&
        s.offset >= 0 &&
        s.offset % 4 === 0 &&
        Number.isInteger(s.length) &&
        s.length >= 0,
    ) &&
    Number.isInteger(o.payloadBytes) &&
    typeof o.payloadSha256 === 'string'
  );
}

/**
 * The cached outputs for `key`, or undefined when there are none or the entry is unusable
 * (missing or truncated file, checksum mismatch, edited manifest, other format version or
 * byte order). Never throws for a bad entry; a later write replaces it.
 */
export function readTeacherCache(cacheDir: string, key: string): TeacherOutputs | undefined {
  try {
    if (!validKey(key)) return undefined;
    const dir = path.join(cacheDir, key);
    const manifest: unknown = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8'));
    if (
      !isManifest(manifest) ||
      manifest.key !== key ||
      manifest.endianness !== os.endianness() ||
      manifest.manifestSha256 !== manifestHash(manifest)
    )
      return undefined;
    const payloadFile = path.join(dir, PAYLOAD);
    if (fs.statSync(payloadFile).size !== manifest.payloadBytes) return undefined;
    const payload = fs.readFileSync(payloadFile);
    if (payload.length !== manifest.payloadBytes || sha256(payload) !== manifest.payloadSha256) return undefined;

    const sections = new Map(manifest.sections.map((s) => [s.name, s]));
    const get = <T extends Float32Array | Uint16Array | Int32Array>(name: string, dtype: Dtype, length: number): T => {
      const s = sections.get(name);
      if (!s || s.dtype !== dtype || s.length !== length || s.offset + length * DTYPE_SIZE[dtype] > payload.length)
        throw new Error(`section ${name}`);
      const bytes = payload.buffer.slice(
        payload.byteOffset + s.offset,
        payload.byteOffset + s.offset + length * DTYPE_SIZE[dtype],
      );
      return (
        dtype === 'float32'
          ? new Float32Array(bytes)
          : dtype === 'uint16'
            ? new Uint16Array(bytes)
            : new Int32Array(bytes)
      ) as T;
    };
    const K = manifest.numClasses;
    const k = manifest.topK;
    const logits = {} as TeacherOutputs['logits'];
    for (const s of SPLITS) {
      const n = manifest.examples[s];
      if (k === null) logits[s] = get<Float32Array>(`logits.${s}`, 'float32', n * K);
      else {
        const indexType = sections.get(`logits.${s}.indices`)?.dtype === 'int32' ? 'int32' : 'uint16';
        const indices = get<Uint16Array | Int32Array>(`logits.${s}.indices`, indexType, n * k);
        if (indices.some((c) => c >= K)) return undefined;
        logits[s] = expandTopK(
          get<Float32Array>(`logits.${s}.values`, 'float32', n * k),
          indices,
          get<Float32Array>(`logits.${s}.fill`, 'float32', n),
          K,
          k,
        );
      }
    }
    const features: TeacherOutputs['features'] = {};
    for (const f of manifest.features)
      features[f.name] = {
        data: get<Float32Array>(
          `feature.${f.name}`,
          'float32',
          f.shape.reduce((a, b) => a * b, 1),
        ),
        shape: f.shape,
      };
    return { logits, numClasses: K, features };
  } catch {
    return undefined;
  }
}
