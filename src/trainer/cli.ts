/**
 * `distill` — the headless engine's command line, and the process the editor spawns.
 *   distill train <config.distill.json> | distill train --resume <run folder>
 *   distill validate <config.distill.json>
 *   distill init [path] [--force]
 *   distill doctor [--json]
 * Exit codes: 0 done, 1 the run failed, 2 bad input (config, data, model files), 130/143 stopped by a signal.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, problemAt, type ConfigProblem } from '../core/config/problems.ts';
import { loadConfigFile, validateConfigText } from '../core/config/load.ts';
import { DataError } from '../core/data/dataError.ts';
import { BackendError } from '../core/backend.ts';
import { classifyFailure } from '../core/failure.ts';
import { checkConfigFully, runDistillation } from '../core/run/pipeline.ts';
import { writeFileAtomic } from '../core/fsutil.ts';
import { ProgressPrinter, formatSummary, formatBytes } from './report.ts';
import { decodeProgressPrinter } from './decodeProgress.ts';
import {
  benchOptions,
  benchRun,
  exportOnnx,
  readRunConfig,
  runModelPath,
  type RunModel,
} from '../core/run/deliverables.ts';
import { selectBackend } from '../core/backend.ts';
import { INFERENCE_ONLY } from '../core/kernels.ts';
import { BACKEND_NAMES, type BackendName, type BackendPreference } from '../protocol/backends.ts';
import { loadModel, saveModel } from '../core/models/io.ts';
import { RunFolder, readRunRecord } from '../core/run/runFolder.ts';
import type { BenchOptions } from '../core/bench/latency.ts';
import { starterConfig } from './starter.ts';
import { doctorReport } from '../core/doctor.ts';
import { formatDoctor } from './doctorReport.ts';
import { releaseDawn } from '../core/webgpu.ts';
import { PRECISIONS, type Precision } from '../core/export/precision.ts';
import { exportOnnxAtPrecision } from '../core/run/precisionExport.ts';
import { formatPrecisionBench, formatPrecisionExport } from './precisionReport.ts';
import { foldRun } from '../protocol/run.ts';
import { readEventsText } from '../protocol/eventLines.ts';
import { loadDataset } from '../core/data/dataset.ts';
import { UsageError } from './usageError.ts';
import { parseSeeds, sweepCommand, SWEEP_USAGE, trainSeeds } from './sweepCli.ts';

const USAGE = `usage:
  distill train <config.distill.json> [--backend auto|tensorflow-gpu|webgpu|tensorflow|wasm|cpu] [--run-dir <empty folder>]
                                          train the teacher (if configured), the baseline and the distilled student
  distill train --resume <run folder>     continue a stopped or crashed run from its last checkpoint
  distill validate <config.distill.json> [--json]  check a config, its data and its teacher without training
  distill init [path] [--force]           write a starter config (default: kd.distill.json)
  distill export <run folder> --format onnx|tfjs [--model student|teacher|scratch] [--out path] [--precision fp32|fp16|int8]
                                          fp16: float16 weights; int8: QDQ, per-channel weights, calibrated activations;
                                          both report their test accuracy against the fp32 export
  distill bench <run folder> [--threads N] [--batch 1,64] [--seconds S]
                                          time teacher and student (onnxruntime CPU and the tfjs backend)
  distill doctor [--json]                 list every backend: installed, loads, device, trains convolutions, how to fix it
  distill train <config> --seeds 0,1,2 [--parallel N]
                                          the same setting once per seed (also: "seeds" in the config), then
                                          each model's mean ± sd and the paired gain with its 95 % CI
${SWEEP_USAGE}`;

export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;

async function train(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      resume: { type: 'string' },
      'run-dir': { type: 'string' },
      backend: { type: 'string' },
      seeds: { type: 'string' },
      parallel: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  if (values.backend !== undefined && !(['auto', ...BACKEND_NAMES] as string[]).includes(values.backend))
    throw new UsageError(`--backend must be auto, ${BACKEND_NAMES.join(', ')}`);
  if (values.resume ? positionals.length > 0 : positionals.length !== 1)
    throw new UsageError('train takes one config file, or --resume <run folder>');
  const benchThreads = values.threads === undefined ? undefined : Number(values.threads);
  if (benchThreads !== undefined && !(Number.isInteger(benchThreads) && benchThreads >= 1))
    throw new UsageError(`--threads must be an integer >= 1, found "${values.threads}"`);
  // Repeats over seeds (`seeds` in the config, or --seeds) are a sweep of one setting.
  const seeds = values.seeds !== undefined ? parseSeeds(values.seeds) : undefined;
  const config = values.resume ? undefined : loadConfigFile(positionals[0]).config;
  if (config?.sweep)
    throw new UsageError(`${positionals[0]} has a "sweep": run it with distill sweep run ${positionals[0]}`);
  if (seeds || config?.seeds) {
    if (values['run-dir'] || values.backend || values.threads)
      throw new UsageError('--run-dir, --backend and --threads apply to one run, not to repeats over seeds');
    const parallel = values.parallel === undefined ? undefined : Number(values.parallel);
    if (parallel !== undefined && !(Number.isInteger(parallel) && parallel >= 1))
      throw new UsageError(`--parallel must be an integer >= 1, found "${values.parallel}"`);
    return trainSeeds(path.resolve(positionals[0]), seeds, parallel);
  }
  if (values.parallel !== undefined) throw new UsageError('--parallel applies to repeats over seeds (--seeds)');
  const runDir = values['run-dir'] ? path.resolve(values['run-dir']) : undefined;
  if (runDir && (!fs.existsSync(runDir) || fs.existsSync(path.join(runDir, 'run.json'))))
    throw new UsageError(`--run-dir ${runDir} must be an existing folder that holds no run`);
  let signal: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals) => {
    if (signal) process.exit(s === 'SIGINT' ? 130 : 143); // a second signal: stop now
    signal = s;
    process.stderr.write(
      `\n${s}: stopping after the current step and writing a checkpoint (send again to stop at once)\n`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const printer = new ProgressPrinter(process.stdout);
  const result = await runDistillation({
    configFile: positionals[0],
    resumeDir: values.resume ? path.resolve(values.resume) : undefined,
    runDir,
    backend: values.backend as BackendPreference | undefined,
    benchThreads,
    onEvent: (e) => printer.handle(e),
    shouldStop: () => signal !== undefined,
    onDataProgress: decodeProgressPrinter(),
  });
  if (result.status === 'stopped') {
    console.log(`resume with: distill train --resume ${result.runDir}`);
    return signal === 'SIGINT' ? 130 : 143;
  }
  console.log(`\n${formatSummary(result.summary, result.latency, result.onnxBytes)}\n\nrun folder: ${result.runDir}`);
  return EXIT.ok;
}

async function validate(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) throw new UsageError('validate takes one config file');
  const file = path.resolve(positionals[0]);
  if (!values.json) {
    const { data, backend, layers } = await checkConfigFully(file, decodeProgressPrinter());
    console.log(
      `${positionals[0]}: valid (${data.train.n} train, ${data.validation.n} validation, ${data.test.n} test examples of shape [${data.inputShape.join(', ')}], ${data.numClasses} classes; backend ${backend.name})`,
    );
    if (data.unlabeled) console.log(`transfer set: ${data.unlabeled.n} unlabeled examples (${data.unlabeledSource})`);
    // The names that hint, attention and rkd terms refer to.
    console.log(`student layers: ${layers.student.join(', ')}`);
    if (layers.teacher) console.log(`teacher layers: ${layers.teacher.join(', ')}`);
    return EXIT.ok;
  }
  // For editors: every problem located in the file, as JSON on stdout, exit 0 either way.
  let problems: ConfigProblem[] = [];
  try {
    await checkConfigFully(file);
  } catch (err) {
    if (err instanceof ConfigError) problems = err.problems;
    else if (err instanceof DataError || err instanceof BackendError) {
      const source = validateConfigText(fs.readFileSync(file, 'utf8'), file, { checkFiles: false }).source;
      problems = [
        problemAt(source, err instanceof BackendError ? ['backend'] : dataErrorPath(source.text, err), err.message),
      ];
    } else throw err;
  }
  console.log(JSON.stringify({ file, problems }));
  return EXIT.ok;
}

/** The config field a data error is about: the file field that names the file, else `data`. */
function dataErrorPath(text: string, err: DataError): Array<string | number> {
  const data = (JSON.parse(text) as { data?: Record<string, unknown> }).data ?? {};
  const base = path.basename(err.file);
  for (const [key, value] of Object.entries(data)) {
    if (typeof value === 'string' && path.basename(value) === base) return ['data', key];
    if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value))
        if (typeof v === 'string' && path.basename(v) === base) return ['data', key, k];
  }
  return ['data'];
}

