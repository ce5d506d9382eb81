/**
 * `distill sweep submit <sweep folder | config | x.sweep.json> --slurm [--partition P] [--gres gpu:1]
 * [--time T] [--max-parallel K] [--extra "#SBATCH ..."]`: the sweep's unfinished tasks as one
 * Slurm job array (src/core/sweep/slurm.ts). A file is planned into a new sweep folder first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createSweepFolder, isSweepFolder, readSweepPlan } from '../core/sweep/folder.ts';
import { planSweep } from '../core/sweep/plan.ts';
import { SlurmError, arraySpec, checkSlurmOptions, submitSweep, type SlurmOptions } from '../core/sweep/slurm.ts';
import { UsageError } from './usageError.ts';

export const SUBMIT_USAGE = `  distill sweep submit <sweep folder | config | x.sweep.json> --slurm [--partition P] [--gres gpu:1] [--time T]
                       [--max-parallel K] [--extra "#SBATCH ..."] [--retry-failed]
                                          submit the unfinished tasks as one Slurm job array (sbatch); the sweep folder
                                          and this install must be on a filesystem the nodes share`;

const EXIT_BAD_INPUT = 2;

export function submitCommand(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      slurm: { type: 'boolean', default: false },
      partition: { type: 'string' },
      gres: { type: 'string' },
      time: { type: 'string' },
      'max-parallel': { type: 'string' },
      extra: { type: 'string', multiple: true },
      'out-dir': { type: 'string' },
      'retry-failed': { type: 'boolean', default: false },
    },
  });
  if (!values.slurm) throw new UsageError('sweep submit needs a scheduler: --slurm (the one supported)');
  if (positionals.length !== 1) throw new UsageError('sweep submit takes one sweep folder, config or sweep file');
  const maxParallel = values['max-parallel'];
  if (maxParallel !== undefined && !/^\d+$/.test(maxParallel))
    throw new UsageError(`--max-parallel must be an integer >= 1, found "${maxParallel}"`);
  const options: SlurmOptions = {
    partition: values.partition,
    gres: values.gres,
    time: values.time,
    maxParallel: maxParallel !== undefined ? Number(maxParallel) : undefined,
    extra: values.extra,
    retryFailed: values['retry-failed'],
  };
  try {
    checkSlurmOptions(options); // before a file is planned: a bad option leaves no sweep folder behind
    const target = path.resolve(positionals[0]);
    let dir: string;
    let plannedHere = false;
    if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
      if (!isSweepFolder(target)) throw new UsageError(`${positionals[0]} is not a sweep folder (no sweep.json)`);
      if (values['out-dir'] !== undefined) throw new UsageError('--out-dir applies when planning from a file');
      dir = target;
    } else {
      if (!fs.existsSync(target))
        throw new UsageError(
          `${positionals[0]} does not exist; expected a sweep folder, a *.distill.json or a *.sweep.json`,
        );
      const created = createSweepFolder(
        planSweep(target),
        values['out-dir'] !== undefined ? path.resolve(values['out-dir']) : undefined,
      );
      dir = created.dir;
      plannedHere = true;
      console.log(`planned ${created.plan.tasks.length} tasks in ${dir}`);
    }
    const plan = readSweepPlan(dir);
    let result;
    try {
      result = submitSweep(dir, plan, options);
    } catch (err) {
      // Not submitted: a sweep folder planned for this submission is not left behind.
      if (plannedHere && err instanceof SlurmError) {
        fs.rmSync(dir, { recursive: true, force: true });
        console.error(`distill: nothing submitted; removed the sweep folder planned for it (${dir})`);
      }
      throw err;
    }
    const { finished, inQueue, failed } = result.skipped;
    const left = [
      finished.length ? `${finished.length} finished` : '',
      inQueue.length ? `${inQueue.length} still queued or running (${arraySpec(inQueue)})` : '',
      failed.length ? `${failed.length} failed (${arraySpec(failed)}; --retry-failed submits them again)` : '',
    ].filter(Boolean);
    if (!result.submission) {
      console.log(`nothing to submit: of ${plan.tasks.length} tasks, ${left.join(', ')}`);
      return 0;
    }
    const s = result.submission;
    console.log(
      `submitted job array ${s.jobId} (tasks ${arraySpec(s.indices, options.maxParallel)}) with ${s.script}` +
        (left.length ? `; left out: ${left.join(', ')}` : ''),
    );
    console.log(`follow it with: distill sweep status ${dir}`);
    return 0;
  } catch (err) {
    if (err instanceof SlurmError) {
      console.error(`distill: ${err.message}`);
      return EXIT_BAD_INPUT;
    }
    throw err;
  }
}
