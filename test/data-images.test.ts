import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { readIdxPair } from '../src/core/data/idx.ts';
import { BadImagesError, readImageFolder, type ImageReadOptions } from '../src/core/data/images.ts';
import { loadDataset } from '../src/core/data/dataset.ts';
import { DataError } from '../src/core/data/dataError.ts';
import { dataSchema } from '../src/core/config/schema.ts';
import { demoDataDir } from '../src/core/paths.ts';
import { decodeProgressPrinter } from '../src/trainer/decodeProgress.ts';
import { root, runCli, tempDir, writeConfig, smallConfig } from './helpers/cli.ts';

const FASHION = [
  'T-shirt_top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle_boot',
];
const dir = tempDir('images');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The first `perClass` demo training images of each class: pixels (28x28 bytes) and label. */
const demo = (() => {
  const data = path.join(demoDataDir());
  const pair = readIdxPair(
    path.join(data, 'train-images-idx3-ubyte.gz'),
    path.join(data, 'train-labels-idx1-ubyte.gz'),
  );
  const take = (perClass: number) => {
    const out: Array<{ pixels: Uint8Array; label: number; index: number }> = [];
    const counts = new Array(10).fill(0);
    for (let i = 0; i < pair.n && out.length < perClass * 10; i++)
      if (counts[pair.labels[i]]++ < perClass)
        out.push({
          pixels: (pair.images as Uint8Array).slice(i * 784, (i + 1) * 784),
          label: pair.labels[i],
          index: i,
        });
    return out;
  };
  return { take };
})();

const gray = (pixels: Uint8Array, w = 28, h = 28) =>
  sharp(pixels, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w');
const rgbOf = (pixels: Uint8Array, w = 28, h = 28) => sharp(pixels, { raw: { width: w, height: h, channels: 3 } });

/** A colour version of a gray image: the three channels differ, so grayscale conversion is visible. */
function tint(g: Uint8Array): Uint8Array {
  const out = new Uint8Array(g.length * 3);
  for (let p = 0; p < g.length; p++) {
    out[3 * p] = g[p];
    out[3 * p + 1] = 255 - g[p];
    out[3 * p + 2] = g[p] >> 1;
  }
  return out;
}

type Encoded = { file: string; pixels: Uint8Array; label: number };

/** Writes demo images as `<folder>/<class>/<index>.<ext>`; returns them in the reader's order. */
async function writeFolder(
  folder: string,
  perClass: number,
  encode: (pixels: Uint8Array) => sharp.Sharp,
  ext: string,
  classes = FASHION,
): Promise<Encoded[]> {
  const written: Encoded[] = [];
  for (const img of demo.take(perClass)) {
    const cls = path.join(folder, classes[img.label]);
    fs.mkdirSync(cls, { recursive: true });
    const file = path.join(cls, `${String(img.index).padStart(5, '0')}.${ext}`);
    await encode(img.pixels).toFile(file);
    written.push({ file, pixels: img.pixels, label: img.label });
  }
  const order = [...classes].sort();
  return written.sort((a, b) => {
    const ca = order.indexOf(classes[a.label]);
    const cb = order.indexOf(classes[b.label]);
    return ca !== cb ? ca - cb : a.file < b.file ? -1 : 1;
  });
}

const G28: ImageReadOptions = { height: 28, width: 28, channels: 1 };
const imageAt = (pixels: Uint8Array, i: number, per: number) => pixels.subarray(i * per, (i + 1) * per);

let pngDir: string;
let pngImages: Encoded[];
before(async () => {
  pngDir = path.join(dir, 'png');
  pngImages = await writeFolder(pngDir, 3, (p) => gray(p).png(), 'png');
});

test('PNG and lossless WebP class folders decode to exactly the source pixels, labelled by sorted folder name', async () => {
  const f = await readImageFolder(pngDir, G28, 'classes');
  assert.equal(f.n, 30);
  assert.deepEqual(f.shape, [28, 28, 1]);
  assert.deepEqual(f.classNames, [...FASHION].sort());
  assert.deepEqual(
    f.files,
    pngImages.map((e) => e.file),
  );
  for (let i = 0; i < f.n; i++) {
    assert.deepEqual(imageAt(f.pixels, i, 784), pngImages[i].pixels, `pixels of ${pngImages[i].file}`);
    assert.equal(f.classNames![f.labels![i]], FASHION[pngImages[i].label]);
  }
  // WebP has no gray mode (stored as RGB, R = G = B): its luma gives the gray values back exactly.
  const webpDir = path.join(dir, 'webp');
  const webp = await writeFolder(webpDir, 2, (p) => gray(p).webp({ lossless: true }), 'webp');
  const w = await readImageFolder(webpDir, G28, 'classes');
  for (let i = 0; i < w.n; i++) assert.deepEqual(imageAt(w.pixels, i, 784), webp[i].pixels);
  // The class order can be given (a teacher trained on the IDX label order).
  const ordered = await readImageFolder(pngDir, { ...G28, classNames: FASHION }, 'classes');
  assert.deepEqual(ordered.classNames, FASHION);
  for (let i = 0; i < ordered.n; i++) {
    const source = pngImages.find((e) => e.file === ordered.files[i])!;
    assert.equal(ordered.labels![i], source.label);
  }
});

test('JPEG decodes within the codec tolerance of the source', async () => {
  const jpegDir = path.join(dir, 'jpeg');
  const jpegs = await writeFolder(jpegDir, 2, (p) => gray(p).jpeg({ quality: 95 }), 'jpg');
  const f = await readImageFolder(jpegDir, G28, 'classes');
  assert.equal(f.n, 20);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < f.n; i++) {
    const got = imageAt(f.pixels, i, 784);
    for (let p = 0; p < 784; p++) {
      const d = Math.abs(got[p] - jpegs[i].pixels[p]);
      sum += d;
      max = Math.max(max, d);
    }
  }
  const mean = sum / (f.n * 784);
  assert.ok(mean < 2, `mean abs error ${mean}`);
  assert.ok(max < 64, `max abs error ${max}`);
  assert.ok(mean > 0, 'a JPEG is lossy: identical pixels would mean the source was read, not the file');
});

