/**
 * Image folders: PNG, JPEG and WebP files decoded and resized with sharp (libvips) into one
 * uint8 NHWC array.
 *
 * Layouts: `classes` is torchvision's ImageFolder (`<dir>/<class>/**\/<image>`, the class index
 * is the sorted folder name order unless `classNames` gives it); `flat` is every image under
 * `<dir>`, recursively, without labels (unlabeled transfer sets). Hidden entries (names starting
 * with "."), Thumbs.db and desktop.ini are skipped; every other file must be an image.
 *
 * Preprocessing, as torchvision's default loader and transforms do it, so a model trained in
 * PyTorch on the same folder sees the same pixels: an alpha channel is dropped (PIL's
 * convert('RGB')); colour to grayscale is ITU-R 601 luma, L = (19595 R + 38470 G + 7471 B +
 * 2^15) >> 16 (PIL's convert('L')); grayscale to RGB repeats the channel; 16-bit images are
 * scaled to 8 bits; EXIF orientation is not applied. Resizing (only when the size differs) uses
 * libvips' lanczos3 with `fit`: `fill` stretches to height x width (transforms.Resize((h, w))),
 * `cover` scales the shorter side and crops the centre, `contain` scales the longer side and
 * pads with black.
 *
 * Every bad file (not an image, another format, corrupt, truncated, a CMYK JPEG)
 * is collected and reported at once in one BadImagesError.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataError } from './dataError.ts';
import { decodeCacheFile, hashJson, readDecodeCache, writeDecodeCache } from './decodeCache.ts';

export type ImageFit = 'fill' | 'cover' | 'contain';
export const IMAGE_FITS = ['fill', 'cover', 'contain'] as const satisfies readonly ImageFit[];

export interface ImageReadOptions {
  height: number;
  width: number;
  channels: 1 | 3;
  /** How an image of another aspect ratio is brought to height x width (default `fill`). */
  fit?: ImageFit;
  /** The config's cache folder; decoded pixels are kept under its `images/` subfolder. Undefined: no cache. */
  cacheDir?: string;
  /** `classes` layout: the class order (every name must be a subfolder, every subfolder named). Default: sorted folder names. */
  classNames?: string[];
}

export interface ImageFolder {
  /** n * h * w * c bytes, NHWC. */
  pixels: Uint8Array;
  /** `classes` layout: the class index of each image. */
  labels?: Int32Array;
  n: number;
  /** [height, width, channels]. */
  shape: [number, number, number];
  classNames?: string[];
  /** Absolute paths, in the order of `pixels`. */
  files: string[];
  /** True when the pixels came from the decode cache (nothing was decoded). */
  fromCache: boolean;
}

export interface BadImage {
  /** Absolute path. */
  file: string;
  /** What is wrong, written to follow the file name ("is truncated: ..."). */
  reason: string;
}

/** How many bad images the message lists; the rest are counted. All are in `images`. */
export const BAD_IMAGES_SHOWN = 20;

/** Bad images of a folder, all of them at once; the message lists the first BAD_IMAGES_SHOWN. */
export class BadImagesError extends DataError {
  constructor(
    dir: string,
    readonly images: BadImage[],
  ) {
    const shown = images.slice(0, BAD_IMAGES_SHOWN).map((b) => `\n  ${path.relative(dir, b.file)}: ${b.reason}`);
    const more = images.length > BAD_IMAGES_SHOWN ? `\n  ... and ${images.length - BAD_IMAGES_SHOWN} more` : '';
    super(
      dir,
      `${images.length} image${images.length === 1 ? '' : 's'} cannot be used (fix or remove ${images.length === 1 ? 'it' : 'them'}; the run does not start):${shown.join('')}${more}`,
    );
  }
}

const SUPPORTED = ['png', 'jpeg', 'webp'] as const;
type Supported = (typeof SUPPORTED)[number];
const FORMAT_NAMES: Record<string, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };
const EXPECTED_FORMATS = 'a PNG, JPEG or WebP image';
/** Files the operating system leaves in folders; never images. */
const OS_FILES = new Set(['thumbs.db', 'desktop.ini']);
/** Files decoded at once: enough to keep libuv's threads (4 by default) busy, few enough to bound memory. */
const DECODE_CONCURRENCY = Math.max(4, Math.min(16, os.availableParallelism() * 2));

