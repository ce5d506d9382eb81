// Writes Fashion-MNIST (the IDX files of Debian's dataset-fashion-mnist) as image class folders,
// the torchvision ImageFolder layout that `data.source: "images"` reads:
//   <out>/train/<class>/<index>.png   N labeled training images, class-balanced
//   <out>/unlabeled/<index>.png       M other training images (disjoint from the labeled ones)
//   <out>/test/<class>/<index>.png    K test images, class-balanced
// <index> is the image's position in its IDX file, so every image can be traced to its source.
// The folders are written into <out>.tmp-* and renamed into place: <out> is whole or absent.
// usage: node scripts/data/write-image-folders.mjs --out DIR [--labeled 2000] [--unlabeled 0]
//          [--test 10000] [--seed 0] [--format png|jpeg|webp] [--source /usr/share/datasets/fashion-mnist] [--force]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as zlib from 'node:zlib';
import sharp from 'sharp';

/** Folder names of the Fashion-MNIST labels 0..9 (the dataset's names, with "/" and " " replaced). */
const FASHION_CLASSES = [
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

function fail(message) {
  console.error(`write-image-folders: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    labeled: { type: 'string', default: '2000' },
    unlabeled: { type: 'string', default: '0' },
    test: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '0' },
    format: { type: 'string', default: 'png' },
    source: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    force: { type: 'boolean', default: false },
  },
});
const count = (name) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a whole number >= 0, found "${values[name]}"`);
  return n;
};
if (!values.out) fail('--out DIR is required');
const out = path.resolve(values.out);
const labeled = count('labeled');
const unlabeled = count('unlabeled');
const testCount = count('test');
const seed = count('seed');
const format = values.format;
if (!['png', 'jpeg', 'webp'].includes(format)) fail(`--format must be png, jpeg or webp, found "${format}"`);
if (fs.existsSync(out) && !values.force) fail(`${out} exists; pass --force to replace it`);

/** One IDX file (gzip or plain) of unsigned bytes: its dims and values. */
function readIdx(file) {
  if (!fs.existsSync(file)) fail(`${file} not found (Debian: apt-get install dataset-fashion-mnist; or --source DIR)`);
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  if (buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08) fail(`${file} is not an IDX file of unsigned bytes`);
  const dims = Array.from({ length: buf[3] }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  return { dims, data: buf.subarray(4 + 4 * dims.length) };
}

function split(prefix) {
  const images = readIdx(path.join(values.source, `${prefix}-images-idx3-ubyte.gz`));
  const labels = readIdx(path.join(values.source, `${prefix}-labels-idx1-ubyte.gz`));
  return { images: images.data, labels: labels.data, n: images.dims[0], h: images.dims[1], w: images.dims[2] };
}

/** mulberry32 (as src/core/random.ts), for a seeded Fisher-Yates shuffle. */
function shuffled(n, s) {
  let state = s >>> 0;
  const rand = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** The first `limit` of `order`, class-balanced (round-robin over the classes while each has images). */
function balanced(order, labels, limit) {
  const byClass = FASHION_CLASSES.map(() => []);
  for (const i of order) byClass[labels[i]].push(i);
  const chosen = [];
  for (let round = 0; chosen.length < limit && byClass.some((m) => round < m.length); round++)
    for (const members of byClass) if (round < members.length && chosen.length < limit) chosen.push(members[round]);
  return chosen;
}

const train = split('train');
const test = split('t10k');
if (labeled + unlabeled > train.n)
  fail(`--labeled ${labeled} plus --unlabeled ${unlabeled} exceed the ${train.n} training images`);
if (testCount > test.n) fail(`--test ${testCount} exceeds the ${test.n} test images`);

const trainOrder = shuffled(train.n, seed * 2 + 1);
const labeledIdx = balanced(trainOrder, train.labels, labeled);
const taken = new Set(labeledIdx);
const unlabeledIdx = trainOrder.filter((i) => !taken.has(i)).slice(0, unlabeled);
const testIdx = balanced(shuffled(test.n, seed * 2 + 2), test.labels, testCount);

const encode = {
  png: (s) => s.png({ compressionLevel: 9 }),
  jpeg: (s) => s.jpeg({ quality: 95 }),
  webp: (s) => s.webp({ lossless: true }),
}[format];
const ext = format === 'jpeg' ? 'jpg' : format;

/** Encodes the images `idx` of `set` into `dir` (into `<class>/` when `withClass`), 16 at a time. */
async function writeImages(set, idx, dir, withClass) {
  const folders = withClass ? FASHION_CLASSES.map((c) => path.join(dir, c)) : [dir];
  for (const f of folders) fs.mkdirSync(f, { recursive: true });
  const per = set.h * set.w;
  let next = 0;
  const worker = async () => {
    while (next < idx.length) {
      const i = idx[next++];
      const pixels = set.images.subarray(i * per, (i + 1) * per);
      // One gray channel: a grayscale PNG/JPEG (WebP has no grayscale mode and stores it as RGB).
      const image = sharp(pixels, { raw: { width: set.w, height: set.h, channels: 1 } }).toColourspace('b-w');
      const folder = withClass ? folders[set.labels[i]] : dir;
      await encode(image).toFile(path.join(folder, `${String(i).padStart(5, '0')}.${ext}`));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = fs.mkdtempSync(path.join(path.dirname(out), `.${path.basename(out)}.tmp-`));
try {
  await writeImages(train, labeledIdx, path.join(tmp, 'train'), true);
  if (unlabeled > 0) await writeImages(train, unlabeledIdx, path.join(tmp, 'unlabeled'), false);
  if (testCount > 0) await writeImages(test, testIdx, path.join(tmp, 'test'), true);
  fs.chmodSync(tmp, 0o777 & ~process.umask());
  if (fs.existsSync(out)) fs.rmSync(out, { recursive: true, force: true });
  fs.renameSync(tmp, out);
} catch (err) {
  fs.rmSync(tmp, { recursive: true, force: true });
  throw err;
}
console.log(
  `wrote ${out}: train/ ${labeledIdx.length} labeled, ${unlabeled > 0 ? `unlabeled/ ${unlabeledIdx.length}, ` : ''}test/ ${testIdx.length} (${format}, seed ${seed}, ${os.cpus().length} cores)`,
);
console.log(`class order of the IDX labels (data.classes): ${JSON.stringify(FASHION_CLASSES)}`);
