// `npm run bench -- --only images`: image-folder decoding throughput. Writes Fashion-MNIST
// training images as PNG class folders (scripts/data/write-image-folders.mjs), then reads them
// with readImageFolder: without a cache (decode only), with an empty decode cache (decode and
// write the cache: a first run) and from the cache (a second run); medians over --repeat reads.
// The files were just written, so they are read from the OS page cache, not the disk.
// usage: npm run bench -- --only images [--images 10000] [--repeat 3] [--size 28] [--channels grayscale|rgb]
//                                      [--format png|jpeg|webp] [--dir <folder written before>]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { readImageFolder, type ImageReadOptions } from '../src/core/data/images.ts';

const root = path.join(__dirname, '..');
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '10000' },
    repeat: { type: 'string', default: '3' },
    size: { type: 'string', default: '28' },
    channels: { type: 'string', default: 'grayscale' },
    format: { type: 'string', default: 'png' },
    dir: { type: 'string' },
  },
});
const count = Number(values.images);
const repeat = Number(values.repeat);
const size = Number(values.size);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-bench-images-'));
const folder = values.dir ? path.resolve(values.dir) : path.join(work, 'fashion');

async function main() {
  if (!values.dir) {
    const t0 = performance.now();
    const w = spawnSync(
      process.execPath,
      [
        path.join(root, 'scripts', 'data', 'write-image-folders.mjs'),
        ...['--out', folder, '--labeled', String(count), '--test', '0', '--format', values.format!],
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (w.status !== 0) process.exit(w.status ?? 1);
    console.error(`bench: wrote ${count} ${values.format} files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const train = path.join(folder, fs.existsSync(path.join(folder, 'train')) ? 'train' : '');
  const options: ImageReadOptions = {
    height: size,
    width: size,
    channels: values.channels === 'rgb' ? 3 : 1,
    fit: 'fill',
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const time = async (cacheDir: string | undefined, expectCached: boolean) => {
    const t0 = performance.now();
    const f = await readImageFolder(train, { ...options, cacheDir }, 'classes');
    const s = (performance.now() - t0) / 1000;
    if (f.fromCache !== expectCached) throw new Error(`expected fromCache ${expectCached}`);
    return { s, n: f.n };
  };
  const rows: Array<[string, number, number]> = [];
  let n = 0;
  const measure = async (label: string, run: (i: number) => Promise<{ s: number; n: number }>) => {
    const runs = [];
    for (let i = 0; i < repeat; i++) runs.push(await run(i));
    const s = median(runs.map((r) => r.s));
    n = runs[0].n;
    rows.push([label, s, runs[0].n / s]);
    console.error(`bench: ${label}: ${runs.map((r) => r.s.toFixed(2)).join(', ')} s`);
  };
  await measure('decode, no cache', () => time(undefined, false));
  await measure('first run (decode + write the cache)', (i) => time(path.join(work, `cache-${i}`), false));
  await measure('cached run (read the cache)', () => time(path.join(work, 'cache-0'), true));
  console.log(
    `image-folder decoding: ${n} Fashion-MNIST ${values.format!.toUpperCase()} files (28x28 gray) -> ${size}x${size}x${options.channels}`,
  );
  for (const [label, s, rate] of rows)
    console.log(
      `  ${label.padEnd(38)} ${s.toFixed(2).padStart(7)} s  ${Math.round(rate).toLocaleString('en-US').padStart(9)} images/s`,
    );
  console.log(
    `medians of ${repeat}; ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}; UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}; files in the page cache`,
  );
}

main()
  .catch((err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exitCode = 1;
  })
  .finally(() => fs.rmSync(work, { recursive: true, force: true }));