/** The backend a run used, as a preference again (runs from before webgpu recorded tfjs names). */
function benchPreference(recorded: string | undefined): BackendPreference {
  return (BACKEND_NAMES as readonly string[]).includes(recorded ?? '') ? (recorded as BackendName) : 'auto';
}

function runFolderArg(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes one run folder`);
  const dir = path.resolve(positionals[0]);
  if (!fs.existsSync(path.join(dir, 'config.json')))
    throw new UsageError(`${positionals[0]} is not a run folder (no config.json)`);
  return dir;
}

async function exportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      model: { type: 'string', default: 'student' },
      out: { type: 'string' },
      precision: { type: 'string', default: 'fp32' },
    },
  });
  const runDir = runFolderArg(positionals, 'export');
  if (values.format !== 'onnx' && values.format !== 'tfjs') throw new UsageError('--format must be onnx or tfjs');
  if (!(PRECISIONS as readonly string[]).includes(values.precision!))
    throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}`);
  const precision = values.precision as Precision;
  if (precision !== 'fp32' && values.format !== 'onnx')
    throw new UsageError('--precision applies to --format onnx only');
  if (!['student', 'teacher', 'scratch'].includes(values.model!))
    throw new UsageError('--model must be student, teacher or scratch');
  const which = values.model as RunModel;
  const config = readRunConfig(runDir);
  if (which === 'teacher' && config.teacher.source === 'onnx')
    throw new UsageError(`this run's teacher is the ONNX file ${config.teacher.path}; it is exported already`);
  const source = runModelPath(runDir, config, which);
  if (!fs.existsSync(source))
    throw new UsageError(`this run has no ${which} model (${source} is missing; did the run finish?)`);
  await selectBackend('cpu', INFERENCE_ONLY);
  const { model } = await loadModel(source);
  if (values.format === 'onnx' && precision !== 'fp32') {
    const out = path.resolve(values.out ?? path.join(runDir, 'artifacts', `${which}.${precision}.onnx`));
    const data = await loadDataset(config.data, config.train.seed, undefined, config.cache.dir);
    const r = await exportOnnxAtPrecision(model, data, out, which, precision);
    // Recorded in the run (as export.precisions records its exports), so its dashboard and `distill bench` show it.
    if (out === path.join(path.resolve(runDir), 'artifacts', `${which}.${precision}.onnx`)) {
      const folder = new RunFolder(runDir);
      try {
        folder.append({
          type: 'artifact',
          kind: `${which}-onnx-${precision}`,
          path: out,
          bytes: r.bytes,
          precision,
          testAccuracy: r.testAccuracy,
          fp32TestAccuracy: r.fp32TestAccuracy,
        });
      } finally {
        folder.close();
      }
    }
    console.log(formatPrecisionExport(r));
  } else if (values.format === 'onnx') {
    const out = path.resolve(values.out ?? path.join(runDir, 'artifacts', `${which}.onnx`));
    const { bytes, maxAbsDiff } = await exportOnnx(model, out, which);
    console.log(
      `wrote ${out} (${formatBytes(bytes)}); onnxruntime matches tfjs within ${maxAbsDiff.toExponential(2)} (max abs)`,
    );
  } else {
    const out = path.resolve(values.out ?? path.join(runDir, 'artifacts', `${which}-tfjs`));
    const bytes = await saveModel(model, out);
    console.log(`wrote ${path.join(out, 'model.json')} and weights (${formatBytes(bytes)})`);
  }
  return EXIT.ok;
}