test('RGB images: exact as RGB, PIL luma as grayscale; gray images repeat into three channels; alpha is dropped', async () => {
  const rgbDir = path.join(dir, 'rgb');
  const sources = await writeFolder(rgbDir, 1, (p) => rgbOf(tint(p)).png(), 'png');
  const asRgb = await readImageFolder(rgbDir, { height: 28, width: 28, channels: 3 }, 'classes');
  assert.deepEqual(asRgb.shape, [28, 28, 3]);
  for (let i = 0; i < asRgb.n; i++) assert.deepEqual(imageAt(asRgb.pixels, i, 784 * 3), tint(sources[i].pixels));
  const asGray = await readImageFolder(rgbDir, G28, 'classes');
  for (let i = 0; i < asGray.n; i++) {
    const c = tint(sources[i].pixels);
    const want = Uint8Array.from({ length: 784 }, (_, p) =>
      Math.floor((19595 * c[3 * p] + 38470 * c[3 * p + 1] + 7471 * c[3 * p + 2] + 0x8000) / 65536),
    );
    assert.deepEqual(imageAt(asGray.pixels, i, 784), want);
  }
  const grayAsRgb = await readImageFolder(pngDir, { height: 28, width: 28, channels: 3 }, 'classes');
  const g = pngImages[0].pixels;
  assert.deepEqual(
    imageAt(grayAsRgb.pixels, 0, 784 * 3),
    Uint8Array.from({ length: 784 * 3 }, (_, k) => g[Math.floor(k / 3)]),
  );
  // RGBA with a transparent half: the alpha channel is dropped, the colour under it kept.
  const rgbaDir = path.join(dir, 'rgba');
  fs.mkdirSync(path.join(rgbaDir, 'x'), { recursive: true });
  fs.mkdirSync(path.join(rgbaDir, 'y'), { recursive: true });
  const rgba = new Uint8Array(28 * 28 * 4);
  for (let p = 0; p < 784; p++) rgba.set([200, 100, 50, p < 392 ? 0 : 255], 4 * p);
  await sharp(rgba, { raw: { width: 28, height: 28, channels: 4 } })
    .png()
    .toFile(path.join(rgbaDir, 'x', 'a.png'));
  await sharp(rgba, { raw: { width: 28, height: 28, channels: 4 } })
    .png()
    .toFile(path.join(rgbaDir, 'y', 'b.png'));
  const r = await readImageFolder(rgbaDir, { height: 28, width: 28, channels: 3 }, 'classes');
  for (let p = 0; p < 784; p++) assert.deepEqual([...r.pixels.subarray(3 * p, 3 * p + 3)], [200, 100, 50]);
});

