/**
 * Starts, tails, stops and re-attaches trainer processes. Free of `vscode`, so the tests drive it
 * with the real trainer under plain node. The trainer is spawned detached with its output in
 * `<run>/trainer.log` (not a pipe), so it survives a window reload and is re-attached by pid.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../../protocol/events.ts';
import { createRunFolder } from '../../core/run/runFolder.ts';
import { EventsTail } from './eventsTail.ts';
import { isAlive, readRun } from './runStore.ts';

export interface RunManagerOptions {
  /** The bundled trainer entry (dist/trainer/cli.js). */
  trainerPath: string;
  /** Node to run it with: process.execPath with ELECTRON_RUN_AS_NODE=1 inside VS Code. */
  nodePath: string;
  env?: NodeJS.ProcessEnv;
  maxConcurrentRuns: number;
  /** After a graceful stop request, how long before the process is killed. */
  stopGraceMs: number;
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

interface Active {
  dir: string;
  pid: number;
  tail: EventsTail;
  timer: NodeJS.Timeout;
  stopTimer?: NodeJS.Timeout;
}

export interface RunManagerEvents {
  event: [dir: string, event: RunEvent];
  changed: [dir: string | undefined];
  /** The trainer exited: its code, and for bad input (code 2, no run recorded) the message it printed. */
  exited: [dir: string, code: number | null, message: string | undefined];
}

export class RunManager extends EventEmitter<RunManagerEvents> {
  private readonly active = new Map<string, Active>();
  private readonly queue: Array<
    StartRequest & { resolve: (dir: string) => void; reject: (err: Error) => void; queuedAt: string }
  > = [];

  constructor(private readonly options: RunManagerOptions) {
    super();
  }

  get runningDirs(): string[] {
    return [...this.active.keys()];
  }

  get queued(): ReadonlyArray<StartRequest & { queuedAt: string }> {
    return this.queue;
  }

  setMaxConcurrentRuns(n: number): void {
    this.options.maxConcurrentRuns = n;
    this.drain();
  }

  /** Starts a run now, or queues it; resolves with its run folder once it starts. */
  start(request: StartRequest): Promise<string> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject, queuedAt: new Date().toISOString() });
      this.emit('changed', undefined);
      this.drain();
    });
  }

  /** Continues a stopped or interrupted run in its own folder. */
  resume(dir: string): void {
    const run = readRun(dir);
    if (!run) throw new Error(`${dir} is not a run folder`);
    if (this.active.has(dir) || (run.pid && run.status === 'running' && isAlive(run.pid)))
      throw new Error(`run ${run.id} is already running`);
    if (run.status === 'finished') throw new Error(`run ${run.id} has finished; there is nothing to resume`);
    this.launch(dir, ['train', '--resume', dir]);
  }

  /** Re-attaches to a run whose trainer outlived the window (same pid, still alive). */
  attach(dir: string): boolean {
    if (this.active.has(dir)) return true;
    const run = readRun(dir);
    if (!run || run.status !== 'running' || !run.pid || !isAlive(run.pid)) return false;
    this.watch(dir, run.pid, false);
    return true;
  }

  /** Asks the trainer to checkpoint and stop; kills it if it has not after the grace period. */
  stop(dir: string): void {
    const queuedIndex = this.queue.findIndex((q) => q.runsDir === dir || q.configFile === dir);
    if (queuedIndex >= 0) {
      const [q] = this.queue.splice(queuedIndex, 1);
      q.reject(new Error('removed from the queue'));
      this.emit('changed', undefined);
      return;
    }
    const a = this.active.get(dir);
    const pid = a?.pid ?? readRun(dir)?.pid;
    if (!pid || !isAlive(pid)) return;
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }, this.options.stopGraceMs);
    if (a) a.stopTimer = timer;
  }

  dispose(): void {
    // Runs keep going without the window: only stop watching them.
    for (const a of this.active.values()) clearInterval(a.timer);
    this.active.clear();
    for (const q of this.queue.splice(0)) q.reject(new Error('the run manager was disposed'));
  }

  private drain(): void {
    while (this.queue.length > 0 && this.active.size < this.options.maxConcurrentRuns) {
      const q = this.queue.shift()!;
      try {
        const dir = createRunFolder(q.runsDir, q.name);
        this.launch(dir, ['train', q.configFile, '--run-dir', dir, ...(q.args ?? [])]);
        q.resolve(dir);
      } catch (err) {
        q.reject(err as Error);
      }
    }
  }

  private launch(dir: string, args: string[]): void {
    const log = fs.openSync(path.join(dir, 'trainer.log'), 'a');
    const child = spawn(this.options.nodePath, [this.options.trainerPath, ...args], {
      cwd: path.dirname(this.options.trainerPath),
      env: { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', log, log],
      detached: true, // its own process group: it outlives an extension-host restart
    });
    fs.closeSync(log);
    child.unref();
    child.on('exit', (code) => this.finish(dir, code));
    child.on('error', (err) => {
      fs.appendFileSync(path.join(dir, 'trainer.log'), `failed to start the trainer: ${err.message}\n`);
      this.finish(dir, null);
    });
    this.watch(dir, child.pid!, true);
  }

  private watch(dir: string, pid: number, ownChild: boolean): void {
    const tail = new EventsTail(path.join(dir, 'events.jsonl'));
    const poll = () => {
      for (const e of tail.read()) this.emit('event', dir, e);
      // Not our child (re-attached): notice its end by polling its pid.
      if (!ownChild && !isAlive(pid)) this.finish(dir, null);
    };
    const timer = setInterval(poll, this.options.pollMs ?? 500);
    this.active.set(dir, { dir, pid, tail, timer });
    this.emit('changed', dir);
  }

  private finish(dir: string, code: number | null): void {
    const a = this.active.get(dir);
    if (!a) return;
    for (const e of a.tail.read()) this.emit('event', dir, e);
    clearInterval(a.timer);
    if (a.stopTimer) clearTimeout(a.stopTimer);
    this.active.delete(dir);
    let message: string | undefined;
    if (code === 2 && !fs.existsSync(path.join(dir, 'run.json'))) {
      // Bad input: the trainer refused before writing anything. Keep its message, drop the folder.
      message = readLog(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    } else if (code !== 0 && code !== null && code !== 143 && code !== 130) message = readLog(dir);
    this.emit('exited', dir, code, message);
    this.emit('changed', dir);
    this.drain();
  }
}

function readLog(dir: string): string {
  try {
    return fs
      .readFileSync(path.join(dir, 'trainer.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('distill:') || l.includes('error'))
      .join('\n')
      .trim();
  } catch {
    return '';
  }
}