async function benchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { threads: { type: 'string' }, batch: { type: 'string' }, seconds: { type: 'string' } },
  });
  const runDir = runFolderArg(positionals, 'bench');
  const config = readRunConfig(runDir);
  const overrides: Partial<BenchOptions> = {};
  const num = (v: string, what: string, min: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new UsageError(`${what} must be a number >= ${min}, found "${v}"`);
    return n;
  };
  if (values.threads !== undefined) overrides.threads = Math.floor(num(values.threads, '--threads', 0));
  if (values.batch !== undefined)
    overrides.batchSizes = values.batch.split(',').map((b) => Math.floor(num(b, '--batch', 1)));
  if (values.seconds !== undefined) overrides.minSeconds = num(values.seconds, '--seconds', 0.01);
  const record = readRunRecord(runDir);
  // Time tfjs on the backend the run used, where it can still be loaded.
  const backend = await selectBackend(benchPreference(record.backend?.name), INFERENCE_ONLY).catch(() =>
    selectBackend('auto', INFERENCE_ONLY),
  );
  const folder = new RunFolder(runDir);
  try {
    const report = await benchRun(runDir, config, benchOptions(config, overrides), (e) => folder.append(e), {
      web: true,
    });
    const summary = record.summary ?? [];
    const events = readEventsText(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
    const precisions = (['student', 'teacher'] as const)
      .map((m) =>
        formatPrecisionBench(
          m,
          report.results,
          report.onnxBytes[m],
          report.precisionFiles,
          foldRun(events).precisionExports ?? [],
        ),
      )
      .filter(Boolean);
    console.log(
      `${formatSummary(summary, report.results, report.onnxBytes)}${precisions.map((p) => `\n\n${p}`).join('')}${report.webUnavailable ? `\n\nonnxruntime-web wasm: not timed: ${report.webUnavailable}` : ''}\n\nmachine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.platform}; onnxruntime ${report.machine.onnxruntime}, tfjs ${report.machine.tfjs} on ${backend.name}\nwrote ${path.join(runDir, 'bench.json')}`,
    );
  } finally {
    folder.close();
  }
  return EXIT.ok;
}

