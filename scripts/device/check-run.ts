// The GPU check's helper, bundled into device-bundle/dist/trainer/device-check.js beside the
// trainer (so the bundled webgpu package finds the same dawn.node). gpu-check.sh calls it:
//   probe                          the WebGPU adapter Dawn finds (JSON on stdout)
//   run --name N --backend B ...   one training run of the trainer, timed out on its own; appends a result to --results
//   report --results R             the table of measured samples/s and the webgpu / CPU ratios
// It only reports what a run measured: a run that failed or timed out is listed as such, never estimated.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { parseEvents, type RunEvent } from '../../src/protocol/events.ts';
import { adapterLabel, probeDawn } from '../../src/core/webgpu.ts';

/** One sub-run's outcome, one JSON line of the results file. */
interface RunResult {
  name: string;
  backend: string;
  status: 'finished' | 'stopped as planned' | 'failed' | 'timed out';
  exitCode: number | null;
  seconds: number;
  /** Why it failed, from the run's events or the last lines of its output. */
  reason?: string;
  /** The backend the run recorded in run_started (name, device, reason, and the adapter when recorded). */
  recorded?: Record<string, unknown>;
  /** The measured phase: training samples/s, and over what. */
  measure?: { phase: string; samplesPerSecond: number; basis: string; steps: number; batch: number };
  /** KD runs: (training examples x epochs) / (teacher outputs + student training), as in scripts/bench.ts. */
  kdPhaseSamplesPerSecond?: number;
  testAccuracy?: Record<string, number>;
  log: string;
}

const die = (msg: string): never => {
  console.error(`device-check: ${msg}`);
  process.exit(2);
};

async function probe(): Promise<void> {
  // The trainer's own probe: what a --backend webgpu run would find.
  const dawn = await probeDawn();
  console.log(
    JSON.stringify(
      dawn.ok
        ? { ok: true, software: dawn.adapter.software, adapter: dawn.adapter, label: adapterLabel(dawn.adapter) }
        : dawn,
    ),
  );
  process.exit(0); // Dawn's instance keeps the event loop alive
}

function readEvents(runDir: string): RunEvent[] {
  const file = path.join(runDir, 'events.jsonl');
  return fs.existsSync(file) ? parseEvents(fs.readFileSync(file, 'utf8')) : [];
}

/** Training samples/s of a phase: epochs 2..n when there are two or more (the first compiles shaders), else steps 2..n, else the one epoch. */
function measurePhase(events: RunEvent[], phase: string, batch: number): RunResult['measure'] {
  const epochs = events.filter((e) => e.type === 'epoch' && e.phase === phase) as Extract<
    RunEvent,
    { type: 'epoch' }
  >[];
  const steps = events.filter((e) => e.type === 'step' && e.phase === phase) as Extract<RunEvent, { type: 'step' }>[];
  const started = events.find((e) => e.type === 'phase_started' && e.phase === phase) as
    Extract<RunEvent, { type: 'phase_started' }> | undefined;
  const perEpoch = started?.stepsPerEpoch ?? 0;
  if (epochs.length >= 2) {
    const later = epochs.slice(1);
    const samples = later.reduce((s, e) => s + e.samplesPerSecond * e.seconds, 0);
    const secs = later.reduce((s, e) => s + e.seconds, 0);
    return {
      phase,
      samplesPerSecond: samples / secs,
      basis: `epochs 2-${epochs.length} of ${perEpoch} steps (epoch 1 left out: warm-up)`,
      steps: later.length * perEpoch,
      batch,
    };
  }
  // Step events come every logEvery steps; the runs that train few steps log every step.
  const stepAfterFirst = steps.filter((e) => e.step > 1);
  if (stepAfterFirst.length >= 1 && steps[0]?.step === 1) {
    const secs = stepAfterFirst.reduce((s, e) => s + batch / e.samplesPerSecond, 0);
    return {
      phase,
      samplesPerSecond: (stepAfterFirst.length * batch) / secs,
      basis: `steps 2-${stepAfterFirst.at(-1)!.step} (step 1 left out: warm-up)`,
      steps: stepAfterFirst.length,
      batch,
    };
  }
  if (epochs.length === 1)
    return {
      phase,
      samplesPerSecond: epochs[0].samplesPerSecond,
      basis: `epoch 1 of ${perEpoch} steps, warm-up included`,
      steps: perEpoch,
      batch,
    };
  return undefined;
}

