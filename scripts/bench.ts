// `npm run bench`: the job of ../shared/anchors/torch_fashion_kd.py (full Fashion-MNIST, the CNN
// teacher, a 784-64-10 MLP student, scratch and distilled, 5 epochs, batch 128, T = 4, alpha = 0.5)
// with our trainer on each requested backend, and with PyTorch when it is installed, twice: online
// (the teacher forward in every step) and --cache-teacher (its logits once, the same work as our
// offline KD); medians over repeated runs, per phase, with the ratio ours / each. A backend that
// `distill doctor` reports as not loading, or a webgpu whose only adapter is a software one, is
// listed as "unavailable: <reason>" and not run. Then, per backend, the online teacher's cost per
// batch (data.augment: gather + augment + teacher forward, against the offline gather of precomputed
// outputs; scripts/bench-online-teacher.ts), and the first run's distilled student at fp32, fp16 and
// int8 (size, test accuracy against fp32, latency in onnxruntime-node and onnxruntime-web wasm).
// Writes .distill/bench/<time>.json.
// usage: npm run bench -- [--repeat 3] [--backends tensorflow,wasm] [--epochs 5] [--threads 2] [--no-torch]
//                         [--torch online,cached] [--python python3] [--allow-software]
//                         [--no-online-teacher | --online-teacher-only] [--no-precisions]
//   e.g. on a GPU machine: npm run bench -- --backends webgpu,tensorflow-gpu
//        image-folder decoding: npm run bench -- --only images [--images 10000] (see scripts/bench-images.ts)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { parseEvents, type RunEvent } from '../src/protocol/events.ts';
import type { DoctorReport } from '../src/protocol/backends.ts';
import { foldRun } from '../src/protocol/run.ts';
import type { BenchReport } from '../src/core/run/deliverables.ts';
import { formatPrecisionBench } from '../src/trainer/precisionReport.ts';

const root = path.join(__dirname, '..');
// `--only images`: image-folder decoding throughput instead (scripts/bench-images.ts, its own options).
const onlyAt = process.argv.indexOf('--only');
if (onlyAt >= 0) {
  const only = process.argv[onlyAt + 1];
  if (only !== 'images') {
    console.error(`bench: --only takes images, not "${only ?? ''}"`);
    process.exit(2);
  }
  const args = process.argv.slice(2).filter((_, i) => i !== onlyAt - 2 && i !== onlyAt - 1);
  const r = spawnSync(process.execPath, [...process.execArgv, path.join(__dirname, 'bench-images.ts'), ...args], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}
const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    backends: { type: 'string', default: 'tensorflow,wasm' },
    epochs: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    data: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    anchor: { type: 'string', default: path.join(root, '..', 'shared', 'anchors', 'torch_fashion_kd.py') },
    'no-torch': { type: 'boolean', default: false },
    torch: { type: 'string', default: 'online,cached' },
    python: { type: 'string', default: 'python3' },
    'allow-software': { type: 'boolean', default: false },
    'no-online-teacher': { type: 'boolean', default: false },
    'online-teacher-only': { type: 'boolean', default: false },
    'no-precisions': { type: 'boolean', default: false },
  },
});
const repeat = Number(values.repeat);
const epochs = Number(values.epochs);
const dataDir = values.data!;
if (!fs.existsSync(path.join(dataDir, 'train-images-idx3-ubyte.gz'))) {
  console.error(
    `bench: full Fashion-MNIST not found in ${dataDir} (Debian: apt-get install dataset-fashion-mnist; or --data <folder>)`,
  );
  process.exit(2);
}
const cli = path.join(root, 'dist', 'trainer', 'cli.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-bench-'));
const TEACHER_MACS = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 9 * 32 + 3136 * 128 + 128 * 10;
const STUDENT_MACS = 784 * 64 + 64 * 10;
const N_TRAIN = 60000;
const N_ALL = 70000;

