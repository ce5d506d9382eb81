/**
 * A sweep on a Slurm cluster: one job array whose task i runs index i of the plan
 * (`distill sweep run <sweep folder> --index $SLURM_ARRAY_TASK_ID`) on a shared filesystem, with
 * the same node binary and the same built CLI as the submitting machine (absolute paths).
 *
 * `submitSweep` writes `slurm/<name>.sbatch`, submits it with `sbatch --parsable` and only then
 * appends the submission to `slurm/submissions.jsonl`; if sbatch is missing or rejects the script,
 * a SlurmError carries sbatch's own words and nothing is recorded (the script is removed).
 * A resubmission covers the tasks that are neither finished nor still queued or running.
 * `slurmTaskStates` reads what Slurm knows of the submitted tasks: squeue (queued and running),
 * scontrol (recently ended), sacct (older ones, where the cluster keeps accounting).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SlurmSubmission, SweepPlan, SweepTaskStatus } from '../../protocol/sweep.ts';
import { fsyncDir, writeFileAtomic } from '../fsutil.ts';
import { packageRoot } from '../paths.ts';
import { taskStatuses } from './folder.ts';

/** Slurm is absent, refused the script, or the options cannot make one: a user error (exit 2). */
export class SlurmError extends Error {
  override name = 'SlurmError';
}

export interface SlurmOptions {
  partition?: string;
  /** `--gres`, e.g. `gpu:1`. */
  gres?: string;
  /** `--time`, e.g. `2:00:00`. */
  time?: string;
  /** The array's `%K`: at most K tasks at once. */
  maxParallel?: number;
  /** Extra `#SBATCH ...` lines, written as given. */
  extra?: string[];
  /** Submit failed tasks too, and let them run again (`distill sweep run --retry-failed`). */
  retryFailed?: boolean;
}

export const SLURM_DIR = 'slurm';
export const SUBMISSIONS_FILE = 'submissions.jsonl';

/** Where the array tasks find node and the CLI (absolute: they run on other machines of the cluster). */
export interface Launcher {
  node: string;
  cli: string;
}

export function defaultLauncher(): Launcher {
  const cli = path.join(packageRoot(), 'dist', 'trainer', 'cli.js');
  if (!fs.existsSync(cli))
    throw new SlurmError(`${cli} does not exist: build the CLI (npm run build) before submitting`);
  return { node: process.execPath, cli };
}

/** `0-3,5,7-9`, with `%K` when K is given: Slurm's array syntax for these indices. */
export function arraySpec(indices: readonly number[], maxParallel?: number): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  if (sorted.length === 0) throw new RangeError('an array needs at least one index');
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    ranges.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return ranges.join(',') + (maxParallel !== undefined ? `%${maxParallel}` : '');
}

/** Expands Slurm's array syntax (`2-3%2`, `4,6-7`, `1-9:2`) into indices. */
export function expandArraySpec(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.replace(/%\d+$/, '').split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) continue;
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    for (let i = from; i <= to; i += step) out.push(i);
  }
  return out;
}

/** A value for an `#SBATCH --opt=value` line: one token, no whitespace (the line has no quoting). */
function checkValue(option: string, value: string | undefined): void {
  if (value === undefined) return;
  if (value === '' || /\s/.test(value))
    throw new SlurmError(`--${option} "${value}": expected one word without spaces`);
}

export function checkSlurmOptions(options: SlurmOptions): void {
  checkValue('partition', options.partition);
  checkValue('gres', options.gres);
  checkValue('time', options.time);
  if (options.maxParallel !== undefined && !(Number.isInteger(options.maxParallel) && options.maxParallel >= 1))
    throw new SlurmError(`--max-parallel ${options.maxParallel}: expected a whole number of at least 1`);
  for (const line of options.extra ?? [])
    if (!/^#SBATCH\s+\S/.test(line) || /[\r\n]/.test(line))
      throw new SlurmError(`--extra "${line}": expected one "#SBATCH <option>" line, such as "#SBATCH --mem=8G"`);
}

/** Single-quoted for bash. */
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A job name Slurm and file names take: letters, digits, `.`, `_`, `-`. */
const safeName = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 64) || 'sweep';

/** The sbatch script for these indices of the sweep in `sweepDir` (absolute). */
export function sbatchScript(
  sweepDir: string,
  plan: SweepPlan,
  indices: readonly number[],
  options: SlurmOptions,
  launcher: Launcher,
): string {
  const logs = path.join(sweepDir, SLURM_DIR, 'logs');
  const lines = [
    '#!/bin/bash',
    `# Written by \`distill sweep submit --slurm\` for the sweep ${plan.sweepId} (${plan.tasks.length} tasks).`,
    '# Array task i trains index i of sweep.json; the sweep folder, node and the CLI must be on a',
    '# filesystem every node shares (the paths are absolute).',
    `#SBATCH --job-name=distill-${safeName(plan.name)}`,
    `#SBATCH --array=${arraySpec(indices, options.maxParallel)}`,
    `#SBATCH --output=${path.join(logs, '%A_%a.out')}`,
    ...(options.partition ? [`#SBATCH --partition=${options.partition}`] : []),
    ...(options.gres ? [`#SBATCH --gres=${options.gres}`] : []),
    ...(options.time ? [`#SBATCH --time=${options.time}`] : []),
    ...(options.extra ?? []),
    'set -euo pipefail',
    `exec ${quote(launcher.node)} ${quote(launcher.cli)} sweep run ${quote(sweepDir)} --index "$SLURM_ARRAY_TASK_ID"${options.retryFailed ? ' --retry-failed' : ''}`,
    '',
  ];
  return lines.join('\n');
}

