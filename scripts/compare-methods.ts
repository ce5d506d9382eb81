// Runs the demo job with each KD method and strategy over several seeds and prints the test
// accuracy of the final student beside the from-scratch baseline (same seed, same initial
// weights), with the mean gain and its spread: the README's methods table comes from here.
// usage: npm run build && npx tsx scripts/compare-methods.ts [seeds, default 0,1,2] [method names...]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseEvents, type RunFinishedEvent } from '../src/protocol/events.ts';

const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'trainer', 'cli.js');
const demo = JSON.parse(fs.readFileSync(path.join(root, 'media', 'demo', 'demo.distill.json'), 'utf8'));
const kd = { type: 'kd', weight: 0.9, temperature: 2 };

/** Each variant replaces parts of the demo config (T = 2, alpha = 0.1, MLP 784-64-10, 2,000 images, 60 epochs). */
const VARIANTS: Record<string, Record<string, unknown>> = {
  'kd (demo)': {},
  'kd, reverse KL': { distill: { method: 'kd', temperature: 2, alpha: 0.1, divergence: 'reverse' } },
  'kd, T 4 -> 1': { distill: { method: 'kd', temperature: 4, finalTemperature: 1, alpha: 0.1 } },
  dkd: { distill: { method: 'combined', hardWeight: 1, terms: [{ type: 'dkd', alpha: 1, beta: 8, temperature: 4 }] } },
  'kd + hint (dense_1)': {
    distill: {
      method: 'combined',
      hardWeight: 0.1,
      terms: [kd, { type: 'hint', weight: 0.1, student: 'dense_1', teacher: 'dense_1' }],
    },
  },
  'kd + rkd': { distill: { method: 'combined', hardWeight: 0.1, terms: [kd, { type: 'rkd' }] } },
  'teacher-free': { distill: { method: 'combined', hardWeight: 1, terms: [{ type: 'teacher_free', weight: 1 }] } },
  'label smoothing 0.1': {
    distill: { method: 'combined', hardWeight: 1, labelSmoothing: 0.1, terms: [{ type: 'teacher_free', weight: 0 }] },
  },
  'born-again, 3 generations': { strategy: { type: 'born_again', generations: 3 } },
  'assistant MLP 256': {
    strategy: { type: 'assistants', assistants: [{ architecture: { type: 'mlp', hidden: [256] } }] },
  },
  'mutual learning, no teacher': { distill: { method: 'none' }, strategy: { type: 'mutual' } },
};

const [seedList = '0,1,2', ...only] = process.argv.slice(2);
const seeds = seedList.split(',').map(Number);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'compare-methods-'));
const names = only.length ? only : Object.keys(VARIANTS);
console.log(`seeds ${seeds.join(', ')}; runs in ${work}`);
const rows: string[][] = [
  ['method', ...seeds.map((s) => `seed ${s}: student / scratch`), 'mean gain', 'sd', 'seconds/run'],
];
for (const name of names) {
  const gains: number[] = [];
  const cells: string[] = [];
  let seconds = 0;
  for (const seed of seeds) {
    const config = { ...structuredClone(demo), ...VARIANTS[name], name: 'compare', $schema: undefined };
    config.train = { ...config.train, seed };
    config.bench = { enabled: false };
    config.export = { onnx: false };
    config.output = { dir: path.join(work, 'runs') };
    config.cache = { dir: path.join(work, 'cache') };
    // The demo config's relative paths (none besides output/cache) stay valid beside it.
    const file = path.join(work, `config-${seed}.distill.json`);
    fs.writeFileSync(file, JSON.stringify(config));
    const started = Date.now();
    const r = spawnSync(process.execPath, [cli, 'train', file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${name}, seed ${seed} failed:\n${r.stderr}`);
    seconds += (Date.now() - started) / 1000;
    const runDir = r.stdout.match(/run folder: (.*)/)![1].trim();
    const done = parseEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).find(
      (e): e is RunFinishedEvent => e.type === 'run_finished',
    )!;
    const student = done.summary.find((s) => s.model === 'distilled')!.accuracy;
    const scratch = done.summary.find((s) => s.model === 'scratch')!.accuracy;
    gains.push((student - scratch) * 100);
    cells.push(`${(student * 100).toFixed(2)} / ${(scratch * 100).toFixed(2)}`);
  }
  const mean = gains.reduce((a, b) => a + b, 0) / gains.length;
  const sd = Math.sqrt(gains.reduce((a, g) => a + (g - mean) ** 2, 0) / Math.max(1, gains.length - 1));
  rows.push([
    name,
    ...cells,
    `${mean >= 0 ? '+' : ''}${mean.toFixed(2)}`,
    sd.toFixed(2),
    (seconds / seeds.length).toFixed(0),
  ]);
  console.log(`${name}: ${cells.join(', ')} (gain ${mean.toFixed(2)})`);
}
console.log(
  `\n| ${rows[0].join(' | ')} |\n| ${rows[0].map(() => '---').join(' | ')} |\n${rows
    .slice(1)
    .map((r) => `| ${r.join(' | ')} |`)
    .join('\n')}`,
);