async function doctor(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  if (positionals.length > 0) throw new UsageError('doctor takes no arguments');
  const report = await doctorReport();
  console.log(values.json ? JSON.stringify(report) : formatDoctor(report));
  return EXIT.ok;
}

function init(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { force: { type: 'boolean', default: false } },
  });
  if (positionals.length > 1) throw new UsageError('init takes at most one path');
  let target = positionals[0] ?? 'kd.distill.json';
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) target = path.join(target, 'kd.distill.json');
  if (!target.endsWith('.distill.json'))
    throw new UsageError(`${target}: config files are named *.distill.json (so editors apply the schema)`);
  if (fs.existsSync(target) && !values.force) throw new UsageError(`${target} exists; pass --force to overwrite it`);
  if (!fs.existsSync(path.dirname(path.resolve(target))))
    throw new UsageError(`${path.dirname(path.resolve(target))}: the folder does not exist`);
  writeFileAtomic(target, `${JSON.stringify(starterConfig(target), null, 2)}\n`);
  console.log(`wrote ${target}; run it with: distill train ${target}`);
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train':
        return await train(rest);
      case 'validate':
        return await validate(rest);
      case 'init':
        return init(rest);
      case 'export':
        return await exportCommand(rest);
      case 'bench':
        return await benchCommand(rest);
      case 'doctor':
        return await doctor(rest);
      case 'sweep':
        return await sweepCommand(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return command === undefined ? EXIT.badInput : EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`distill: ${err.message}\n${USAGE}`);
      return EXIT.badInput;
    }
    // The classification the run records too (run_failed `kind`): see src/core/failure.ts.
    const failure = classifyFailure(err);
    if (failure === 'input') {
      console.error(`distill: ${(err as Error).message}`);
      return EXIT.badInput;
    }
    if (failure === 'divergence') {
      console.error(`distill: training stopped: ${(err as Error).message}`);
      return EXIT.failed;
    }
    if (
      (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      (err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
    ) {
      console.error(`distill: ${(err as Error).message}\n${USAGE}`);
      return EXIT.badInput;
    }
    console.error(`distill: internal error (please report it): ${(err as Error).stack ?? String(err)}`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    releaseDawn(); // Dawn holds the event loop open while referenced
  });
}