export function readSubmissions(sweepDir: string): SlurmSubmission[] {
  const file = path.join(sweepDir, SLURM_DIR, SUBMISSIONS_FILE);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as SlurmSubmission];
      } catch {
        return []; // a torn last line of an interrupted append
      }
    });
}

/** Appends one line and makes it durable (the log is append-only, like events.jsonl). */
function appendSubmission(sweepDir: string, submission: SlurmSubmission): void {
  const file = path.join(sweepDir, SLURM_DIR, SUBMISSIONS_FILE);
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, `${JSON.stringify(submission)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDir(path.dirname(file));
}

/** What Slurm reports for one array task. */
export interface SlurmTaskState {
  /** `<array job id>_<index>`. */
  job: string;
  /** Slurm's state name: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ... */
  state: string;
  /** Where it came from. */
  source: 'squeue' | 'scontrol' | 'sacct';
}

export interface SlurmStates {
  byIndex: Map<number, SlurmTaskState>;
  /** Why some of it could not be read (no squeue on the PATH, accounting disabled, ...). */
  notes: string[];
}

function run(cmd: string, args: string[]): { ok: boolean; stdout: string; stderr: string; missing: boolean } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: (r.stderr ?? '').trim(), missing };
}

/** The job id and array index of `1234_5` (squeue, sacct); undefined for `1234_[6-9%2]` (tasks not yet split off). */
function parseTaskId(id: string): { job: string; index: number } | undefined {
  const m = /^(\d+)_(\d+)$/.exec(id.trim());
  return m ? { job: m[1], index: Number(m[2]) } : undefined;
}

/** What Slurm knows of the tasks of this sweep's submissions; the later submission of an index wins. */
export function slurmTaskStates(sweepDir: string): SlurmStates {
  const byIndex = new Map<number, SlurmTaskState>();
  const notes: string[] = [];
  const submissions = readSubmissions(sweepDir);
  if (submissions.length === 0) return { byIndex, notes };
  // Indices of each job: only the submission that owns an index reports it.
  const owner = new Map<number, string>();
  for (const s of submissions) for (const i of s.indices) owner.set(i, s.jobId);
  const jobs = [...new Set(owner.values())];
  const put = (job: string, index: number, state: string, source: SlurmTaskState['source']) => {
    if (owner.get(index) === job) byIndex.set(index, { job: `${job}_${index}`, state, source });
  };

  // Oldest first, so that the more current source overwrites: sacct, then scontrol, then squeue.
  const sacct = run('sacct', ['-n', '-P', '-X', '-j', jobs.join(','), '-o', 'JobID,State']);
  if (sacct.ok)
    for (const line of sacct.stdout.split('\n')) {
      const [id, state] = line.split('|');
      const t = id && parseTaskId(id);
      if (t && state) put(t.job, t.index, state.split(' ')[0], 'sacct');
    }
  else if (!sacct.missing) notes.push(`sacct: ${sacct.stderr || 'no answer'} (states come from squeue and scontrol)`);

  for (const job of jobs) {
    const sc = run('scontrol', ['show', 'job', '-o', job]);
    if (!sc.ok) continue; // forgotten by the controller (MinJobAge passed): sacct or the run folder says the rest
    for (const line of sc.stdout.split('\n')) {
      const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(line)?.[1];
      const arrayJob = field('ArrayJobId');
      const tasks = field('ArrayTaskId');
      const state = field('JobState');
      if (arrayJob !== job || !tasks || !state) continue;
      for (const index of expandArraySpec(tasks)) put(job, index, state, 'scontrol');
    }
  }

  const sq = run('squeue', ['-h', '-r', '-j', jobs.join(','), '-o', '%i|%T']);
  if (sq.missing) notes.push('squeue is not on the PATH: the Slurm states are not known here');
  else if (sq.ok)
    for (const line of sq.stdout.split('\n')) {
      const [id, state] = line.split('|');
      const t = id && parseTaskId(id);
      if (t && state) put(t.job, t.index, state.trim(), 'squeue');
    }
  return { byIndex, notes };
}

const LIVE_STATES = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'REQUEUED', 'RESIZING', 'SUSPENDED']);
/** Slurm ended the task without the run ending on its own: the run folder cannot say why. */
const ENDED_BADLY = new Set([
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
]);

export const isLive = (state: string) => LIVE_STATES.has(state);

/**
 * The run folders' states with Slurm's. While Slurm holds a task, it is `queued` (pending) or
 * `running`, whatever its folder says: the trainer may run on another node, where this machine
 * cannot see its process. A task Slurm ended badly (timeout, cancelled, node failure) before its
 * run recorded an outcome is `failed` with Slurm's reason. Otherwise the run folder says.
 */
export function withSlurmStates(statuses: SweepTaskStatus[], slurm: SlurmStates): SweepTaskStatus[] {
  return statuses.map((s) => {
    const q = slurm.byIndex.get(s.index);
    if (!q) return s;
    const merged: SweepTaskStatus = { ...s, slurmJob: q.job, slurmState: q.state };
    if (s.state === 'finished') return merged;
    if (isLive(q.state)) {
      merged.state = q.state === 'PENDING' ? 'queued' : 'running';
      delete merged.error;
    } else if ((s.state === 'pending' || s.state === 'stopped') && ENDED_BADLY.has(q.state)) {
      merged.state = 'failed';
      merged.error = `Slurm ended array task ${q.job}: ${q.state}${s.error ? `; ${s.error}` : ''}`;
    }
    return merged;
  });
}

export interface SubmitResult {
  /** Undefined when every task is finished or still queued or running: nothing was submitted. */
  submission?: SlurmSubmission;
  /** Indices left out: finished, still queued or running, or failed (without `retryFailed`). */
  skipped: { finished: number[]; inQueue: number[]; failed: number[] };
  script?: string;
}

/** The script's name: `<name>.sbatch` for the first submission, `<name>-<k>.sbatch` for the k-th. */
function scriptPath(sweepDir: string, plan: SweepPlan): string {
  const dir = path.join(sweepDir, SLURM_DIR);
  const base = safeName(plan.name);
  for (let k = 1; ; k++) {
    const file = path.join(dir, k === 1 ? `${base}.sbatch` : `${base}-${k}.sbatch`);
    if (!fs.existsSync(file)) return file;
  }
}

/**
 * Submits the sweep's unfinished tasks that Slurm does not already hold as one job array (see the
 * module comment). `sbatch` is looked up on the PATH (SLURM_CONF and the rest of the environment
 * pass through).
 */
export function submitSweep(
  sweepDir: string,
  plan: SweepPlan,
  options: SlurmOptions,
  launcher: Launcher = defaultLauncher(),
  now = new Date(),
): SubmitResult {
  checkSlurmOptions(options);
  const dir = path.resolve(sweepDir);
  const slurm = slurmTaskStates(dir);
  const statuses = taskStatuses(dir, plan);
  const finished = statuses.filter((s) => s.state === 'finished').map((s) => s.index);
  const inQueue = statuses
    .filter((s) => s.state !== 'finished' && isLive(slurm.byIndex.get(s.index)?.state ?? ''))
    .map((s) => s.index);
  // A task a process runs now (another submission, a local run) is left to it.
  const running = statuses.filter((s) => s.state === 'running').map((s) => s.index);
  const failed = options.retryFailed
    ? []
    : statuses.filter((s) => s.state === 'failed' && !inQueue.includes(s.index)).map((s) => s.index);
  const skip = new Set([...finished, ...inQueue, ...running, ...failed]);
  const indices = plan.tasks.map((t) => t.index).filter((i) => !skip.has(i));
  const skipped = { finished, inQueue: [...new Set([...inQueue, ...running])].sort((a, b) => a - b), failed };
  if (indices.length === 0) return { skipped };

  fs.mkdirSync(path.join(dir, SLURM_DIR, 'logs'), { recursive: true });
  const script = scriptPath(dir, plan);
  writeFileAtomic(script, sbatchScript(dir, plan, indices, options, launcher));
  const r = spawnSync('sbatch', ['--parsable', script], { encoding: 'utf8', timeout: 60_000, cwd: dir });
  const fail = (why: string): never => {
    fs.rmSync(script, { force: true }); // nothing submitted: nothing left that looks submitted
    throw new SlurmError(why);
  };
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    fail(
      'sbatch is not on the PATH: submit from a machine with Slurm (usually a login node), or load it (e.g. module load slurm)',
    );
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT')
    fail(`sbatch did not answer within 60 s (the controller may be down); see squeue before submitting again`);
  if (r.error) fail(`sbatch could not be run: ${r.error.message}`);
  const said = `${(r.stderr ?? '').trim()}${r.stdout?.trim() && r.status !== 0 ? `\n${r.stdout.trim()}` : ''}`;
  if (r.status !== 0) fail(`sbatch rejected ${script} (exit ${r.status}): ${said || 'no message'}`);
  const jobId = /^(\d+)/.exec((r.stdout ?? '').trim())?.[1];
  if (!jobId) fail(`sbatch accepted ${script} but printed no job id: ${(r.stdout ?? '').trim() || said}`);
  const submission: SlurmSubmission = {
    jobId: jobId!,
    submittedAt: now.toISOString(),
    indices,
    script,
    ...(options.partition ? { partition: options.partition } : {}),
  };
  appendSubmission(dir, submission);
  return { submission, skipped, script };
}
