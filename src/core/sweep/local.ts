/**
 * Runs a sweep's unfinished tasks on this machine, N at a time, each as its own trainer process
 * (`distill train <configs/i.json> --run-dir tasks/i`, or `--resume tasks/i`), spawned with an
 * argument array.
 *
 * - Threads: each of N children gets floor(cores / N) threads (at least 1), cores being the
 *   Slurm allocation under Slurm (availableCores), for TensorFlow's
 *   intra-op pool (TF_NUM_INTRAOP_THREADS; one inter-op thread), OpenMP (OMP_NUM_THREADS) and
 *   onnxruntime's benchmark (`--threads`, where the config leaves `bench.threads` at 0), so N
 *   children do not oversubscribe the cores. Variables the user set are kept.
 * - The teacher's outputs are computed once: a child that will compute or read them from the
 *   cache starts only when no other child is still at that step (it emits `teacher_outputs` once
 *   they are in the cache), so no two children write one cache entry, and every later child of
 *   the same data finds it.
 * - Finished tasks are never run again; stopped and crashed ones resume from their last
 *   checkpoint (a child that dies mid-run is resumed up to twice in one invocation); failed ones
 *   are resumed only when asked (`retryFailed`). A task claimed by another live process is left
 *   to it.
 * - Stop: `shouldStop` turning true asks every child to checkpoint and stop (stop.request, which
 *   the trainer polls between steps) and starts no more; `kill` ends them at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DistillConfig } from '../config/schema.ts';
import { clearStopRequest, requestStop } from '../run/stopRequest.ts';
import type { SweepPlan, SweepTask, SweepTaskStatus } from '../../protocol/sweep.ts';
import { claimTask, releaseClaim, taskStatus } from './folder.ts';

const MAX_RESUMES = 2;
const POLL_MS = 500;

export interface LocalRunOptions {
  /** Children at once (>= 1). */
  parallel: number;
  /** Only these task indices (`distill sweep run --index i`); all when absent. */
  indices?: number[];
  /** Also resume tasks whose run recorded a failure. */
  retryFailed?: boolean;
  /** The built trainer entry (dist/trainer/cli.js). */
  cliPath: string;
  /** Cores to share; default availableCores() (the Slurm allocation, else the CPUs this process may use). */
  cores?: number;
  /** A line of progress for the user. */
  onLine: (line: string) => void;
  /** Polled: true once the whole sweep should stop (checkpoint and exit). */
  shouldStop: () => boolean;
  /** Polled: true once the children should end at once. */
  shouldKill?: () => boolean;
}

export interface LocalRunResult {
  finished: number[];
  failed: number[];
  /** Tasks left unfinished by a stop (or never started because of it). */
  stopped: number[];
  /** Tasks another live process is running. */
  elsewhere: number[];
  /** Threads each child was given. */
  threads: number;
}

/** Threads per child: the cores split evenly between the children that run at once. */
export function threadsPerChild(cores: number, parallel: number): number {
  return Math.max(1, Math.floor(cores / Math.max(1, parallel)));
}

/** The leading integer of one Slurm CPU count; undefined when it is not a positive count. */
function slurmCount(text: string | undefined): number | undefined {
  const m = /^\s*(\d+)/.exec(text ?? '');
  const n = m ? Number(m[1]) : 0;
  return n >= 1 ? n : undefined;
}

/**
 * The CPUs of this node in SLURM_JOB_CPUS_PER_NODE ("72(x2),36": 72 on nodes 0 and 1, 36 on
 * node 2), picked by SLURM_NODEID (node 0 when unset).
 */
function slurmCpusOnThisNode(env: NodeJS.ProcessEnv): number | undefined {
  const perNode: number[] = [];
  for (const part of (env.SLURM_JOB_CPUS_PER_NODE ?? '').split(',')) {
    const m = /^\s*(\d+)\s*(?:\(x(\d+)\))?\s*$/.exec(part);
    if (!m) return undefined;
    for (let i = 0; i < Number(m[2] ?? 1); i++) perNode.push(Number(m[1]));
  }
  const node = Number(env.SLURM_NODEID ?? 0);
  const n = perNode[Number.isInteger(node) ? node : 0];
  return n !== undefined && n >= 1 ? n : undefined;
}

