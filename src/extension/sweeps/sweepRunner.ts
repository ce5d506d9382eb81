/**
 * Runs, stops and submits sweeps through the trainer CLI (`distill sweep plan|run|submit`), each
 * spawned with an argument array. A local sweep runner is spawned detached with its output in
 * `<sweep>/sweep.log`, as the run manager does with trainers, so it outlives a window reload;
 * each task it starts is an ordinary run folder that the Runs view reads.
 *
 * Stop of a whole sweep works for a runner this window did not start as well (a terminal, another
 * window, a `sweep run --index` of a Slurm array on this machine): every running task's
 * `stop.request` makes its trainer checkpoint and end as `stopped` (src/core/run/stopRequest.ts),
 * and the processes that claimed the tasks (`claims/<index>`: the runners, proven by pid and
 * start stamp) get SIGTERM, on which a runner starts no further task. Resume runs `distill sweep
 * run` on the folder again: it resumes stopped and crashed tasks and never reruns a finished one.
 * Free of `vscode`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isTrainerAlive, type TrainerProcess } from '../../core/run/processIdentity.ts';
import { requestStop } from '../../core/run/stopRequest.ts';
import type { SweepTaskStatus } from '../../protocol/sweep.ts';
import { runTrainer, type CliResult, type TrainerCommand } from '../trainerCli.ts';
import { PLAN_FILE, type SweepView } from './sweepStore.ts';

export const SWEEP_LOG = 'sweep.log';

/** What a Slurm submission asks for (each optional: the cluster's defaults apply). */
export interface SlurmOptions {
  partition?: string;
  time?: string;
  maxParallel?: number;
  gres?: string;
}

/** The trainer's arguments of `distill sweep submit`. */
export function submitArgs(target: string, o: SlurmOptions): string[] {
  const args = ['sweep', 'submit', target, '--slurm'];
  if (o.partition) args.push('--partition', o.partition);
  if (o.gres) args.push('--gres', o.gres);
  if (o.time) args.push('--time', o.time);
  if (o.maxParallel !== undefined) args.push('--max-parallel', String(o.maxParallel));
  return args;
}

/** Slurm's time formats (`minutes`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`); a message when `value` is none of them. */
export function checkSlurmTime(value: string): string | undefined {
  if (value === '') return undefined;
  return /^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2})$/.test(value)
    ? undefined
    : `"${value}" is not a Slurm time limit: expected minutes, HH:MM:SS or D-HH:MM:SS (e.g. 30, 2:00:00, 1-00:00:00)`;
}

/** A Slurm partition name as sbatch takes it; a message otherwise. */
export function checkPartition(value: string): string | undefined {
  return value === '' || /^[\w.-]+$/.test(value)
    ? undefined
    : `"${value}" is not a partition name: letters, digits, '.', '_' and '-' only (sinfo lists them)`;
}

/** A positive whole number of array tasks at once; a message otherwise. */
export function checkMaxParallel(value: string): string | undefined {
  return value === '' || /^[1-9]\d*$/.test(value)
    ? undefined
    : `"${value}" is not a number of tasks at once: expected a whole number of at least 1 (empty: no limit)`;
}

/** True when `command` is an executable file in one of PATH's folders. */
export function onPath(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean))
    for (const ext of exts) {
      try {
        fs.accessSync(path.join(dir, command + ext), fs.constants.X_OK);
        return true;
      } catch {
        // not here
      }
    }
  return false;
}

/** The sweep folder in what `distill sweep plan` (or a submit that planned) printed: `planned ... in <dir>`. */
export function plannedFolderIn(stdout: string): string | undefined {
  for (const line of stdout.split('\n').reverse()) {
    const m = /^planned .* in (.+)$/.exec(line.trim());
    if (m && fs.existsSync(path.join(m[1], PLAN_FILE))) return m[1];
  }
  return undefined;
}

/** The sweep folder `distill sweep plan` created; its one-line message when it refused. */
export function plannedFolder(r: CliResult): string {
  if (r.code !== 0)
    throw new Error(r.stderr.trim().replace(/^distill: /, '') || `the trainer exited with code ${r.code}`);
  const dir = plannedFolderIn(r.stdout);
  if (!dir) throw new Error(`distill sweep plan printed no sweep folder: ${r.stdout.trim() || '(nothing)'}`);
  return dir;
}

/** The live processes that claimed tasks of the sweep (`claims/<index>`: pid and start stamp). */
export function claimHolders(sweepDir: string): Array<TrainerProcess & { pid: number }> {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(sweepDir, 'claims'));
  } catch {
    return [];
  }
  const holders = new Map<number, TrainerProcess & { pid: number }>();
  for (const n of names) {
    try {
      const c = JSON.parse(fs.readFileSync(path.join(sweepDir, 'claims', n), 'utf8')) as TrainerProcess;
      const pid = c.pid;
      if (pid !== undefined && Number.isInteger(pid) && pid !== process.pid && isTrainerAlive(c, { fresh: true }))
        holders.set(pid, { ...c, pid });
    } catch {
      // released meanwhile, or being written
    }
  }
  return [...holders.values()];
}

