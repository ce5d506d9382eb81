/**
 * `distill sweep plan|run|status|aggregate` and `distill train --seeds`: a sweep folder planned
 * from a config or a `*.sweep.json`, its tasks run here N at a time (or one index, as a Slurm
 * array task runs it), its state, and its table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { planSweep } from '../core/sweep/plan.ts';
import { createSweepFolder, isSweepFolder, readSweepPlan, taskStatuses } from '../core/sweep/folder.ts';
import { defaultParallel, runSweepLocally } from '../core/sweep/local.ts';
import { aggregateSweep } from '../core/sweep/aggregate.ts';
import { formatSweepAggregate } from './sweepReport.ts';
import type { SweepPlan, SweepTaskState } from '../protocol/sweep.ts';
import { UsageError } from './usageError.ts';
import { SUBMIT_USAGE, submitCommand } from './sweepSubmit.ts';
import { slurmTaskStates, withSlurmStates } from '../core/sweep/slurm.ts';

export const SWEEP_USAGE = `  distill sweep plan <config.distill.json | x.sweep.json> [--out-dir D] [--seeds 0,1,2]
                                          write the sweep folder (every task's config) and print its path
  distill sweep run <config | x.sweep.json | sweep folder> [--parallel N] [--index i] [--retry-failed] [--out-dir D] [--seeds ...]
                                          run the unfinished tasks here, N at a time (default: one per core), then aggregate;
                                          --index i runs task i only (a Slurm array task)
  distill sweep status <sweep folder> [--json]   every task's state
  distill sweep aggregate <sweep folder> [--json] the settings' validation mean ± sd, the chosen one, its test gain with its 95 % CI
${SUBMIT_USAGE}`;

const EXIT_FAILED = 1;

/** `--seeds 0,1,2`: distinct integers >= 0. */
export function parseSeeds(text: string): number[] {
  const seeds = text.split(',').map((s) => s.trim());
  for (const s of seeds)
    if (!/^\d+$/.test(s)) throw new UsageError(`--seeds must be integers >= 0 separated by commas, found "${s}"`);
  const values = seeds.map(Number);
  if (new Set(values).size !== values.length) throw new UsageError(`--seeds must be distinct, found ${text}`);
  return values;
}