/**
 * The CPUs this process should use. Under Slurm the CPUs of the allocation, not of the machine:
 * array tasks share a node, and each sizing its pools from the whole machine would oversubscribe
 * it. SLURM_CPUS_PER_TASK is what the job asked per task; SLURM_JOB_CPUS_PER_NODE (this node's
 * share of the job) when only that is set. Never more than the CPUs this process may use.
 */
export function availableCores(
  env: NodeJS.ProcessEnv = process.env,
  available: number = os.availableParallelism(),
): number {
  const slurm = slurmCount(env.SLURM_CPUS_PER_TASK) ?? slurmCpusOnThisNode(env);
  return Math.max(1, slurm !== undefined ? Math.min(slurm, available) : available);
}

export function defaultParallel(cores = availableCores()): number {
  return Math.max(1, cores);
}

/** The trainer's environment with the thread pools sized (a variable the user set is kept). */
export function childEnv(threads: number, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const sized = {
    TF_NUM_INTRAOP_THREADS: String(threads),
    TF_NUM_INTEROP_THREADS: '1',
    OMP_NUM_THREADS: String(threads),
  };
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [k, v] of Object.entries(sized)) out[k] ??= v;
  return out;
}

interface Running {
  task: SweepTask;
  child: ChildProcess;
  startedAt: number;
  /** Lines of `teacher_outputs` in the events before this start; the child warms the cache until there are more. */
  warmFrom?: number;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
}

function countTeacherOutputs(runDir: string): number {
  try {
    const text = fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8');
    return text.split('\n').filter((l) => l.includes('"type":"teacher_outputs"')).length;
  } catch {
    return 0;
  }
}

/** Whether the task computes (or reads) the teacher's outputs through the on-disk cache. */
function usesTeacherCache(config: DistillConfig): boolean {
  return config.cache.teacherOutputs && config.teacher.source !== 'train';
}

/** Ended without recording an outcome: killed, or out of memory (not a recorded failure, not bad input). */
function crashed(status: SweepTaskStatus, r: Running): boolean {
  if (status.state === 'stopped') return status.error !== undefined;
  return status.state === 'pending' && r.exited?.signal !== null && r.exited?.signal !== undefined;
}

