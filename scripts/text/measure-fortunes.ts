// The fortunes measurement (issue 20, item 5): per seed, KD of the ONNX transformer teacher into a
// fastText-like student with the from-scratch baseline (examples/text-fortunes/kd.distill.json),
// then the same KD with Tang et al.'s augmented transfer set (kd-augment.distill.json), the two
// interleaved seed by seed. Prints test accuracy mean ± sd over seeds, the paired differences
// (same seed: same validation split and initial weights), sizes and onnxruntime latency.
// Needs the data and teacher: PYTHONPATH=/tmp/tok /usr/bin/python3 scripts/text/make-fortunes.py
// usage: npx tsx scripts/text/measure-fortunes.ts [seeds, default 0,1,2] [configs, default kd,kd-augment]
// Results accumulate in .distill/text-fortunes/results.json (a rerun skips the runs it holds).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents, type RunFinishedEvent } from '../../src/protocol/events.ts';

const root = path.join(__dirname, '..', '..');
const here = path.join(root, 'examples', 'text-fortunes');
const cli = process.env.DISTILL_CLI ?? path.join(root, 'dist', 'trainer', 'cli.js');
const resultsFile = path.join(root, '.distill', 'text-fortunes', 'results.json');
const [seedList = '0,1,2', names = 'kd,kd-augment'] = process.argv.slice(2);

interface Result {
  config: string;
  seed: number;
  accuracy: Record<string, number>;
  params: Record<string, number>;
  onnxBytes: Record<string, number>;
  latency: Array<{ model: string; runtime: string; batch: number; p50Ms: number }>;
  examples?: { labeled: number; unlabeled: number };
  seconds: number;
  runDir: string;
}

if (!fs.existsSync(path.join(here, 'data', 'train.jsonl')))
  throw new Error('examples/text-fortunes/data is missing: run scripts/text/make-fortunes.py first');
const results: Result[] = fs.existsSync(resultsFile) ? JSON.parse(fs.readFileSync(resultsFile, 'utf8')) : [];

for (const seed of seedList.split(',').map(Number))
  for (const name of names.split(',')) {
    if (results.some((r) => r.config === name && r.seed === seed)) continue;
    const base = JSON.parse(fs.readFileSync(path.join(here, `${name}.distill.json`), 'utf8'));
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
    const epoch = events.find((e) => e.type === 'epoch' && e.phase === 'distill');
    results.push({
      config: name,
      seed,
      accuracy: Object.fromEntries(done.summary.map((s) => [s.model, s.accuracy * 100])),
      params: Object.fromEntries(done.summary.map((s) => [s.model, s.params])),
      onnxBytes: (done.onnxBytes ?? {}) as Record<string, number>,
      latency: (done.latency ?? []).map((l) => ({
        model: l.model,
        runtime: l.runtime,
        batch: l.batch,
        p50Ms: l.p50Ms,
      })),
      examples: epoch && epoch.type === 'epoch' ? epoch.examples : undefined,
      seconds: (Date.now() - started) / 1000,
      runDir,
    });
    fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
    fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2));
    const last = results[results.length - 1];
    console.log(`${name} seed ${seed}: ${JSON.stringify(last.accuracy)} (${last.seconds.toFixed(0)} s)`);
  }

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${mean.toFixed(2)} ± ${sd.toFixed(2)}`;
};
const seeds = [...new Set(results.map((r) => r.seed))].sort((a, b) => a - b);
const at = (config: string, model: string) =>
  seeds.map((s) => results.find((r) => r.config === config && r.seed === s)?.accuracy[model]);
const complete = (xs: Array<number | undefined>): number[] => xs.filter((x): x is number => x !== undefined);
const rows: Array<[string, Array<number | undefined>]> = [
  ['teacher (transformer)', at('kd', 'teacher')],
  ['scratch student', at('kd', 'scratch')],
  ['distilled (KD)', at('kd', 'distilled')],
  ['distilled (KD + augmented transfer set)', at('kd-augment', 'distilled')],
];
console.log(`\nseeds ${seeds.join(', ')}; test accuracy (%), mean ± sd over seeds, per seed:`);
for (const [label, xs] of rows)
  console.log(`${label}: ${stats(complete(xs))}  [${xs.map((x) => x?.toFixed(2) ?? '-').join(', ')}]`);
const paired = (a: Array<number | undefined>, b: Array<number | undefined>) =>
  complete(a.map((x, i) => (x !== undefined && b[i] !== undefined ? x - b[i]! : undefined)));
console.log(`paired: KD - scratch ${stats(paired(rows[2][1], rows[1][1]))} points`);
console.log(`paired: KD + augmented - KD ${stats(paired(rows[3][1], rows[2][1]))} points`);
console.log(`paired: KD + augmented - scratch ${stats(paired(rows[3][1], rows[1][1]))} points`);
const first = results.find((r) => r.config === 'kd');
if (first) {
  console.log(`parameters: ${JSON.stringify(first.params)}; ONNX bytes: ${JSON.stringify(first.onnxBytes)}`);
  for (const l of first.latency)
    console.log(`latency ${l.model} ${l.runtime} batch ${l.batch}: p50 ${l.p50Ms.toFixed(3)} ms`);
}
const aug = results.find((r) => r.config === 'kd-augment');
if (aug?.examples) console.log(`augmented epochs train on ${JSON.stringify(aug.examples)}`);
console.log(`run seconds: ${results.map((r) => `${r.config}/${r.seed} ${r.seconds.toFixed(0)}`).join(', ')}`);
