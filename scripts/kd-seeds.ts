// Runs a config over several seeds and prints distillation's gain over the from-scratch baseline
// per seed, with the mean and spread: KD's gain on small data is about as large as seed noise,
// so judge a setting this way, never by one run.
// usage: npx tsx scripts/kd-seeds.ts <config.distill.json> [seeds, default 0,1,2] [key=value overrides]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseEvents, type RunFinishedEvent } from '../src/protocol/events.ts';

const [configFile, seedList = '0,1,2', ...overrides] = process.argv.slice(2);
if (!configFile)
  throw new Error('usage: npx tsx scripts/kd-seeds.ts <config.distill.json> [0,1,2] [distill.temperature=4 ...]');
const base = JSON.parse(fs.readFileSync(configFile, 'utf8'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kd-seeds-'));
const cli = path.join(__dirname, '..', 'dist', 'trainer', 'cli.js');

function set(obj: Record<string, unknown>, key: string, value: unknown) {
  const parts = key.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
  o[parts.at(-1)!] = value;
}

const rows: Array<{
  seed: number;
  teacher: number;
  scratch: number;
  distilled: number;
  seconds: number;
  backend: string;
}> = [];
for (const seed of seedList.split(',').map(Number)) {
  const config = structuredClone(base);
  // Relative paths in the config stay valid: the copy lives beside the original.
  set(config, 'train.seed', seed);
  set(config, 'output.dir', path.join(work, 'runs'));
  for (const o of overrides) {
    const [k, v] = o.split('=');
    set(config, k, JSON.parse(v));
  }
  const file = path.join(path.dirname(path.resolve(configFile)), `.kd-seeds-${process.pid}-${seed}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  const started = Date.now();
  const r = spawnSync(process.execPath, [cli, 'train', file], { encoding: 'utf8' });
  fs.rmSync(file);
  if (r.status !== 0) throw new Error(`seed ${seed} failed:\n${r.stderr}`);
  const runDir = r.stdout.match(/run folder: (.*)/)![1].trim();
  const events = parseEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
  const done = events.find((e): e is RunFinishedEvent => e.type === 'run_finished')!;
  const acc = (m: string) => done.summary.find((s) => s.model === m)!.accuracy * 100;
  const started_ = events.find((e) => e.type === 'run_started');
  rows.push({
    seed,
    teacher: acc('teacher'),
    scratch: acc('scratch'),
    distilled: acc('distilled'),
    seconds: (Date.now() - started) / 1000,
    backend: started_?.type === 'run_started' ? started_.backend.name : '?',
  });
  const last = rows.at(-1)!;
  console.log(
    `seed ${seed}: teacher ${last.teacher.toFixed(2)}  scratch ${last.scratch.toFixed(2)}  distilled ${last.distilled.toFixed(2)}  gain ${(last.distilled - last.scratch).toFixed(2)} points  (${last.seconds.toFixed(0)} s, ${last.backend})`,
  );
}
const gains = rows.map((r) => r.distilled - r.scratch);
const mean = gains.reduce((a, b) => a + b, 0) / gains.length;
const sd = Math.sqrt(gains.reduce((a, g) => a + (g - mean) ** 2, 0) / Math.max(1, gains.length - 1));
console.log(
  `gain over ${gains.length} seeds: mean ${mean >= 0 ? '+' : ''}${mean.toFixed(2)} points, sd ${sd.toFixed(2)}, positive on ${gains.filter((g) => g > 0).length}/${gains.length}`,
);
fs.rmSync(work, { recursive: true, force: true });