test('resizing: fill stretches, cover crops the centre, contain pads with black', async () => {
  // 56 wide x 28 high: the left half black, the right half white.
  const wide = new Uint8Array(56 * 28);
  for (let y = 0; y < 28; y++) for (let x = 28; x < 56; x++) wide[y * 56 + x] = 255;
  const resizeDir = path.join(dir, 'resize');
  for (const c of ['a', 'b']) {
    fs.mkdirSync(path.join(resizeDir, c), { recursive: true });
    await gray(wide, 56, 28)
      .png()
      .toFile(path.join(resizeDir, c, 'wide.png'));
  }
  const at = (px: Uint8Array, w: number, y: number, x: number) => px[y * w + x];
  const fill = await readImageFolder(resizeDir, { height: 14, width: 28, channels: 1, fit: 'fill' }, 'classes');
  assert.deepEqual(fill.shape, [14, 28, 1]);
  assert.equal(fill.pixels.length, 2 * 14 * 28);
  for (let y = 0; y < 14; y++) {
    assert.equal(at(fill.pixels, 28, y, 2), 0);
    assert.equal(at(fill.pixels, 28, y, 25), 255);
  }
  const cover = await readImageFolder(resizeDir, { height: 28, width: 28, channels: 1, fit: 'cover' }, 'classes');
  // The centre 28x28 of the 56x28 image: black on the left half, white on the right.
  for (let y = 0; y < 28; y++) {
    assert.equal(at(cover.pixels, 28, y, 3), 0);
    assert.equal(at(cover.pixels, 28, y, 24), 255);
  }
  const contain = await readImageFolder(resizeDir, { height: 28, width: 28, channels: 1, fit: 'contain' }, 'classes');
  // Scaled to 28x14 and padded with 7 black rows above and below.
  for (let x = 0; x < 28; x++) {
    assert.equal(at(contain.pixels, 28, 2, x), 0, `padding row, column ${x}`);
    assert.equal(at(contain.pixels, 28, 25, x), 0);
  }
  assert.equal(at(contain.pixels, 28, 14, 25), 255);
  assert.equal(at(contain.pixels, 28, 14, 2), 0);
});