type SharpModule = typeof import('sharp');
let sharpModule: SharpModule | undefined;

/** sharp is loaded on first use, so runs on other data never need its native binary. */
function loadSharp(): SharpModule {
  if (sharpModule) return sharpModule;
  try {
    sharpModule = require('sharp') as SharpModule;
  } catch (err) {
    throw new DataError(
      'sharp',
      `the image decoder (the sharp package) does not load: ${(err as Error).message.split('\n')[0]}`,
      'sharp with its prebuilt libvips for this platform (reinstall Distill Studio)',
    );
  }
  sharpModule.cache(false); // every file is decoded once: libvips' operation cache would only hold memory
  return sharpModule;
}

/** Reads a folder of images into one array (see the module comment); bad input raises DataError. */
export async function readImageFolder(
  dir: string,
  options: ImageReadOptions,
  layout: 'classes' | 'flat',
  onProgress?: (done: number, total: number) => void,
): Promise<ImageFolder> {
  const root = path.resolve(dir);
  const fit = options.fit ?? 'fill';
  const listing = layout === 'classes' ? listClasses(root, options.classNames) : listFlat(root);
  const { files, labels, classNames } = listing;
  const shape: [number, number, number] = [options.height, options.width, options.channels];
  const per = shape[0] * shape[1] * shape[2];
  const sharp = loadSharp();

  const preprocessing = { layout, shape, fit, classNames: classNames ?? null };
  const versions = { sharp: sharp.versions.sharp, vips: sharp.versions.vips };
  const cacheFile =
    options.cacheDir && decodeCacheFile(options.cacheDir, hashJson({ root, ...preprocessing }).slice(0, 32));
  const key = cacheFile
    ? hashJson({
        ...preprocessing,
        versions,
        files: files.map((f) => {
          const st = fs.statSync(f, { throwIfNoEntry: false });
          return [path.relative(root, f), st?.size ?? -1, st?.mtimeMs ?? -1];
        }),
      })
    : '';
  const result = (pixels: Uint8Array, fromCache: boolean): ImageFolder => ({
    pixels,
    labels,
    n: files.length,
    shape,
    classNames,
    files,
    fromCache,
  });
  if (cacheFile) {
    const cached = readDecodeCache(cacheFile, key, files.length, shape);
    if (cached) return result(cached, true);
  }

  const pixels = new Uint8Array(files.length * per);
  const bad: Array<BadImage & { index: number }> = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const outcome = await decodeImage(sharp, files[i], shape, fit);
      if (typeof outcome === 'string') bad.push({ index: i, file: files[i], reason: outcome });
      else pixels.set(outcome, i * per);
      onProgress?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(DECODE_CONCURRENCY, files.length) }, worker));
  if (bad.length > 0) {
    bad.sort((a, b) => a.index - b.index);
    throw new BadImagesError(
      root,
      bad.map(({ file, reason }) => ({ file, reason })),
    );
  }
  if (cacheFile) {
    try {
      writeDecodeCache(cacheFile, { key, n: files.length, shape, pixels });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DataError(
        path.dirname(cacheFile),
        `the decoded images cannot be written to the cache (${code ?? (err as Error).message})`,
        'a writable cache folder (the config\'s "cache.dir")',
      );
    }
  }
  return result(pixels, false);
}

interface Listing {
  files: string[];
  labels?: Int32Array;
  classNames?: string[];
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const skipped = (name: string) => name.startsWith('.') || OS_FILES.has(name.toLowerCase());

function readFolder(dir: string, what: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new DataError(dir, `the ${what} does not exist`, 'a folder at this path (relative to the config file)', {
        found: code,
      });
    if (code === 'ENOTDIR') throw new DataError(dir, 'is a file', `a folder (the ${what})`, { found: code });
    throw new DataError(dir, `cannot be read (${code ?? (err as Error).message})`, `a readable ${what}`, {
      found: code,
    });
  }
}

/** Is the entry a folder (symbolic links followed; broken links count as files, reported as unreadable). */
function isFolder(dir: string, entry: fs.Dirent): boolean {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  try {
    return fs.statSync(path.join(dir, entry.name)).isDirectory();
  } catch {
    return false;
  }
}