function parsePositiveInt(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${what} must be an integer >= 1, found "${text}"`);
  return Number(text);
}

/** The built trainer entry the children run (this bundle's own file). */
function trainerEntry(): string {
  const bundled = path.join(__dirname, 'cli.js');
  return fs.existsSync(bundled) ? bundled : path.resolve(process.argv[1]);
}

function plan(file: string, outDir: string | undefined, seeds: number[] | undefined): { dir: string; plan: SweepPlan } {
  if (!fs.existsSync(file))
    throw new UsageError(`${file} does not exist; expected a *.distill.json, a *.sweep.json or a sweep folder`);
  const planned = planSweep(file, { seeds });
  const created = createSweepFolder(planned, outDir ? path.resolve(outDir) : undefined);
  const p = created.plan;
  const settings = p.settings.length;
  console.log(
    `planned ${p.tasks.length} task${p.tasks.length === 1 ? '' : 's'} (${settings} setting${settings === 1 ? '' : 's'} x ${p.seeds.length} seed${p.seeds.length === 1 ? '' : 's'}: ${p.seeds.join(', ')}) in ${created.dir}`,
  );
  return created;
}

/** Stop on the first SIGINT/SIGTERM (children checkpoint), end the children at once on the second. */
function stopSignals(): {
  stop: () => boolean;
  kill: () => boolean;
  signal: () => NodeJS.Signals | undefined;
  dispose: () => void;
} {
  let signal: NodeJS.Signals | undefined;
  let count = 0;
  const onSignal = (s: NodeJS.Signals) => {
    signal ??= s;
    count++;
    process.stderr.write(
      count === 1
        ? `\n${s}: stopping the sweep: running tasks checkpoint and stop (send again to end them at once)\n`
        : `\n${s}: ending the running tasks now\n`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stop: () => count >= 1,
    kill: () => count >= 2,
    signal: () => signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

interface RunRequest {
  dir: string;
  plan: SweepPlan;
  parallel?: number;
  index?: number;
  retryFailed?: boolean;
}

async function runPlanned(req: RunRequest): Promise<number> {
  const { dir, plan: p } = req;
  if (req.index !== undefined && !p.tasks.some((t) => t.index === req.index))
    throw new UsageError(`--index ${req.index}: the sweep has tasks 0 to ${p.tasks.length - 1}`);
  const signals = stopSignals();
  let result;
  try {
    result = await runSweepLocally(dir, p, {
      parallel: req.index !== undefined ? 1 : (req.parallel ?? defaultParallel()),
      indices: req.index !== undefined ? [req.index] : undefined,
      retryFailed: req.retryFailed,
      cliPath: trainerEntry(),
      onLine: (line) => console.log(line),
      shouldStop: signals.stop,
      shouldKill: signals.kill,
    });
  } finally {
    signals.dispose();
  }
  const signal = signals.signal();
  if (req.index === undefined) {
    console.log(`\n${formatSweepAggregate(aggregateSweep(dir, p), p.name)}\n\nsweep folder: ${dir}`);
  }
  if (signal || result.stopped.length) {
    console.log(`resume with: distill sweep run ${dir}${req.index !== undefined ? ` --index ${req.index}` : ''}`);
    return signal === 'SIGINT' ? 130 : 143;
  }
  return result.failed.length ? EXIT_FAILED : 0;
}

/** `distill train <config>` with `seeds` in the config or `--seeds`: the seeds as a sweep, run here. */
export async function trainSeeds(
  file: string,
  seeds: number[] | undefined,
  parallel: number | undefined,
): Promise<number> {
  const created = plan(file, undefined, seeds);
  return runPlanned({ ...created, parallel });
}

function sweepFolderArg(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`sweep ${command} takes one sweep folder`);
  const dir = path.resolve(positionals[0]);
  if (!isSweepFolder(dir)) throw new UsageError(`${positionals[0]} is not a sweep folder (no sweep.json)`);
  return dir;
}

const STATE_ORDER: SweepTaskState[] = ['finished', 'running', 'queued', 'pending', 'stopped', 'failed'];

function status(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  const dir = sweepFolderArg(positionals, 'status');
  const p = readSweepPlan(dir);
  // With Slurm's view of submitted tasks (queued, running, ended by Slurm) where there are any.
  const slurm = slurmTaskStates(dir);
  const tasks = withSlurmStates(taskStatuses(dir, p), slurm);
  if (values.json) {
    console.log(JSON.stringify({ dir, sweepId: p.sweepId, tasks }));
    return 0;
  }
  const counts = STATE_ORDER.map((s) => [s, tasks.filter((t) => t.state === s).length] as const).filter(([, n]) => n);
  console.log(`sweep ${p.sweepId}: ${tasks.length} tasks: ${counts.map(([s, n]) => `${n} ${s}`).join(', ')}`);
  const submitted = tasks.some((t) => t.slurmJob);
  const rows = [
    ['task', 'setting', 'seed', 'state', ...(submitted ? ['slurm'] : []), 'run'],
    ...tasks.map((t) => [
      String(t.index),
      `${t.setting} ${p.settings[t.setting]?.label ?? ''}`,
      String(t.seed),
      t.state,
      ...(submitted ? [t.slurmJob ? `${t.slurmJob} ${t.slurmState}` : '-'] : []),
      t.error ? `${t.runId ?? ''} ${t.error}`.trim() : (t.runId ?? ''),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows)
    console.log(
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    );
  for (const note of slurm.notes) console.log(note);
  return 0;
}

function aggregate(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  const dir = sweepFolderArg(positionals, 'aggregate');
  const p = readSweepPlan(dir);
  const agg = aggregateSweep(dir, p);
  console.log(
    values.json
      ? JSON.stringify(agg)
      : `${formatSweepAggregate(agg, p.name)}\n\nwrote ${path.join(dir, 'aggregate.json')}`,
  );
  return 0;
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      parallel: { type: 'string' },
      index: { type: 'string' },
      'retry-failed': { type: 'boolean', default: false },
      'out-dir': { type: 'string' },
      seeds: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('sweep run takes one config, sweep file or sweep folder');
  const parallel = parsePositiveInt(values.parallel, '--parallel');
  const index = values.index === undefined ? undefined : /^\d+$/.test(values.index) ? Number(values.index) : NaN;
  if (Number.isNaN(index))
    throw new UsageError(`--index must be a task index (an integer >= 0), found "${values.index}"`);
  if (index !== undefined && parallel !== undefined)
    throw new UsageError('--index runs one task; --parallel does not apply');
  const target = path.resolve(positionals[0]);
  const folder = fs.existsSync(target) && fs.statSync(target).isDirectory();
  if (folder) {
    if (values['out-dir'] !== undefined || values.seeds !== undefined)
      throw new UsageError('--out-dir and --seeds apply when planning from a file, not to a sweep folder');
    const dir = sweepFolderArg(positionals, 'run');
    return runPlanned({ dir, plan: readSweepPlan(dir), parallel, index, retryFailed: values['retry-failed'] });
  }
  // Planning anew for every array task would give each its own sweep: an index needs the folder.
  if (index !== undefined)
    throw new UsageError('--index needs a sweep folder (made by distill sweep plan), not a file');
  const seeds = values.seeds !== undefined ? parseSeeds(values.seeds) : undefined;
  const created = plan(target, values['out-dir'], seeds);
  return runPlanned({ ...created, parallel, retryFailed: values['retry-failed'] });
}

export async function sweepCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'plan': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { 'out-dir': { type: 'string' }, seeds: { type: 'string' } },
      });
      if (positionals.length !== 1) throw new UsageError('sweep plan takes one config or sweep file');
      plan(
        path.resolve(positionals[0]),
        values['out-dir'],
        values.seeds !== undefined ? parseSeeds(values.seeds) : undefined,
      );
      return 0;
    }
    case 'run':
      return await run(rest);
    case 'status':
      return status(rest);
    case 'aggregate':
      return aggregate(rest);
    case 'submit':
      return submitCommand(rest);
    default:
      throw new UsageError(
        sub === undefined
          ? 'sweep needs a command: plan, run, status, aggregate or submit'
          : `unknown sweep command "${sub}"`,
      );
  }
}
