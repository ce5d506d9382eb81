/**
 * Decoded image folders cached on disk, so a second run over the same files skips decoding.
 *
 * One file per (folder, layout, preprocessing): `<cacheDir>/images/<slot>.bin`, replaced when
 * the folder's files change, so the cache holds one entry per folder and preprocessing instead
 * of growing with every edit. The entry's key hashes every file's relative path, size and mtime,
 * the preprocessing (size, channels, fit, class order) and the sharp and libvips versions; an
 * entry whose key differs, or that is truncated or fails its checksum, reads as absent.
 *
 * Layout: the 8-byte magic `DSIMGC01`, a uint32 (little-endian) header length, the header
 * (UTF-8 JSON: key, n, shape, sha256 of the pixels), zero padding to a multiple of 8, then the
 * pixels, `n * h * w * c` bytes (uint8, NHWC). Written atomically.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../fsutil.ts';

const MAGIC = 'DSIMGC01';
/** Bump when the key's description or the file layout changes: older entries are then never found. */
export const DECODE_CACHE_FORMAT = 1;
const SUBFOLDER = 'images';

export interface DecodeCacheEntry {
  key: string;
  n: number;
  shape: [number, number, number];
  pixels: Uint8Array;
}

interface Header {
  format: number;
  key: string;
  n: number;
  shape: [number, number, number];
  sha256: string;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** sha256 of a JSON-serialisable description. */
export function hashJson(value: unknown): string {
  return sha256(JSON.stringify(value));
}

/** The cache file for one folder with one preprocessing (`slot` is a hash of both). */
export function decodeCacheFile(cacheDir: string, slot: string): string {
  return path.join(cacheDir, SUBFOLDER, `${slot}.bin`);
}

/** The cached pixels for `key` in `file`, or undefined when absent, stale or damaged. Never throws. */
export function readDecodeCache(
  file: string,
  key: string,
  n: number,
  shape: [number, number, number],
): Uint8Array | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(12);
    if (fs.readSync(fd, head, 0, 12, 0) !== 12 || head.toString('latin1', 0, 8) !== MAGIC) return undefined;
    const headerLength = head.readUInt32LE(8);
    if (headerLength > 4096) return undefined;
    const headerBytes = Buffer.alloc(headerLength);
    if (fs.readSync(fd, headerBytes, 0, headerLength, 12) !== headerLength) return undefined;
    const header = JSON.parse(headerBytes.toString('utf8')) as Header;
    const bytes = n * shape[0] * shape[1] * shape[2];
    const offset = pixelOffset(headerLength);
    if (
      header.format !== DECODE_CACHE_FORMAT ||
      header.key !== key ||
      header.n !== n ||
      header.shape?.join('x') !== shape.join('x') ||
      size !== offset + bytes
    )
      return undefined;
    const pixels = new Uint8Array(bytes);
    for (let done = 0; done < bytes;) {
      const read = fs.readSync(fd, pixels, done, Math.min(bytes - done, 1 << 26), offset + done);
      if (read <= 0) return undefined;
      done += read;
    }
    return sha256(pixels) === header.sha256 ? pixels : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes (or replaces) the entry atomically; returns the bytes written. */
export function writeDecodeCache(file: string, entry: DecodeCacheEntry): number {
  const header: Header = {
    format: DECODE_CACHE_FORMAT,
    key: entry.key,
    n: entry.n,
    shape: entry.shape,
    sha256: sha256(entry.pixels),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(pixelOffset(json.length));
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(json.length, 8);
  json.copy(head, 12);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, [head, entry.pixels]);
  return head.length + entry.pixels.length;
}

/** Pixels start 8-byte aligned after the magic, the length and the header. */
function pixelOffset(headerLength: number): number {
  return Math.ceil((12 + headerLength) / 8) * 8;
}