async function run(args: string[]): Promise<void> {
  const { values: o } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      backend: { type: 'string' },
      config: { type: 'string' },
      work: { type: 'string' },
      results: { type: 'string' },
      log: { type: 'string' },
      timeout: { type: 'string', default: '120' },
      epochs: { type: 'string' },
      'teacher-epochs': { type: 'string' },
      'train-limit': { type: 'string' },
      'log-every': { type: 'string' },
      measure: { type: 'string', default: 'distill' },
      'stop-after': { type: 'string' },
    },
  });
  const name = o.name ?? die('run needs --name');
  const backend = o.backend ?? die('run needs --backend');
  const work = path.resolve(o.work ?? die('run needs --work'));
  const log = path.resolve(o.log ?? path.join(work, `${name}.log`));
  const timeoutS = Number(o.timeout);
  const config = JSON.parse(fs.readFileSync(o.config ?? die('run needs --config'), 'utf8'));
  delete config.$schema;
  // Only what the check measures: no ONNX export or latency bench (onnxruntime is not in the bundle),
  // no on-disk teacher cache (each run computes the teacher's outputs itself, so each is timed alike).
  config.name = name;
  config.export = { onnx: false };
  config.bench = { enabled: false };
  config.cache = { teacherOutputs: false, dir: path.join(work, 'cache') };
  config.output = { dir: path.join(work, 'runs') };
  if (o.epochs) config.train.epochs = Number(o.epochs);
  if (o['teacher-epochs']) config.teacher.epochs = Number(o['teacher-epochs']);
  if (o['train-limit']) config.data.trainLimit = Number(o['train-limit']);
  if (o['log-every']) config.train.logEvery = Number(o['log-every']);
  const runDir = path.join(work, `${name}.run`);
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.mkdirSync(runDir, { recursive: true });
  const file = path.join(work, `${name}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));

  const t0 = performance.now();
  const out = fs.openSync(log, 'w');
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'cli.js'), 'train', file, '--backend', backend, '--run-dir', runDir],
    { stdio: ['ignore', out, out] },
  );
  let timedOut = false;
  let stoppedAsPlanned = false;
  // Two SIGTERMs: the trainer stops at once on the second (one would finish the step and checkpoint).
  const stop = () => {
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGTERM'), 300);
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutS * 1000);
  // --stop-after teacher: the CPU conv run ends once the teacher phase's last epoch is recorded
  // (its test evaluation and the student would take minutes on the JS cpu backend).
  const lastEpochDone = (events: RunEvent[]) => {
    const started = events.find((e) => e.type === 'phase_started' && e.phase === o['stop-after']);
    return (
      started?.type === 'phase_started' &&
      events.some((e) => e.type === 'epoch' && e.phase === started.phase && e.epoch === started.epochs)
    );
  };
  const watch = o['stop-after']
    ? setInterval(() => {
        if (!stoppedAsPlanned && lastEpochDone(readEvents(runDir))) {
          // Killed, not stopped: a signal waits for the current synchronous kernel (tens of seconds on cpu), and the run folder is thrown away.
          stoppedAsPlanned = true;
          child.kill('SIGKILL');
        }
      }, 500)
    : undefined;
  const exitCode: number | null = await new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  clearTimeout(timer);
  if (watch) clearInterval(watch);
  fs.closeSync(out);
  const seconds = (performance.now() - t0) / 1000;

  let events: RunEvent[] = [];
  let parseProblem: string | undefined;
  try {
    events = readEvents(runDir);
  } catch (err) {
    parseProblem = (err as Error).message;
  }
  const started = events.find((e) => e.type === 'run_started');
  const failed = events.find((e) => e.type === 'run_failed');
  const finished = events.some((e) => e.type === 'run_finished');
  const status: RunResult['status'] = stoppedAsPlanned
    ? 'stopped as planned'
    : timedOut
      ? 'timed out'
      : finished && exitCode === 0
        ? 'finished'
        : 'failed';
  const tail = fs
    .readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .slice(-3)
    .join(' | ');
  const result: RunResult = { name, backend, status, exitCode, seconds, log };
  if (status === 'timed out') result.reason = `timed out after ${timeoutS} s; last output: ${tail}`;
  else if (status === 'failed') result.reason = failed?.type === 'run_failed' ? failed.reason : (parseProblem ?? tail);
  if (started?.type === 'run_started') result.recorded = started.backend as unknown as Record<string, unknown>;
  const batch = config.data.batchSize ?? 128;
  result.measure = measurePhase(events, o.measure!, batch);
  const outputs = events.find((e) => e.type === 'teacher_outputs');
  const distill = events.find((e) => e.type === 'phase_finished' && e.phase === 'distill');
  if (
    o.measure === 'distill' &&
    outputs?.type === 'teacher_outputs' &&
    distill?.type === 'phase_finished' &&
    started?.type === 'run_started'
  )
    result.kdPhaseSamplesPerSecond = (started.data.train * distill.epochs) / (outputs.seconds + distill.seconds);
  const tests = events.filter((e) => e.type === 'evaluation' && e.split === 'test') as Extract<
    RunEvent,
    { type: 'evaluation' }
  >[];
  if (tests.length) result.testAccuracy = Object.fromEntries(tests.map((e) => [e.phase, e.metrics.accuracy]));
  fs.appendFileSync(o.results ?? die('run needs --results'), JSON.stringify(result) + '\n');

  const measured = result.measure
    ? `${rate(result.measure.samplesPerSecond)} samples/s (${result.measure.phase}, ${result.measure.basis})`
    : 'no samples/s measured';
  console.log(`${name} on ${backend}: ${status} in ${seconds.toFixed(1)} s; ${measured}`);
  if (result.recorded) console.log(`  backend recorded: ${describeRecorded(result.recorded)}`);
  if (result.reason) console.log(`  reason: ${result.reason}`);
  if (result.testAccuracy)
    console.log(
      `  test accuracy: ${Object.entries(result.testAccuracy)
        .map(([k, v]) => `${k} ${(v * 100).toFixed(2)}%`)
        .join(', ')}`,
    );
}

function describeRecorded(r: Record<string, unknown>): string {
  const { tried: _tried, ...rest } = r;
  return JSON.stringify(rest);
}

/** Samples/s: whole numbers from 100 up, one decimal below (the JS cpu backend trains convs at a few per second). */
const rate = (v: number | undefined) => (v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1));

function report(args: string[]): void {
  const { values: o } = parseArgs({ args, options: { results: { type: 'string' } } });
  const file = o.results ?? die('report needs --results');
  const results: RunResult[] = fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  const rows = [
    [
      'run',
      'backend',
      'status',
      'samples/s',
      'measured over',
      'KD phase samples/s',
      'test accuracy',
      'wall s',
      'device (as the run recorded it)',
    ],
  ];
  for (const r of results) {
    const acc = r.testAccuracy
      ? Object.entries(r.testAccuracy)
          .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`)
          .join(', ')
      : '-';
    rows.push([
      r.name,
      r.backend,
      r.status,
      rate(r.measure?.samplesPerSecond),
      r.measure?.basis ?? (r.reason ?? '-').slice(0, 100),
      rate(r.kdPhaseSamplesPerSecond),
      acc,
      r.seconds.toFixed(1),
      String(r.recorded?.device ?? '-'),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  console.log(
    rows
      .map((row) =>
        row
          .map((cell, c) => cell.padEnd(widths[c]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n'),
  );
  console.log('');
  // Ratios between the webgpu run and the CPU run of the same job, both measured here.
  for (const job of [...new Set(results.map((r) => r.name.replace(/-[^-]+$/, '')))]) {
    const gpu = results.find((r) => r.name === `${job}-webgpu`);
    const cpu = results.find((r) => r.name.startsWith(`${job}-`) && r !== gpu);
    if (!gpu || !cpu) continue;
    const what = `${job}: webgpu / ${cpu.backend} training samples/s`;
    // A ratio only between two runs that did what they were to do (a failed run may have timed an epoch, but not the job).
    const ok = (r: RunResult) => r.status === 'finished' || r.status === 'stopped as planned';
    if (!ok(gpu) || !ok(cpu)) console.log(`${what}: no ratio (webgpu ${gpu.status}, ${cpu.backend} ${cpu.status})`);
    else if (gpu.measure && cpu.measure)
      console.log(
        `${what} = ${(gpu.measure.samplesPerSecond / cpu.measure.samplesPerSecond).toFixed(2)}x (${rate(gpu.measure.samplesPerSecond)} / ${rate(cpu.measure.samplesPerSecond)})`,
      );
    else
      console.log(
        `${what}: no ratio (${!gpu.measure ? `webgpu ${gpu.status}` : ''}${!gpu.measure && !cpu.measure ? ', ' : ''}${!cpu.measure ? `${cpu.backend} ${cpu.status}` : ''})`,
      );
    if (gpu.kdPhaseSamplesPerSecond && cpu.kdPhaseSamplesPerSecond)
      console.log(
        `${job}: webgpu / ${cpu.backend} KD phase (teacher outputs + student training) = ${(gpu.kdPhaseSamplesPerSecond / cpu.kdPhaseSamplesPerSecond).toFixed(2)}x`,
      );
  }
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'probe') void probe();
else if (command === 'run') run(rest).catch((err) => die(String((err as Error).stack ?? err)));
else if (command === 'report') report(rest);
else
  die(
    'usage: device-check.js probe | run --name N --backend B --config C --work W --results R [...] | report --results R',
  );
