/**
 * Starts, queues, tails, stops and re-attaches trainer processes. Free of `vscode`, so the tests
 * drive it with the real trainer under plain node. The trainer is spawned detached with its output
 * in `<run>/trainer.log` (not a pipe), so it survives a window reload and is re-attached.
 *
 * - Identity: a trainer is its pid plus its start stamp (run.json's `pidStart`,
 *   src/core/run/processIdentity.ts), so a pid reused after a reboot is not taken for the run, is
 *   not re-attached and is never signalled.
 * - Stop: writes `<run>/stop.request` (src/core/run/stopRequest.ts), which the trainer polls
 *   between steps; it checkpoints and ends as `stopped`, on Windows as elsewhere. No signal is
 *   sent: while the file is there the run is "stopping", and a second Stop changes nothing.
 *   Killing it without a checkpoint is a separate, explicit call (kill).
 * - Outcome: read from the run's events (the fold) and run.json, not from an exit code, which a
 *   re-attached trainer (not our child) does not give us.
 * - Queue: new runs and resumes wait in one queue for a free slot (maxConcurrentRuns).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../../protocol/events.ts';
import { foldRun, type RunRecord, type RunState } from '../../protocol/run.ts';
import { createRunFolder } from '../../core/run/runFolder.ts';
import { isTrainerAlive, trainerLiveness, type TrainerProcess } from '../../core/run/processIdentity.ts';
import { clearStopRequest, requestStop, stopRequestedAt } from '../../core/run/stopRequest.ts';
import { EventsTail, type TailBatch } from './eventsTail.ts';
import type { EventsProblem } from '../../protocol/eventLines.ts';

export interface RunManagerOptions {
  /** The bundled trainer entry (dist/trainer/cli.js). */
  trainerPath: string;
  /** Node to run it with: process.execPath with ELECTRON_RUN_AS_NODE=1 inside VS Code. Read at each launch (setNodePath). */
  nodePath: string;
  env?: NodeJS.ProcessEnv;
  maxConcurrentRuns: number;
  /** Optional: kill a trainer that has not stopped this long after a stop request. Default: never (it is asked to checkpoint; killing it is the user's choice). */
  stopGraceMs?: number;
  pollMs?: number;
}

export interface StartRequest {
  configFile: string;
  /** Folder that holds the run folders (the config's output.dir, resolved). */
  runsDir: string;
  name: string;
  /** Extra trainer arguments, e.g. ['--backend', 'wasm']. */
  args?: string[];
}

/** A run waiting for a free slot: a new run, or the resume of a run folder. */
export interface QueuedRun {
  /** Unique for the manager's life: what dequeue takes, and the Runs view item's id. */
  id: string;
  name: string;
  configFile: string;
  queuedAt: string;
  /** The run folder a resume continues (absent: a new run). */
  resumeDir?: string;
}

interface QueueEntry extends QueuedRun {
  start?: StartRequest;
  resolve: (dir: string) => void;
  reject: (err: Error) => void;
}

/** How a trainer process ended, as its run folder records it. */
export type RunOutcome =
  /** run_finished */
  | 'finished'
  /** run_stopped: checkpointed after a stop request */
  | 'stopped'
  /** run_failed, or the trainer exited with an error before it recorded the run */
  | 'failed'
  /** bad input: the trainer refused before creating anything (exit 2, no run.json); the folder is removed */
  | 'refused'
  /** killed by kill() (Kill now): no checkpoint after the last one */
  | 'killed'
  /** gone without recording an end (killed from outside, crashed): resumable from its last checkpoint */
  | 'interrupted';

/** The result of a stop request. */
export type StopResult = 'requested' | 'already-stopping' | 'dequeued' | 'not-running';

/** Removed from the queue before it started (dequeue, or stop on a queued resume). */
export class DequeuedError extends Error {
  constructor(name: string) {
    super(`${name} was removed from the queue`);
  }
}