export async function runSweepLocally(dir: string, plan: SweepPlan, options: LocalRunOptions): Promise<LocalRunResult> {
  const result: LocalRunResult = { finished: [], failed: [], stopped: [], elsewhere: [], threads: 1 };
  const wanted = options.indices ? plan.tasks.filter((t) => options.indices!.includes(t.index)) : plan.tasks;
  const queue: SweepTask[] = [];
  for (const task of wanted) {
    const status = taskStatus(dir, task);
    if (status.state === 'finished') result.finished.push(task.index);
    else if (status.state === 'running') result.elsewhere.push(task.index);
    else if (status.state === 'failed' && !options.retryFailed) result.failed.push(task.index);
    else queue.push(task);
  }
  const say = options.onLine;
  if (result.finished.length) say(`${result.finished.length} of ${wanted.length} tasks finished already (not rerun)`);
  if (result.elsewhere.length) say(`tasks ${result.elsewhere.join(', ')} are being run by another process`);
  if (result.failed.length)
    say(`tasks ${result.failed.join(', ')} failed earlier (see their run.json); --retry-failed resumes them`);
  if (queue.length === 0) return result;

  const parallel = Math.max(1, Math.min(options.parallel, queue.length));
  const threads = threadsPerChild(options.cores ?? availableCores(), parallel);
  result.threads = threads;
  say(
    `running ${queue.length} task${queue.length === 1 ? '' : 's'}, ${parallel} at a time, ${threads} thread${threads === 1 ? '' : 's'} each (logs in ${path.join(dir, 'logs')})`,
  );

  const running = new Map<number, Running>();
  const resumes = new Map<number, number>();
  let stopping = false;
  let killed = false;
  let wake: (() => void) | undefined;
  const sleep = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, POLL_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const label = (task: SweepTask) =>
    `${plan.settings[task.setting]?.label ?? `setting ${task.setting}`}, seed ${task.seed}`;

  const launch = (task: SweepTask): void => {
    if (!claimTask(dir, task.index)) {
      result.elsewhere.push(task.index);
      say(`[task ${task.index}] is being run by another process: left to it`);
      return;
    }
    const runDir = path.join(dir, task.dir);
    // A request left by the task's previous trainer (Stop Sweep writes one, the stopping runner
    // another, and one may land after it stopped) would stop this trainer too: stops are for live ones.
    clearStopRequest(runDir);
    const config = JSON.parse(fs.readFileSync(path.join(dir, task.config), 'utf8')) as DistillConfig;
    const resume = fs.existsSync(path.join(runDir, 'run.json'));
    const args = resume
      ? ['train', '--resume', runDir, '--threads', String(threads)]
      : ['train', path.join(dir, task.config), '--run-dir', runDir, '--threads', String(threads)];
    const log = fs.openSync(path.join(dir, 'logs', `${task.index}.log`), 'a');
    fs.writeSync(log, `\n# ${new Date().toISOString()} ${resume ? 'resume' : 'start'}: distill ${args.join(' ')}\n`);
    const warmFrom = usesTeacherCache(config) ? countTeacherOutputs(runDir) : undefined;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [options.cliPath, ...args], {
        stdio: ['ignore', log, log],
        env: childEnv(threads),
        windowsHide: true,
      });
    } finally {
      fs.closeSync(log); // the child holds its own descriptor
    }
    const entry: Running = { task, child, startedAt: Date.now(), warmFrom };
    child.on('exit', (code, signal) => {
      entry.exited = { code, signal };
      wake?.();
    });
    child.on('error', (err) => {
      entry.exited = { code: null, signal: null };
      say(`[task ${task.index}] could not start the trainer: ${err.message}`);
      wake?.();
    });
    running.set(task.index, entry);
    say(`[task ${task.index}] ${resume ? 'resumed' : 'started'}: ${label(task)}`);
  };

  const warming = () =>
    [...running.values()].some(
      (r) => r.warmFrom !== undefined && !r.exited && countTeacherOutputs(path.join(dir, r.task.dir)) <= r.warmFrom,
    );

  const settle = (r: Running): void => {
    running.delete(r.task.index);
    releaseClaim(dir, r.task.index);
    const status = taskStatus(dir, r.task);
    const seconds = Math.round((Date.now() - r.startedAt) / 1000);
    const how = r.exited?.signal ? `was killed by ${r.exited.signal}` : `exited with code ${r.exited?.code}`;
    if (status.state === 'finished') {
      result.finished.push(r.task.index);
      say(`[task ${r.task.index}] finished in ${seconds} s (${result.finished.length} of ${wanted.length} done)`);
    } else if (stopping || (status.state === 'stopped' && !status.error)) {
      result.stopped.push(r.task.index);
      say(`[task ${r.task.index}] stopped at a checkpoint after ${seconds} s`);
    } else if (crashed(status, r) && (resumes.get(r.task.index) ?? 0) < MAX_RESUMES) {
      // Died without recording why (killed, out of memory): resume it from its last checkpoint.
      resumes.set(r.task.index, (resumes.get(r.task.index) ?? 0) + 1);
      say(`[task ${r.task.index}] ${how} after ${seconds} s without finishing: resuming it from its last checkpoint`);
      queue.unshift(r.task);
    } else {
      result.failed.push(r.task.index);
      say(
        `[task ${r.task.index}] failed (${how}): ${status.error ?? 'no outcome recorded'} (log: ${path.join(dir, 'logs', `${r.task.index}.log`)})`,
      );
    }
  };

  while (queue.length > 0 || running.size > 0) {
    if (!stopping && options.shouldStop()) {
      stopping = true;
      say(`stopping the sweep: ${running.size} running task${running.size === 1 ? '' : 's'} checkpoint and stop`);
      for (const r of running.values()) if (!r.exited) requestStop(path.join(dir, r.task.dir), 'distill sweep run');
    }
    if (!killed && options.shouldKill?.()) {
      killed = true;
      for (const r of running.values()) if (!r.exited) r.child.kill('SIGKILL');
    }
    for (const r of [...running.values()]) if (r.exited) settle(r);
    if (stopping) {
      result.stopped.push(...queue.splice(0).map((t) => t.index));
    } else
      while (queue.length > 0 && running.size < parallel && !warming()) {
        launch(queue.shift()!);
      }
    if (queue.length > 0 || running.size > 0) await sleep();
  }
  result.stopped.sort((a, b) => a - b);
  return result;
}