export interface SweepRunnerEvents {
  /** A runner started or ended (the views re-read the folder). */
  changed: [dir: string];
  /** A runner this manager spawned ended, with its exit code and the end of its log. */
  exited: [dir: string, code: number | null, tail: string];
}

export class SweepRunner extends EventEmitter<SweepRunnerEvents> {
  private readonly children = new Map<string, ChildProcess>();

  constructor(private readonly trainer: () => TrainerCommand) {
    super();
  }

  /** The sweeps whose runner this manager spawned and that are still running. */
  get runningDirs(): string[] {
    return [...this.children.keys()];
  }

  /** `distill sweep plan <file>`: creates the sweep folder (under the config's output.dir) without running; resolves its path. */
  async plan(file: string, signal?: AbortSignal): Promise<string> {
    return plannedFolder(await runTrainer(this.trainer(), ['sweep', 'plan', file], signal));
  }

  /**
   * `distill sweep run <sweep folder> [--parallel N]`, detached, its output appended to
   * `<sweep>/sweep.log`. Runs every unfinished task: a resume of the whole sweep.
   */
  run(sweepDir: string, parallel?: number): void {
    if (this.children.has(sweepDir)) throw new Error(`${path.basename(sweepDir)} is already running`);
    const t = this.trainer();
    const args = [t.trainerPath, 'sweep', 'run', sweepDir];
    if (parallel !== undefined) args.push('--parallel', String(parallel));
    const logFile = path.join(sweepDir, SWEEP_LOG);
    const log = fs.openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(t.nodePath, args, {
        cwd: path.dirname(t.trainerPath),
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', ...t.env, ELECTRON_RUN_AS_NODE: '1' },
        stdio: ['ignore', log, log],
        detached: true,
        windowsHide: true,
      });
    } finally {
      fs.closeSync(log);
    }
    this.children.set(sweepDir, child);
    child.unref();
    const done = (code: number | null) => {
      if (this.children.get(sweepDir) !== child) return;
      this.children.delete(sweepDir);
      this.emit('exited', sweepDir, code, logTail(logFile));
      this.emit('changed', sweepDir);
    };
    child.on('error', () => done(null));
    child.on('exit', (code) => done(code));
    this.emit('changed', sweepDir);
  }

  /**
   * Stops a whole sweep: every running task checkpoints and stops (its stop.request), and its
   * runners (this manager's child, and the live processes holding claims) start no further task
   * (SIGTERM, the runner's stop). Returns how many tasks were asked.
   */
  stop(view: SweepView): number {
    const live = view.tasks.filter((t) => t.run && (t.state === 'running' || t.state === 'stopping'));
    for (const t of live) requestStop(t.dir, 'Distill Studio: Stop Sweep');
    const runners = new Set<number>();
    const own = this.children.get(view.dir);
    if (own?.pid !== undefined) runners.add(own.pid);
    for (const h of claimHolders(view.dir)) runners.add(h.pid);
    for (const pid of runners) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone meanwhile
      }
    }
    return live.length;
  }

  /** `distill sweep submit <sweep folder | file> --slurm ...`: the trainer (plans a file and) writes the sbatch script and submits it. */
  submit(target: string, o: SlurmOptions, signal?: AbortSignal): Promise<CliResult> {
    return runTrainer(this.trainer(), submitArgs(target, o), signal);
  }

  /** `distill sweep status <folder> --json`: each task's state with Slurm's view of submitted ones (squeue, scontrol, sacct). */
  async status(sweepDir: string, signal?: AbortSignal): Promise<SweepTaskStatus[]> {
    const r = await runTrainer(this.trainer(), ['sweep', 'status', sweepDir, '--json'], signal);
    if (r.code !== 0) throw new Error(r.stderr.trim() || `distill sweep status exited with code ${r.code}`);
    const line = r.stdout.trim().split('\n').at(-1) ?? '{}';
    const tasks = (JSON.parse(line) as { tasks?: SweepTaskStatus[] }).tasks;
    if (!Array.isArray(tasks)) throw new Error(`distill sweep status --json printed no tasks: ${line}`);
    return tasks;
  }

  dispose(): void {
    // Runners keep going on purpose (as trainers do): the next window reads their folders.
    this.children.clear();
    this.removeAllListeners();
  }
}

/** The last lines of a log, for a message. */
function logTail(file: string, lines = 5): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