interface Active {
  dir: string;
  process: TrainerProcess;
  /** Our child (launched by this manager): signalled through its handle. Absent when re-attached. */
  child?: ChildProcess;
  tail: EventsTail;
  /** The fold of the run's events read so far: the outcome at exit. */
  state?: RunState;
  timer: NodeJS.Timeout;
  stopTimer?: NodeJS.Timeout;
  killed?: boolean;
  /** Spawning it failed (no such Node, say). */
  failedToStart?: boolean;
  /** A stop was asked for: the run is "stopping" until the trainer exits. */
  stopRequested?: boolean;
  /** When this manager launched the trainer (ms since the epoch); absent when re-attached. */
  launchedAt?: number;
  /** Reading the last events before announcing the exit. */
  finishing?: boolean;
}

export interface RunManagerEvents {
  event: [dir: string, event: RunEvent];
  /** Lines of the run's events.jsonl that were skipped (not valid events), with their line numbers. */
  problems: [dir: string, problems: EventsProblem[]];
  changed: [dir: string | undefined];
  /**
   * The trainer ended: its exit code (null when it was not our child), a message (for `refused`
   * and `failed`: what it printed or recorded), and the outcome its run folder records.
   */
  exited: [dir: string, code: number | null, message: string | undefined, outcome: RunOutcome];
}

function readRecord(dir: string): RunRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

export class RunManager extends EventEmitter<RunManagerEvents> {
  private readonly active = new Map<string, Active>();
  private readonly queue: QueueEntry[] = [];
  private nextQueueId = 1;

  constructor(private readonly options: RunManagerOptions) {
    super();
  }

  get runningDirs(): string[] {
    return [...this.active.keys()];
  }

  get queued(): readonly QueuedRun[] {
    return this.queue.map(({ id, name, configFile, queuedAt, resumeDir }) => ({
      id,
      name,
      configFile,
      queuedAt,
      ...(resumeDir ? { resumeDir } : {}),
    }));
  }

  setMaxConcurrentRuns(n: number): void {
    this.options.maxConcurrentRuns = n;
    this.drain();
  }

  /** The Node that runs the trainers launched from now on (queued ones included); running trainers keep theirs. */
  setNodePath(nodePath: string): void {
    this.options.nodePath = nodePath;
  }

  get nodePath(): string {
    return this.options.nodePath;
  }

  /** Starts a run now, or queues it; resolves with its run folder once it starts. */
  start(request: StartRequest): Promise<string> {
    return this.enqueue({ name: request.name, configFile: request.configFile, start: request });
  }

