// The transfer-set experiment: for each seed, KD on the labeled images alone (with the
// from-scratch baseline), then KD with the unlabeled transfer set (20,000 and all 57,778), and
// optionally with pseudo-labels. Prints test accuracy per seed, mean ± sd over seeds and the
// paired differences (same seed: same labeled split, validation split and initial weights).
// usage: npx tsx scripts/transfer-set.ts [seeds, default 0,1,2] [config names, default labeled,transfer-20k,transfer-all]
// Results accumulate in .distill/transfer-set/results.json (a rerun skips the runs it holds).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type RunFinishedEvent } from '../src/protocol/events.ts';

const root = path.join(__dirname, '..');
const here = path.join(root, 'examples', 'transfer-set');
const cli = process.env.DISTILL_CLI ?? path.join(root, 'dist', 'trainer', 'cli.js');
const resultsFile = path.join(root, '.distill', 'transfer-set', 'results.json');
const [seedList = '0,1,2', names = 'labeled,transfer-20k,transfer-all'] = process.argv.slice(2);

type Result = { config: string; seed: number; accuracy: Record<string, number>; seconds: number; runDir: string };
const results: Result[] = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, 'utf8')) : [];

for (const seed of seedList.split(',').map(Number))
  for (const name of names.split(',')) {
    if (results.some((r) => r.config === name && r.seed === seed)) continue;
    const base = JSON.parse(fs.readFileSync(path.join(here, `kd-${name}.distill.json`), 'utf8'));
    base.train.seed = seed;
    // Beside the original, so its relative paths hold (.gitignore: *.kd-seeds-*).
    const file = path.join(here, `.kd-seeds-${name}-${seed}.distill.json`);
    fs.writeFileSync(file, JSON.stringify(base));
    const started = Date.now();
    const r = spawnSync(process.execPath, [cli, 'train', file], {
      encoding: 'utf8',
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
    });
    fs.rmSync(file);
    if (r.status !== 0) throw new Error(`${name} seed ${seed} failed:\n${r.stderr}`);
    const runDir = r.stdout.match(/run folder: (.*)/)![1].trim();
    const events = parseEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
    const done = events.find((e): e is RunFinishedEvent => e.type === 'run_finished')!;
    const accuracy = Object.fromEntries(done.summary.map((s) => [s.model, s.accuracy * 100]));
    results.push({ config: name, seed, accuracy, seconds: (Date.now() - started) / 1000, runDir });
    fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
    fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2));
    console.log(`${name} seed ${seed}: ${JSON.stringify(accuracy)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }

/** What each config of examples/transfer-set/ is, in the table. */
const LABELS: Record<string, string> = {
  'labeled-long': 'KD, labeled only, 110 ep',
  'transfer-20k': 'KD + 20,000 unlabeled',
  'transfer-all': 'KD + 57,778 unlabeled',
  'transfer-all-pseudo': 'KD + 57,778 + pseudo 0.9',
};

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${mean.toFixed(2)} ± ${sd.toFixed(2)}`;
};
const seeds = [...new Set(results.map((r) => r.seed))].sort();
const of = (config: string, model: string) => (seed: number) =>
  results.find((r) => r.config === config && r.seed === seed)?.accuracy[model];
const series: Array<[string, (seed: number) => number | undefined]> = [
  ['scratch (labeled only)', of('labeled', 'scratch')],
  ['KD, labeled only', of('labeled', 'distilled')],
  ...names
    .split(',')
    .filter((n) => n !== 'labeled')
    .map((n): [string, (seed: number) => number | undefined] => [LABELS[n] ?? `KD, ${n}`, of(n, 'distilled')]),
];
console.log(`\ntest accuracy (%), seeds ${seeds.join(', ')}`);
for (const [label, get] of series) {
  const xs = seeds.map(get).filter((x): x is number => x !== undefined);
  console.log(`${label.padEnd(28)} ${xs.map((x) => x.toFixed(2)).join('  ')}   mean ± sd ${stats(xs)}`);
}
console.log('\npaired differences (points, same seed)');
for (const [label, get] of series.slice(2))
  for (const [refLabel, ref] of series.slice(0, 2)) {
    const d = seeds.flatMap((s) => {
      const a = get(s);
      const b = ref(s);
      return a === undefined || b === undefined ? [] : [a - b];
    });
    if (d.length)
      console.log(`${label} - ${refLabel}: ${d.map((x) => x.toFixed(2)).join(', ')}   mean ± sd ${stats(d)}`);
  }