interface Measure {
  teacherS?: number;
  scratchS: number;
  kdS: number;
  /** Of which the teacher's outputs (ours: once; PyTorch: inside every step). */
  kdTeacherS?: number;
  jobS: number;
  peakMiB: number;
  acc: { teacher: number; scratch: number; kd: number };
  /** Ours: where the run computed, as it recorded it (run_started). */
  device?: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function ours(
  backend: string,
  seed: number,
  teacherModel?: string,
): { m: Measure; teacherArtifact: string; runDir: string } {
  const config = {
    name: `bench-${backend}`,
    data: { source: 'idx', dir: dataDir, validationFraction: 0, batchSize: 128, evalBatchSize: 1000 },
    teacher: teacherModel
      ? { source: 'tfjs', path: teacherModel }
      : {
          source: 'train',
          architecture: { type: 'cnn', channels: [32, 64], kernelSize: 3, pool: 'max', dense: [128] },
          epochs,
        },
    student: { architecture: { type: 'mlp', hidden: [64] } },
    distill: { method: 'kd', temperature: 4, alpha: 0.5 },
    train: { epochs, optimizer: { type: 'adam', learningRate: 0.001 }, seed, logEvery: 100 },
    baseline: true,
    backend,
    export: { onnx: false },
    bench: { enabled: false },
    output: { dir: path.join(work, 'runs') },
  };
  const file = path.join(work, `${backend}-${seed}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, 'train', file], {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  const jobS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`our ${backend} run failed:\n${r.stderr}`);
  const runDir = r.stdout.match(/run folder: (.*)/)![1].trim();
  const events: RunEvent[] = parseEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
  const phase = (p: string) => events.find((e) => e.type === 'phase_finished' && e.phase === p);
  const secs = (p: string) => {
    const e = phase(p);
    return e?.type === 'phase_finished' ? e.seconds : undefined;
  };
  const outputs = events.find((e) => e.type === 'teacher_outputs');
  const started = events.find((e) => e.type === 'run_started');
  const done = events.find((e) => e.type === 'run_finished');
  if (done?.type !== 'run_finished' || outputs?.type !== 'teacher_outputs') throw new Error('incomplete run');
  const acc = (m: string) => done.summary.find((s) => s.model === m)!.accuracy;
  return {
    m: {
      teacherS: secs('teacher'),
      scratchS: secs('scratch')!,
      kdS: outputs.seconds + secs('distill')!,
      kdTeacherS: outputs.seconds,
      jobS,
      peakMiB: done.peakRssMiB ?? NaN,
      acc: { teacher: acc('teacher'), scratch: acc('scratch'), kd: acc('distilled') },
      device: started?.type === 'run_started' ? started.backend.device : undefined,
    },
    teacherArtifact: teacherModel ?? path.join(runDir, 'artifacts', 'teacher', 'model.json'),
    runDir,
  };
}

/** The anchor's two ways of using the teacher: online (forward in every step) or cached once. */
type TorchMode = 'online' | 'cached';
const TORCH_LABEL: Record<TorchMode, string> = { online: 'online teacher', cached: 'cached teacher' };

function torch(seed: number, mode: TorchMode): Measure | undefined {
  const probe = spawnSync(values.python!, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) return undefined;
  const wrapper =
    'import resource, runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__"); print("MAXRSS_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)';
  const t0 = performance.now();
  const r = spawnSync(
    values.python!,
    [
      '-c',
      wrapper,
      values.anchor!,
      '--json',
      '--threads',
      values.threads!,
      '--epochs',
      String(epochs),
      '--teacher-epochs',
      String(epochs),
      '--seed',
      String(seed),
      '--data',
      dataDir,
      ...(mode === 'cached' ? ['--cache-teacher'] : []),
    ],
    { encoding: 'utf8' },
  );
  const jobS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`PyTorch anchor failed:\n${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  const rss = Number(r.stderr.match(/MAXRSS_KIB (\d+)/)?.[1] ?? NaN);
  return {
    teacherS: res.teacher.train_s,
    scratchS: res.scratch.train_s,
    kdS: res.kd.train_s,
    jobS,
    peakMiB: rss / 1024,
    acc: { teacher: res.teacher.acc, scratch: res.scratch.acc, kd: res.kd.acc },
  };
}

function medianMeasure(ms: Measure[]): Measure {
  const med = (f: (m: Measure) => number | undefined) => {
    const xs = ms.map(f).filter((x): x is number => x !== undefined && !Number.isNaN(x));
    return xs.length ? median(xs) : undefined;
  };
  return {
    teacherS: med((m) => m.teacherS),
    scratchS: med((m) => m.scratchS)!,
    kdS: med((m) => m.kdS)!,
    kdTeacherS: med((m) => m.kdTeacherS),
    jobS: med((m) => m.jobS)!,
    peakMiB: med((m) => m.peakMiB) ?? NaN,
    device: ms[0]?.device,
    acc: { teacher: med((m) => m.acc.teacher)!, scratch: med((m) => m.acc.scratch)!, kd: med((m) => m.acc.kd)! },
  };
}

const flops = {
  teacher: 6 * TEACHER_MACS * N_TRAIN * epochs,
  scratch: 6 * STUDENT_MACS * N_TRAIN * epochs,
  kdOurs: 2 * TEACHER_MACS * N_ALL + 6 * STUDENT_MACS * N_TRAIN * epochs,
  kdTorch: 2 * TEACHER_MACS * N_TRAIN * epochs + 6 * STUDENT_MACS * N_TRAIN * epochs,
  kdTorchCached: 2 * TEACHER_MACS * N_TRAIN + 6 * STUDENT_MACS * N_TRAIN * epochs,
};

/** What `distill doctor --json` says of each backend; undefined when it cannot answer (each run then says why it fails). */
function doctor(): DoctorReport | undefined {
  const r = spawnSync(process.execPath, [cli, 'doctor', '--json'], {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  try {
    return r.status === 0 ? (JSON.parse(r.stdout) as DoctorReport) : undefined;
  } catch {
    return undefined;
  }
}

/** Why a backend is not measured, or undefined when it is. Never an estimate: no figure at all. */
function unavailable(backend: string, report: DoctorReport | undefined): string | undefined {
  if (!report) return undefined;
  const b = report.backends.find((x) => x.name === backend);
  if (!b) return `not a backend the trainer knows (it knows ${report.backends.map((x) => x.name).join(', ')})`;
  if (!b.loads) return `${b.detail}${b.fix ? `; fix: ${b.fix}` : ''}`;
  // A CPU rasterizer would take hours on the full job and says nothing about a GPU.
  if (b.adapter?.software && !values['allow-software'])
    return `only a software adapter (${b.adapter.description || b.adapter.device}), not a GPU (--allow-software runs it anyway)`;
  return undefined;
}

interface OnlineTeacherCost {
  backend: string;
  batch: number;
  offlineGatherMs: number;
  augmentMs: number;
  onlineMs: number;
  device?: string;
}

/** The online teacher's cost per batch on each backend, each in its own process; a failure is a line, not a figure. */
function onlineTeacherCosts(backends: string[]): OnlineTeacherCost[] {
  const costs: OnlineTeacherCost[] = [];
  for (const backend of backends) {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'scripts', 'bench-online-teacher.ts'), '--backend', backend],
      { cwd: root, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } },
    );
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    if (r.status === 0 && last.startsWith('{')) costs.push(JSON.parse(last) as OnlineTeacherCost);
    else console.error(`bench: online teacher on ${backend} failed: ${r.stderr.trim().split('\n').at(-1)}`);
  }
  return costs;
}

/**
 * The first run's distilled student at fp32, fp16 and int8: `distill export --precision` (each
 * measured on the test split in onnxruntime), then `distill bench` (onnxruntime-node CPU and
 * onnxruntime-web wasm), each in its own process after the timed jobs.
 */
function printPrecisions(run: { backend: string; runDir: string }): BenchReport | undefined {
  const cliRun = (args: string[]) =>
    spawnSync(process.execPath, [cli, ...args], {
      encoding: 'utf8',
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
    });
  for (const precision of ['fp16', 'int8']) {
    const r = cliRun(['export', run.runDir, '--format', 'onnx', '--precision', precision]);
    if (r.status !== 0) {
      console.error(`bench: ${precision} export failed: ${r.stderr.trim().split('\n').at(-1)}`);
      return undefined;
    }
  }
  const b = cliRun(['bench', run.runDir]);
  if (b.status !== 0) {
    console.error(`bench: distill bench failed: ${b.stderr.trim().split('\n').at(-1)}`);
    return undefined;
  }
  const report = JSON.parse(fs.readFileSync(path.join(run.runDir, 'bench.json'), 'utf8')) as BenchReport;
  const exports = foldRun(parseEvents(fs.readFileSync(path.join(run.runDir, 'events.jsonl'), 'utf8'))).precisionExports;
  console.log('');
  console.log(
    formatPrecisionBench('student', report.results, report.onnxBytes.student, report.precisionFiles, exports ?? []),
  );
  console.log(
    `  the distilled student of the first ${run.backend} run (\`distill export --precision fp16|int8\`, then \`distill bench\`)${report.webUnavailable ? `; onnxruntime-web: ${report.webUnavailable}` : ''}`,
  );
  return report;
}

function printOnlineTeacher(costs: OnlineTeacherCost[]): void {
  if (costs.length === 0) return;
  const header = ['online teacher, ms per batch', ...costs.map((c) => c.backend)];
  const cells = [
    header,
    ['offline: gather precomputed logits', ...costs.map((c) => c.offlineGatherMs.toFixed(2))],
    ['online: gather + augment', ...costs.map((c) => c.augmentMs.toFixed(1))],
    ['online: gather + augment + teacher forward', ...costs.map((c) => c.onlineMs.toFixed(1))],
    ['online / offline', ...costs.map((c) => `${Math.round(c.onlineMs / c.offlineGatherMs)}x`)],
  ];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  console.log(
    cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n'),
  );
  console.log(
    `  the demo CNN teacher on batches of ${costs[0].batch} demo images (crop 4, flip, translate 2), medians; ${costs.map((c) => `${c.backend}: ${c.device}`).join('; ')}`,
  );
}

const results: Record<string, { runs: Measure[]; median: Measure }> = {};
const backendStatus: Array<{ backend: string; status: string; device?: string }> = [];
const report = doctor();
if (!report) console.error('bench: distill doctor did not answer; each backend is tried by running it');
const requested = values
  .backends!.split(',')
  .map((b) => b.trim())
  .filter(Boolean);
const measurable = requested.filter((b) => !unavailable(b, report));
if (values['online-teacher-only']) {
  printOnlineTeacher(onlineTeacherCosts(measurable));
  process.exit(0);
}
let teacherForOthers: string | undefined;
/** The first measured run: its distilled student is exported at each precision and timed (printPrecisions). */
let firstRun: { backend: string; runDir: string } | undefined;
for (const backend of requested) {
  const why = unavailable(backend, report);
  if (why) {
    backendStatus.push({ backend, status: `unavailable: ${why}` });
    console.error(`bench: ${backend}: unavailable: ${why}`);
    continue;
  }
  const runs: Measure[] = [];
  let failure: string | undefined;
  for (let i = 0; i < repeat; i++) {
    // wasm cannot train conv layers (nor, in useful time, the JS cpu backend): they distil from a teacher trained by another backend's run.
    const needsTeacher =
      backend === 'wasm' ||
      backend === 'cpu' ||
      report?.backends.find((b) => b.name === backend)?.canTrainConvs === false;
    if (needsTeacher && !teacherForOthers) {
      teacherForOthers = path.join(root, 'media', 'demo', 'teacher', 'model.json');
      console.error(
        `bench: ${backend} cannot train the CNN teacher; it distils from the demo teacher (8 epochs, not ${epochs})`,
      );
    }
    try {
      const r = ours(backend, i, needsTeacher ? teacherForOthers : undefined);
      if (!needsTeacher) teacherForOthers ??= r.teacherArtifact;
      firstRun ??= { backend, runDir: r.runDir };
      runs.push(r.m);
      console.error(`bench: ${backend} run ${i + 1}/${repeat}: job ${r.m.jobS.toFixed(1)} s`);
    } catch (err) {
      failure = (err as Error).message
        .split('\n')
        .filter((l) => l.trim())
        .slice(0, 3)
        .join(' ');
      console.error(`bench: ${backend} failed: ${failure}`);
      break;
    }
  }
  if (runs.length) results[`ours ${backend}`] = { runs, median: medianMeasure(runs) };
  backendStatus.push({
    backend,
    status: runs.length
      ? `measured, ${runs.length} run(s)${failure ? ` (then failed: ${failure})` : ''}`
      : `failed: ${failure}`,
    device: runs[0]?.device,
  });
}
const torchModes = values['no-torch'] ? [] : (values.torch!.split(',').map((m) => m.trim()) as TorchMode[]);
for (const mode of torchModes) {
  if (!(mode in TORCH_LABEL)) {
    console.error(`bench: --torch takes online and/or cached, not "${mode}"`);
    process.exit(2);
  }
  const runs: Measure[] = [];
  for (let i = 0; i < repeat; i++) {
    const m = torch(i, mode);
    if (!m) {
      console.error(`bench: ${values.python} with torch not found (--python names another); PyTorch not compared`);
      break;
    }
    runs.push(m);
    console.error(`bench: pytorch ${TORCH_LABEL[mode]} run ${i + 1}/${repeat}: job ${m.jobS.toFixed(1)} s`);
  }
  if (runs.length)
    results[`pytorch ${values.threads} threads, ${TORCH_LABEL[mode]}`] = { runs, median: medianMeasure(runs) };
  else break;
}

const names = Object.keys(results);
const torchNames = names.filter((n) => n.startsWith('pytorch'));
const oursNames = names.filter((n) => !n.startsWith('pytorch'));
const short = (t: string) => t.replace(/^pytorch .*, /, '');
const fmt = (v: number | undefined, d = 1) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
const rows: string[][] = [
  ['', ...oursNames.flatMap((n) => [n, ...torchNames.map((t) => `vs ${short(t)}`)]), ...torchNames],
];
// Times carry their spread: the median, then (min-max) over the repeated runs.
const line = (
  label: string,
  f: (m: Measure, name: string) => number | undefined,
  d = 1,
  ratio = true,
  spread = false,
) => {
  const ratioTo = (v: number | undefined, t: string) => {
    const tv = f(results[t].median, t);
    return ratio && v !== undefined && tv ? `${(v / tv).toFixed(2)}x` : '';
  };
  const cell = (n: string) => {
    const v = f(results[n].median, n);
    const xs = results[n].runs.map((m) => f(m, n)).filter((x): x is number => x !== undefined && !Number.isNaN(x));
    return spread && xs.length > 1 ? `${fmt(v, d)} (${fmt(Math.min(...xs), d)}-${fmt(Math.max(...xs), d)})` : fmt(v, d);
  };
  rows.push([
    label,
    ...oursNames.flatMap((n) => [cell(n), ...torchNames.map((t) => ratioTo(f(results[n].median, n), t))]),
    ...torchNames.map(cell),
  ]);
};
const kdFlops = (n: string) =>
  !n.startsWith('pytorch') ? flops.kdOurs : n.endsWith(TORCH_LABEL.cached) ? flops.kdTorchCached : flops.kdTorch;
line('teacher training, s', (m) => m.teacherS, 1, true, true);
line('scratch student training, s', (m) => m.scratchS, 1, true, true);
line('KD: teacher outputs + student training, s', (m) => m.kdS, 1, true, true);
line('  of which teacher outputs, s', (m) => m.kdTeacherS, 1, false, true);
line('whole job (process wall time), s', (m) => m.jobS, 1, true, true);
line('teacher training, samples/s', (m) => (m.teacherS ? (N_TRAIN * epochs) / m.teacherS : undefined), 0, false);
line('scratch training, samples/s', (m) => (N_TRAIN * epochs) / m.scratchS, 0, false);
line('KD phase, samples/s', (m) => (N_TRAIN * epochs) / m.kdS, 0, false);
line('teacher training, GFLOP/s', (m) => (m.teacherS ? flops.teacher / m.teacherS / 1e9 : undefined), 1, false);
line('scratch training, GFLOP/s', (m) => flops.scratch / m.scratchS / 1e9, 2, false);
line('KD phase, GFLOP/s (work each one does)', (m, n) => kdFlops(n) / m.kdS / 1e9, 2, false);
line('peak memory, MiB', (m) => m.peakMiB, 0);
line('test accuracy teacher, %', (m) => m.acc.teacher * 100, 2, false);
line('test accuracy scratch, %', (m) => m.acc.scratch * 100, 2, false);
line('test accuracy distilled, %', (m) => m.acc.kd * 100, 2, false);

// Each requested backend's row: measured (and where), or why not.
const bw = Math.max(7, ...backendStatus.map((b) => b.backend.length));
console.log(
  [
    'backend'.padEnd(bw) + '  status',
    ...backendStatus.map((b) => `${b.backend.padEnd(bw)}  ${b.status}${b.device ? `; ${b.device}` : ''}`),
  ].join('\n'),
);
console.log('');
if (names.length) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log(
    rows
      .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '))
      .join('\n'),
  );
}
console.log(
  `\nmedians of ${repeat} run(s), times with their (min-max); ${epochs} epochs, batch 128, T = 4, alpha = 0.5; ratios are ours / PyTorch (below 1 is faster):`,
);
console.log(`  vs ${TORCH_LABEL.online}: the anchor as written, the teacher's forward inside every KD step`);
console.log(
  `  vs ${TORCH_LABEL.cached}: the anchor with --cache-teacher, its logits computed once before the KD phase (the same work as our offline KD)`,
);
console.log(
  `    (its KD phase includes that logits pass, done in chunks of 1000 images, which some PyTorch CPU builds run far slower than chunks of 128: python3 scripts/torch/teacher-logits-chunks.py times it)`,
);
for (const n of oursNames)
  for (const t of torchNames)
    console.log(`KD phase, ${n} / ${t}: ${(results[n].median.kdS / results[t].median.kdS).toFixed(2)}x`);

const precisionBench = values['no-precisions'] || !firstRun ? undefined : printPrecisions(firstRun);

const onlineTeacher = values['no-online-teacher'] ? [] : onlineTeacherCosts(measurable);
console.log('');
printOnlineTeacher(onlineTeacher);

const machine = {
  cpu: os.cpus()[0]?.model,
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.platform()}-${os.arch()} ${os.release()}`,
  node: process.version,
};
const outDir = path.join(root, '.distill', 'bench');
fs.mkdirSync(outDir, { recursive: true });
const out = path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(
  out,
  JSON.stringify(
    { machine, epochs, repeat, flops, backends: backendStatus, results, precisions: precisionBench, onlineTeacher },
    null,
    2,
  ),
);
console.log(`wrote ${path.relative(root, out)}`);
fs.rmSync(work, { recursive: true, force: true });