test('the decode cache: a second read decodes nothing; a changed, added or removed file invalidates it', async () => {
  const cacheDir = path.join(dir, 'cache');
  const folder = path.join(dir, 'cached');
  const images = await writeFolder(folder, 2, (p) => gray(p).png(), 'png');
  const options = { ...G28, cacheDir };
  // Whole-second mtimes, so restoring one later gives exactly the same value (Date has ms precision only).
  const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  for (const e of images) fs.utimesSync(e.file, mtime, mtime);
  let progress = 0;
  const first = await readImageFolder(folder, options, 'classes', () => progress++);
  assert.equal(first.fromCache, false);
  assert.equal(progress, 20);
  const entries = () => fs.readdirSync(path.join(cacheDir, 'images'));
  assert.equal(entries().length, 1);

  // Garbage of the same size with the same mtime: a decode would fail, the cache returns the old pixels.
  const victim = images[3].file;
  const original = fs.readFileSync(victim);
  fs.writeFileSync(victim, Buffer.alloc(original.length, 0x42));
  fs.utimesSync(victim, mtime, mtime);
  progress = 0;
  const second = await readImageFolder(folder, options, 'classes', () => progress++);
  assert.equal(second.fromCache, true);
  assert.equal(progress, 0);
  assert.deepEqual(second.pixels, first.pixels);
  assert.deepEqual(second.labels, first.labels);
  assert.deepEqual(second.classNames, first.classNames);

  // A new mtime: the file is decoded again (and the garbage reported).
  fs.utimesSync(victim, mtime, new Date(mtime.getTime() + 5000));
  const err = await readImageFolder(folder, options, 'classes').then(
    () => assert.fail('expected the changed file to be decoded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BadImagesError);
  assert.deepEqual(
    err.images.map((b) => b.file),
    [victim],
  );

  // A changed image (another picture, new size and mtime): decoded, its new pixels returned.
  const other = demo.take(5)[49].pixels;
  await gray(other).png().toFile(victim);
  const changed = await readImageFolder(folder, options, 'classes');
  assert.equal(changed.fromCache, false);
  assert.deepEqual(imageAt(changed.pixels, 3, 784), other);
  assert.deepEqual(imageAt(changed.pixels, 4, 784), imageAt(first.pixels, 4, 784));
  assert.equal((await readImageFolder(folder, options, 'classes')).fromCache, true);

  // An added file, then a removed one.
  const added = path.join(path.dirname(victim), 'zz-added.png');
  await gray(other).png().toFile(added);
  const withAdded = await readImageFolder(folder, options, 'classes');
  assert.equal(withAdded.fromCache, false);
  assert.equal(withAdded.n, 21);
  fs.rmSync(images[0].file);
  const withRemoved = await readImageFolder(folder, options, 'classes');
  assert.equal(withRemoved.fromCache, false);
  assert.equal(withRemoved.n, 20);
  assert.ok(!withRemoved.files.includes(images[0].file));
  // Other preprocessing is another entry; the folder's own entry was replaced each time, not added.
  assert.equal(entries().length, 1);
  await readImageFolder(folder, { ...options, height: 14, width: 14 }, 'classes');
  assert.equal(entries().length, 2);
  // A damaged entry reads as absent and is rewritten.
  const entry = path.join(
    cacheDir,
    'images',
    entries().find((e) => fs.statSync(path.join(cacheDir, 'images', e)).size > 5000)!,
  );
  fs.truncateSync(entry, fs.statSync(entry).size - 10);
  const afterDamage = await readImageFolder(folder, options, 'classes');
  assert.equal(afterDamage.fromCache, false);
  assert.deepEqual(afterDamage.pixels, withRemoved.pixels);
});

test('every bad image is reported at once, by path, with what is wrong with it', async () => {
  const bad = path.join(dir, 'bad');
  const good = await writeFolder(bad, 1, (p) => gray(p).png(), 'png');
  const cls = path.join(bad, 'Bag');
  const src = demo.take(1)[0].pixels;
  const png = await gray(src).png().toBuffer();
  const jpeg = await gray(src).jpeg().toBuffer();
  // Corrupt: bytes inside the IDAT chunk flipped (the chunk's CRC no longer matches).
  const corrupt = Buffer.from(png);
  const idat = corrupt.indexOf('IDAT');
  for (let i = idat + 8; i < idat + 16; i++) corrupt[i] ^= 0xff;
  fs.writeFileSync(path.join(cls, 'corrupt.png'), corrupt);
  fs.writeFileSync(path.join(cls, 'truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
  fs.writeFileSync(path.join(cls, 'truncated.jpg'), jpeg.subarray(0, jpeg.length - 40));
  await gray(src).gif().toFile(path.join(cls, 'animation.gif'));
  await gray(src).tiff().toFile(path.join(cls, 'scan.png')); // a TIFF whatever its name says
  fs.writeFileSync(path.join(cls, 'notes.txt'), 'class notes\n');
  fs.writeFileSync(path.join(cls, 'empty.png'), '');
  await rgbOf(tint(src)).toColourspace('cmyk').jpeg().toFile(path.join(cls, 'print.jpg'));
  // Skipped: hidden files and the operating system's own.
  fs.writeFileSync(path.join(cls, '.DS_Store'), 'x');
  fs.writeFileSync(path.join(cls, 'Thumbs.db'), 'x');

  const err = await readImageFolder(bad, G28, 'classes').then(
    () => assert.fail('expected bad images'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BadImagesError && err instanceof DataError);
  assert.equal(err.file, bad);
  const reasons = Object.fromEntries(err.images.map((b) => [path.relative(bad, b.file), b.reason]));
  assert.deepEqual(Object.keys(reasons).sort(), [
    'Bag/animation.gif',
    'Bag/corrupt.png',
    'Bag/empty.png',
    'Bag/notes.txt',
    'Bag/print.jpg',
    'Bag/scan.png',
    'Bag/truncated.jpg',
    'Bag/truncated.png',
  ]);
  assert.match(reasons['Bag/corrupt.png'], /^is a corrupt PNG file \(.+\)/);
  assert.match(reasons['Bag/truncated.png'], /^is truncated: its IDAT chunk needs \d+ bytes/);
  assert.match(reasons['Bag/truncated.jpg'], /^is truncated: the JPEG data ends early/);
  assert.match(reasons['Bag/animation.gif'], /^is a GIF image; expected a PNG, JPEG or WebP image/);
  assert.match(reasons['Bag/scan.png'], /^is a TIFF image; expected a PNG, JPEG or WebP image/);
  assert.match(reasons['Bag/notes.txt'], /^is not an image \(its first bytes are 63 6c 61 73/);
  assert.match(reasons['Bag/empty.png'], /^is empty \(0 bytes\)/);
  assert.match(reasons['Bag/print.jpg'], /^has 4 colour components \(CMYK or YCCK\); expected grayscale or RGB/);
  assert.match(err.message, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 8 images cannot be used`));
  for (const name of Object.keys(reasons)) assert.ok(err.message.includes(`\n  ${name}: `), name);
  assert.ok(!err.message.includes(path.basename(good[0].file)), 'good images are not listed');

  // Many bad files: the message shows the first 20 and counts the rest; `images` has them all.
  const many = path.join(dir, 'many-bad');
  for (const c of ['a', 'b']) {
    fs.mkdirSync(path.join(many, c), { recursive: true });
    for (let i = 0; i < 13; i++) fs.writeFileSync(path.join(many, c, `${String(i).padStart(2, '0')}.png`), 'junk');
  }
  const err2 = await readImageFolder(many, G28, 'classes').then(
    () => assert.fail('expected bad images'),
    (e: unknown) => e as BadImagesError,
  );
  assert.equal(err2.images.length, 26);
  assert.equal(err2.message.split('\n').filter((l) => l.startsWith('  ') && l.includes('.png: ')).length, 20);
  assert.match(err2.message, /\n {2}\.\.\. and 6 more$/);
  assert.ok(err2.message.includes('a/00.png: is not an image'));
});

test('folder layout problems: one clear error each', async () => {
  const rejects = async (
    folder: string,
    opts: Partial<ImageReadOptions>,
    pattern: RegExp,
    layout: 'classes' | 'flat' = 'classes',
  ) => {
    const err = await readImageFolder(folder, { ...G28, ...opts }, layout).then(
      () => assert.fail(`expected an error for ${folder}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DataError, String(err));
    assert.equal(err.file, folder);
    assert.match(err.message, pattern);
  };
  await rejects(path.join(dir, 'missing'), {}, /the image folder does not exist/);
  const loose = path.join(dir, 'loose');
  fs.mkdirSync(loose);
  await gray(demo.take(1)[0].pixels).png().toFile(path.join(loose, 'a.png'));
  await rejects(loose, {}, /has no class subfolders \(it holds 1 file directly\); expected one subfolder per class/);
  const withEmpty = path.join(dir, 'with-empty');
  fs.mkdirSync(path.join(withEmpty, 'cat'), { recursive: true });
  fs.mkdirSync(path.join(withEmpty, 'dog'));
  fs.mkdirSync(path.join(withEmpty, 'eel'));
  fs.writeFileSync(path.join(withEmpty, 'eel', '.hidden.png'), 'x');
  await gray(demo.take(1)[0].pixels)
    .png()
    .toFile(path.join(withEmpty, 'cat', 'a.png'));
  await rejects(
    withEmpty,
    {},
    /has 2 empty class folders: dog, eel; expected at least one image in every class folder/,
  );
  await rejects(
    pngDir,
    { classNames: [...FASHION.slice(1), 'Cat'] },
    /has no subfolder for class Cat and has subfolder T-shirt_top that "classes" does not name/,
  );
  // flat: every image under the folder, without labels.
  const flat = await readImageFolder(pngDir, G28, 'flat');
  assert.equal(flat.n, 30);
  assert.equal(flat.labels, undefined);
  fs.mkdirSync(path.join(dir, 'flat-empty', '.git'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'flat-empty', '.git', 'a.png'), 'x');
  await rejects(path.join(dir, 'flat-empty'), {}, /has no images/, 'flat');
});

test('loadDataset: image folders give [h, w, c] examples scaled by 255, folder class names, a seeded held-out test split', async () => {
  const spec = (extra: Record<string, unknown>) =>
    dataSchema.parse({
      source: 'images',
      train: pngDir,
      height: 28,
      width: 28,
      validationFraction: 0,
      batchSize: 8,
      ...extra,
    });
  const a = await loadDataset(spec({ testFraction: 0.2 }), 1);
  assert.deepEqual(a.inputShape, [28, 28, 1]);
  assert.equal(a.numClasses, 10);
  assert.deepEqual(a.classNames, [...FASHION].sort());
  assert.equal(a.train.n + a.test.n, 30);
  assert.equal(a.test.n, 6);
  assert.equal(a.normalization.detail, 'x / 255');
  // Every example is one of the source images, divided by 255, under its folder's label.
  for (const split of [a.train, a.test])
    for (let i = 0; i < split.n; i++) {
      const x = split.x.subarray(i * 784, (i + 1) * 784);
      const source = pngImages.find((e) => e.pixels.every((v, p) => Math.fround(v / 255) === x[p]));
      assert.ok(source, `example ${i} matches a source image`);
      assert.equal(a.classNames![split.y[i]], FASHION[source.label]);
    }
  const again = await loadDataset(spec({ testFraction: 0.2 }), 1);
  assert.deepEqual(again.test.y, a.test.y);
  assert.deepEqual(again.test.x, a.test.x);
  const otherSeed = await loadDataset(spec({ testFraction: 0.2 }), 2);
  assert.notDeepEqual(otherSeed.test.x, a.test.x);

  // A test folder with fewer classes maps onto the training classes by name; an unknown class is refused.
  const testDir = path.join(dir, 'test-few');
  for (const c of ['Bag', 'Trouser']) {
    fs.mkdirSync(path.join(testDir, c), { recursive: true });
    await gray(demo.take(1)[FASHION.indexOf(c)].pixels)
      .png()
      .toFile(path.join(testDir, c, 'x.png'));
  }
  const withTest = await loadDataset(spec({ test: testDir }), 1);
  assert.equal(withTest.train.n, 30);
  assert.deepEqual(
    [...withTest.test.y].map((l) => withTest.classNames![l]),
    ['Bag', 'Trouser'],
  );
  fs.mkdirSync(path.join(testDir, 'Zebra'));
  await gray(demo.take(1)[0].pixels)
    .png()
    .toFile(path.join(testDir, 'Zebra', 'z.png'));
  await assert.rejects(loadDataset(spec({ test: testDir }), 1), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.equal(err.file, testDir);
    assert.match(err.message, /has class folder Zebra that the training folder lacks/);
    return true;
  });
});

test('distill train on an image folder: decodes with progress, trains, records the class names; the second run reads the cache; bad images stop it before a run folder exists', async () => {
  const work = tempDir('images-cli');
  try {
    const folder = path.join(work, 'fashion');
    await writeFolder(path.join(folder, 'train'), 20, (p) => gray(p).png(), 'png');
    await writeFolder(path.join(folder, 'test'), 5, (p) => gray(p).png(), 'png');
    const config = smallConfig({
      name: 'images',
      data: {
        source: 'images',
        train: 'fashion/train',
        test: 'fashion/test',
        height: 28,
        width: 28,
        batchSize: 32,
        classes: FASHION,
      },
      train: { epochs: 1, logEvery: 5 },
      export: { onnx: false },
      bench: { enabled: false },
    });
    const file = writeConfig(work, 'images', config);
    const first = runCli(['train', file], root);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`decoding images in ${path.join(folder, 'train')}: 200 / 200`));
    const runDir = first.stdout.match(/run folder: (.*)/)![1].trim();
    const record = JSON.parse(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').split('\n')[0]);
    assert.equal(record.type, 'run_started');
    assert.deepEqual(record.data.classNames, FASHION);
    assert.deepEqual(record.data.inputShape, [28, 28, 1]);
    assert.equal(record.data.test, 50);
    // The demo teacher was trained on the IDX label order: with `classes` it agrees with the folders.
    const teacher = first.stdout.match(/teacher\s+(\d+\.\d+)%/);
    assert.ok(teacher && Number(teacher[1]) > 70, first.stdout);
    assert.ok(fs.readdirSync(path.join(work, '.distill', 'cache', 'images')).length === 2);

    const second = runCli(['train', file], root);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /decoding images/);

    fs.writeFileSync(path.join(folder, 'train', 'Bag', 'broken.png'), 'not a png');
    const runsBefore = fs.readdirSync(path.join(work, 'runs')).length;
    const bad = runCli(['train', file], root);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /1 image cannot be used/);
    assert.match(bad.stderr, /\n {2}Bag\/broken\.png: is not an image/);
    assert.doesNotMatch(bad.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.equal(fs.readdirSync(path.join(work, 'runs')).length, runsBefore);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('the progress line: into a log, one line per 5 s and the last of each folder; on a terminal, rewritten in place', () => {
  let t = 0;
  const log: string[] = [];
  const toFile = decodeProgressPrinter({ write: (s) => log.push(s) }, () => t);
  for (let done = 1; done <= 30_000; done++) {
    t = done; // 1 ms per image
    toFile(done, 30_000, '/data/train');
  }
  toFile(1, 2, '/data/test');
  toFile(2, 2, '/data/test');
  assert.deepEqual(log, [
    'decoding images in /data/train: 5,001 / 30,000\n',
    'decoding images in /data/train: 10,001 / 30,000\n',
    'decoding images in /data/train: 15,001 / 30,000\n',
    'decoding images in /data/train: 20,001 / 30,000\n',
    'decoding images in /data/train: 25,001 / 30,000\n',
    'decoding images in /data/train: 30,000 / 30,000\n',
    'decoding images in /data/test: 2 / 2\n',
  ]);
  const screen: string[] = [];
  const toTerminal = decodeProgressPrinter({ write: (s) => screen.push(s), isTTY: true }, () => t);
  for (let done = 1; done <= 1000; done++) {
    t = 100_000 + done;
    toTerminal(done, 1000, '/data/train');
  }
  assert.deepEqual(screen, [
    '\rdecoding images in /data/train: 1 / 1,000\x1b[K',
    '\rdecoding images in /data/train: 201 / 1,000\x1b[K',
    '\rdecoding images in /data/train: 401 / 1,000\x1b[K',
    '\rdecoding images in /data/train: 601 / 1,000\x1b[K',
    '\rdecoding images in /data/train: 801 / 1,000\x1b[K',
    '\rdecoding images in /data/train: 1,000 / 1,000\x1b[K\n',
  ]);
});