  /**
   * Continues a stopped or interrupted run in its own folder, through the same queue as new runs
   * (maxConcurrentRuns); resolves with the folder once its trainer starts.
   */
  resume(dir: string): Promise<string> {
    try {
      const record = this.resumable(dir);
      if (this.queue.some((q) => q.resumeDir === dir)) throw new Error(`run ${path.basename(dir)} is already queued`);
      return this.enqueue({ name: record.name, configFile: record.configFile, resumeDir: dir });
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Removes a queued run (by its QueuedRun id); its start or resume promise rejects with DequeuedError. */
  dequeue(id: string): boolean {
    const i = this.queue.findIndex((q) => q.id === id);
    if (i < 0) return false;
    const [q] = this.queue.splice(i, 1);
    q.reject(new DequeuedError(q.name));
    this.emit('changed', undefined);
    return true;
  }

  /** Re-attaches to a run whose trainer outlived the window: the same process (pid and start stamp), still alive. */
  attach(dir: string): boolean {
    if (this.active.has(dir)) return true;
    const record = readRecord(dir);
    if (!record || record.status !== 'running' || !isTrainerAlive(record, { fresh: true })) return false;
    this.watch(dir, { pid: record.pid, pidStart: record.pidStart });
    // Stopped from the last window and still writing its checkpoint.
    if (stopRequestedAt(dir) !== undefined) this.active.get(dir)!.stopRequested = true;
    return true;
  }

  /** A stop was asked for (here, or by another window: its stop.request) and the watched trainer is still at it. */
  isStopping(dir: string): boolean {
    return this.active.get(dir)?.stopRequested === true;
  }

  /**
   * Asks the trainer to checkpoint and stop (its run folder's stop.request). A second request
   * while it is stopping changes nothing. A queued resume of the run is dequeued instead.
   */
  stop(dir: string): StopResult {
    const queued = this.queue.find((q) => q.resumeDir === dir);
    if (queued) {
      this.dequeue(queued.id);
      return 'dequeued';
    }
    const a = this.active.get(dir);
    if (!a && !this.trainerOf(dir)) return 'not-running';
    if (a?.stopRequested || stopRequestedAt(dir) !== undefined) return 'already-stopping';
    requestStop(dir, `the editor (pid ${process.pid})`);
    if (a) {
      a.stopRequested = true;
      const grace = this.options.stopGraceMs;
      if (grace !== undefined) a.stopTimer = setTimeout(() => this.kill(dir), grace);
    }
    this.emit('changed', dir);
    return 'requested';
  }

  /**
   * Kills the trainer now, without a checkpoint (the user's explicit choice). Only a process
   * proven to be the run's trainer is signalled: our child, or a pid whose start stamp matches.
   */
  kill(dir: string): boolean {
    const a = this.active.get(dir);
    if (a?.child && a.child.exitCode === null && a.child.signalCode === null) {
      a.killed = true;
      return a.child.kill('SIGKILL');
    }
    const trainer = a?.process ?? this.trainerOf(dir);
    if (!trainer || trainerLiveness(trainer, { fresh: true }) !== 'alive') return false;
    if (a) a.killed = true;
    process.kill(trainer.pid!, 'SIGKILL');
    return true;
  }

  dispose(): void {
    // Runs keep going without the window: only stop watching them.
    for (const a of this.active.values()) {
      clearInterval(a.timer);
      if (a.stopTimer) clearTimeout(a.stopTimer);
    }
    this.active.clear();
    for (const q of this.queue.splice(0)) q.reject(new Error('the run manager was disposed'));
  }

  /** The trainer that run.json names, when it is alive (proven by its stamp, or by its pid for an older record). */
  private trainerOf(dir: string): TrainerProcess | undefined {
    const record = readRecord(dir);
    if (!record || record.status !== 'running' || !isTrainerAlive(record)) return undefined;
    return { pid: record.pid, pidStart: record.pidStart };
  }

  /** The run.json of a run that may be resumed now; throws why not. */
  private resumable(dir: string): RunRecord {
    const record = readRecord(dir);
    if (!record) throw new Error(`${dir} is not a run folder`);
    if (this.active.has(dir) || (record.status === 'running' && isTrainerAlive(record, { fresh: true })))
      throw new Error(`run ${record.runId} is already running`);
    if (record.status === 'finished') throw new Error(`run ${record.runId} has finished; there is nothing to resume`);
    return record;
  }

  private enqueue(entry: Omit<QueueEntry, 'id' | 'queuedAt' | 'resolve' | 'reject'>): Promise<string> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        ...entry,
        id: `queued-${this.nextQueueId++}`,
        queuedAt: new Date().toISOString(),
        resolve,
        reject,
      });
      this.emit('changed', undefined);
      this.drain();
    });
  }

  private drain(): void {
    let changed = false;
    while (this.queue.length > 0 && this.active.size < this.options.maxConcurrentRuns) {
      const q = this.queue.shift()!;
      changed = true;
      try {
        let dir: string;
        if (q.resumeDir) {
          dir = q.resumeDir;
          this.resumable(dir); // still: it may have been resumed from a terminal meanwhile
          clearStopRequest(dir); // a leftover request must not stop the resumed trainer
          this.launch(dir, ['train', '--resume', dir]);
        } else {
          const s = q.start!;
          dir = createRunFolder(s.runsDir, s.name);
          this.launch(dir, ['train', s.configFile, '--run-dir', dir, ...(s.args ?? [])]);
        }
        q.resolve(dir);
      } catch (err) {
        q.reject(err as Error);
      }
    }
    if (changed) this.emit('changed', undefined);
  }

  private launch(dir: string, args: string[]): void {
    const launchedAt = Date.now();
    const log = fs.openSync(path.join(dir, 'trainer.log'), 'a');
    const child = spawn(this.options.nodePath, [this.options.trainerPath, ...args], {
      cwd: path.dirname(this.options.trainerPath),
      env: { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', log, log],
      detached: true, // its own process group: it outlives an extension-host restart
      windowsHide: true, // no console window on Windows
    });
    fs.closeSync(log);
    child.unref();
    child.on('exit', (code) => void this.finish(dir, code));
    child.on('error', (err) => {
      fs.appendFileSync(path.join(dir, 'trainer.log'), `failed to start the trainer: ${err.message}\n`);
      const a = this.active.get(dir);
      if (a) a.failedToStart = true;
      void this.finish(dir, null);
    });
    this.watch(dir, { pid: child.pid }, child, launchedAt);
  }

  private watch(dir: string, trainer: TrainerProcess, child?: ChildProcess, launchedAt?: number): void {
    const tail = new EventsTail(path.join(dir, 'events.jsonl'));
    const poll = () =>
      void tail.read().then(
        (batch) => {
          this.emitBatch(dir, batch);
          // Not our child (re-attached): notice its end by polling its identity.
          if (!child && !isTrainerAlive(trainer)) void this.finish(dir, null);
        },
        () => undefined,
      );
    const timer = setInterval(poll, this.options.pollMs ?? 500);
    this.active.set(dir, { dir, process: trainer, child, tail, timer, launchedAt });
    this.emit('changed', dir);
  }

  private emitBatch(dir: string, batch: TailBatch | undefined): void {
    const a = this.active.get(dir);
    if (a && batch?.events.length) a.state = foldRun(batch.events, a.state);
    for (const e of batch?.events ?? []) this.emit('event', dir, e);
    if (batch?.problems.length) this.emit('problems', dir, batch.problems);
  }

  private async finish(dir: string, code: number | null): Promise<void> {
    const a = this.active.get(dir);
    if (!a || a.finishing) return;
    a.finishing = true;
    clearInterval(a.timer);
    // The last events before the exit (the tail's reads run in order, after any under way).
    this.emitBatch(dir, await a.tail.read().catch(() => undefined));
    if (a.stopTimer) clearTimeout(a.stopTimer);
    this.active.delete(dir);
    const record = readRecord(dir);
    let outcome: RunOutcome;
    let message: string | undefined;
    if (!record && code === 2) {
      // Bad input: the trainer refused before writing anything. Keep its message, drop the folder.
      outcome = 'refused';
      message = readLog(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    } else {
      // How this trainer ended, as it recorded it: its last events (the fold), else run.json (the
      // events may end in a torn line). Only what it wrote itself counts: a resumed run's folder
      // holds the end of its earlier trainer, written before this one was launched.
      const since = a.launchedAt ?? -Infinity;
      const ours = (t: string | undefined) => t !== undefined && Date.parse(t) >= since;
      const ended =
        a.state && a.state.status !== 'running' && ours(a.state.updatedAt)
          ? a.state.status
          : record && record.status !== 'running' && ours(record.updatedAt)
            ? record.status
            : undefined;
      if (ended) outcome = ended;
      else if (a.killed) outcome = 'killed';
      // Our child did not start, or exited with an error before it recorded an end (a resume refused).
      else if (a.failedToStart || (a.child && code !== null && code !== 0)) outcome = 'failed';
      else outcome = 'interrupted';
      if (outcome === 'failed') message = (ended && (a.state?.error ?? record?.error)) || readLog(dir) || undefined;
      if (outcome === 'interrupted') message = readLog(dir) || undefined;
    }
    // A stop request the trainer did not get to serve is not left for its next resume.
    if (outcome !== 'refused') clearStopRequest(dir);
    this.emit('exited', dir, code, message, outcome);
    this.emit('changed', dir);
    this.drain();
  }
}

function readLog(dir: string): string {
  try {
    return fs
      .readFileSync(path.join(dir, 'trainer.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('distill:') || l.includes('error') || l.startsWith('failed to start the trainer'))
      .join('\n')
      .trim();
  } catch {
    return '';
  }
}