/** Every non-skipped file under `dir`, recursively, sorted by relative path. Linked folders are followed once. */
function filesUnder(dir: string, seen = new Set<string>()): string[] {
  const real = fs.realpathSync(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  const out: string[] = [];
  for (const entry of readFolder(dir, 'image folder').sort((a, b) => byName(a.name, b.name))) {
    if (skipped(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (isFolder(dir, entry)) out.push(...filesUnder(full, seen));
    else out.push(full);
  }
  return out;
}

function listFlat(root: string): Listing {
  const files = filesUnder(root);
  if (files.length === 0)
    throw new DataError(root, 'has no images', `${EXPECTED_FORMATS} files in the folder or its subfolders`);
  return { files };
}

function listClasses(root: string, order: string[] | undefined): Listing {
  const entries = readFolder(root, 'image folder').filter((e) => !skipped(e.name));
  const folders = entries.filter((e) => isFolder(root, e)).map((e) => e.name);
  folders.sort(byName);
  if (folders.length === 0) {
    const loose = entries.length;
    throw new DataError(
      root,
      `has no class subfolders${loose ? ` (it holds ${loose} file${loose === 1 ? '' : 's'} directly)` : ''}`,
      'one subfolder per class with its images, e.g. <folder>/cat/001.png and <folder>/dog/002.png',
    );
  }
  let classNames = folders;
  if (order) {
    const missing = order.filter((c) => !folders.includes(c));
    const unnamed = folders.filter((f) => !order.includes(f));
    if (missing.length || unnamed.length)
      throw new DataError(
        root,
        [
          missing.length ? `has no subfolder for class${missing.length === 1 ? '' : 'es'} ${missing.join(', ')}` : '',
          unnamed.length
            ? `has subfolder${unnamed.length === 1 ? '' : 's'} ${unnamed.join(', ')} that "classes" does not name`
            : '',
        ]
          .filter(Boolean)
          .join(' and '),
        `one subfolder for each name in "classes" (${order.join(', ')}) and no other`,
      );
    classNames = order;
  }
  const files: string[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  classNames.forEach((name, k) => {
    const inClass = filesUnder(path.join(root, name));
    if (inClass.length === 0) empty.push(name);
    files.push(...inClass);
    for (let i = 0; i < inClass.length; i++) labels.push(k);
  });
  if (empty.length)
    throw new DataError(
      root,
      `has ${empty.length === 1 ? 'an empty class folder' : `${empty.length} empty class folders`}: ${empty.join(', ')}`,
      'at least one image in every class folder (remove the empty ones)',
    );
  return { files, labels: Int32Array.from(labels), classNames };
}

/** The format a file's first bytes say it has, or undefined. */
export function sniffFormat(b: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 2 && ascii(0, 2) === 'BM') return 'bmp';
  if (b.length >= 4 && (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*')) return 'tiff';
  if (b.length >= 12 && ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (brand.startsWith('avi')) return 'avif';
    if (['heic', 'heix', 'mif1', 'msf1', 'hevc', 'heim', 'heis'].includes(brand)) return 'heic';
  }
  if (b.length >= 12 && b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0x0c && ascii(4, 8) === 'jP  ')
    return 'jpeg2000';
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0) return 'ico';
  if (b.length >= 4 && ascii(0, 4) === '%PDF') return 'pdf';
  if (b.length >= 4 && ascii(0, 4) === 'qoif') return 'qoi';
  const text = ascii(0, Math.min(b.length, 256)).trimStart();
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i.test(text)) return 'svg';
  return undefined;
}

/** A reason when the container says the file is cut short; undefined when it looks whole. */
function truncation(format: Supported, b: Uint8Array): string | undefined {
  if (format === 'png') {
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let at = 8; ;) {
      if (at + 8 > b.length) return `is truncated: the PNG data ends at byte ${b.length}, before its IEND chunk`;
      const length = view.getUint32(at);
      const type = String.fromCharCode(...b.subarray(at + 4, at + 8));
      if (at + 12 + length > b.length)
        return `is truncated: its ${type} chunk needs ${length} bytes at byte ${at + 8}, but the file has ${b.length} bytes`;
      if (type === 'IEND') return undefined;
      at += 12 + length;
    }
  }
  if (format === 'webp') {
    const declared = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4, true) + 8;
    if (declared > b.length)
      return `is truncated: its RIFF header says ${declared} bytes, but the file has ${b.length}`;
  }
  return undefined;
}

/** JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): not DHT (C4), JPG (C8) or DAC (CC). */
const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/**
 * Whether the image is grayscale, read from its header (cheaper than a libvips metadata call):
 * PNG colour types 0 and 4; a JPEG frame with one component; WebP is always colour. A reason
 * when its channels are neither grayscale nor RGB (a 4-component JPEG: CMYK or YCCK).
 */
function grayOrReason(format: Supported, b: Uint8Array, name: string): boolean | string {
  if (format === 'png') return b.length > 25 && (b[25] === 0 || b[25] === 4);
  if (format === 'webp') return false;
  for (let at = 2; at + 4 <= b.length;) {
    if (b[at] !== 0xff) return `is a corrupt ${name} file (no marker at byte ${at})`;
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // scan data before any frame header
    const length = (b[at + 2] << 8) | b[at + 3];
    if (JPEG_SOF.has(marker)) {
      if (at + 10 > b.length) return `is truncated: the ${name} data ends inside its frame header`;
      const components = b[at + 9];
      if (components === 1) return true;
      if (components === 3) return false;
      return `has ${components} colour components${components === 4 ? ' (CMYK or YCCK)' : ''}; expected grayscale or RGB, with or without alpha (convert it to RGB)`;
    }
    at += 2 + length;
  }
  return `is a corrupt ${name} file (no frame header before the image data)`;
}

/** The image's pixels at [h, w, c], or the reason it cannot be used. */
async function decodeImage(
  sharp: SharpModule,
  file: string,
  [height, width, channels]: [number, number, number],
  fit: ImageFit,
): Promise<Uint8Array | string> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  if (bytes.length === 0) return `is empty (0 bytes); expected ${EXPECTED_FORMATS}`;
  const format = sniffFormat(bytes);
  if (!format) {
    const head = [...bytes.subarray(0, 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
    return `is not an image (its first bytes are ${head}); expected ${EXPECTED_FORMATS}`;
  }
  if (!(SUPPORTED as readonly string[]).includes(format))
    return `is ${/^[aeiou]/.test(format) ? 'an' : 'a'} ${format.toUpperCase()} image; expected ${EXPECTED_FORMATS} (convert it, or remove it)`;
  const name = FORMAT_NAMES[format];
  const cut = truncation(format as Supported, bytes);
  if (cut) return cut;
  const isGray = grayOrReason(format as Supported, bytes, name);
  if (typeof isGray === 'string') return isGray;
  try {
    // No alpha (PIL's convert), then the size, then 8-bit gray or sRGB (16-bit values are scaled).
    const decodeAs = channels === 3 || !isGray ? 'srgb' : 'b-w';
    const { data, info } = await sharp(bytes, { failOn: 'error' })
      .removeAlpha()
      .resize(width, height, { fit, background: { r: 0, g: 0, b: 0 } }) // no-op at the same size
      .toColourspace(decodeAs)
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const expected = decodeAs === 'srgb' ? 3 : 1;
    if (info.channels !== expected || info.width !== width || info.height !== height)
      return `decoded to ${info.width}x${info.height} with ${info.channels} channels, not ${width}x${height} with ${expected}; expected ${EXPECTED_FORMATS}`;
    if (channels === 3 || decodeAs === 'b-w') return data;
    // Colour wanted as grayscale: PIL's integer ITU-R 601 luma.
    const gray = new Uint8Array(width * height);
    for (let p = 0; p < gray.length; p++)
      gray[p] = (19595 * data[3 * p] + 38470 * data[3 * p + 1] + 7471 * data[3 * p + 2] + 0x8000) >>> 16;
    return gray;
  } catch (err) {
    const message = (err as Error).message.replace(/\s+/g, ' ').trim();
    // libvips's error text can be lost when decodes run concurrently ("Unknown error"), so a JPEG
    // without its end-of-image marker is called truncated from its bytes too.
    const noEndMarker = name === 'JPEG' && !(bytes.at(-2) === 0xff && bytes.at(-1) === 0xd9);
    if (/premature end|truncat|unexpected end/i.test(message) || noEndMarker)
      return `is truncated: the ${name} data ends early (${noEndMarker ? 'no end-of-image marker; ' : ''}${message})`;
    return `is a corrupt ${name} file (${message})`;
  }
}
