/**
 * What one dashboard is sent: its runs' events, each from an own tail of events.jsonl, so that a
 * batch starts exactly where the last one ended (the offsets of protocol/messages.ts). `init`
 * reads every run from byte 0 (the webview asked: it has nothing); after it, `notify` (new lines
 * were written) reads only what follows, batched a few times a second, and only while the panel
 * is visible: a hidden panel keeps what it has and, once shown, gets the lines after its offset.
 * Free of `vscode`: the tests drive it with real run folders.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EventsProblem } from '../../protocol/eventLines.ts';
import { MESSAGES_VERSION, type HostMessage, type RunPayload } from '../../protocol/messages.ts';
import { EventsTail } from '../runs/eventsTail.ts';

export interface FeedOptions {
  dirs: readonly string[];
  post(m: HostMessage): void;
  /** Whether the run's trainer process is alive now. */
  isLive(dir: string): boolean;
  /** Lines skipped in a run's events.jsonl (for the Runs view and the log). */
  onProblems?(dir: string, problems: EventsProblem[]): void;
  batchMs?: number;
}

/** A run folder's config.json (written once, before training), or undefined when it cannot be read. */
async function readConfig(dir: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.promises.readFile(path.join(dir, 'config.json'), 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export class DashboardFeed {
  private tails = new Map<string, EventsTail>();
  private readonly liveSent = new Map<string, boolean>();
  private readonly dirty = new Set<string>();
  /** Bumped by every init: reads begun for an older one are dropped. */
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private visible = true;
  private disposed = false;

  constructor(private readonly options: FeedOptions) {}

  /** Every run from the start (the webview loaded, or lost track). Resolves once it is posted. */
  async init(): Promise<void> {
    const generation = ++this.generation;
    this.dirty.clear();
    const tails = new Map(this.options.dirs.map((dir) => [dir, new EventsTail(path.join(dir, 'events.jsonl'))]));
    const runs: RunPayload[] = [];
    for (const [dir, tail] of tails) {
      const batch = await tail.read();
      const live = this.options.isLive(dir);
      const config = await readConfig(dir);
      runs.push({
        dir,
        id: path.basename(dir),
        events: batch.events,
        offset: batch.to,
        problems: batch.problems,
        live,
        ...(config === undefined ? {} : { config }),
      });
      if (batch.problems.length) this.options.onProblems?.(dir, batch.problems);
    }
    if (generation !== this.generation || this.disposed) return;
    this.tails = tails;
    for (const r of runs) this.liveSent.set(r.dir, r.live ?? false);
    this.options.post({ type: 'init', v: MESSAGES_VERSION, runs });
    // What was written while it was being read (or was asked for before it).
    for (const dir of this.options.dirs) this.dirty.add(dir);
    this.schedule();
  }

  /** New lines may have been written to `dir`'s events (or its process ended): they follow shortly. */
  notify(dir: string): void {
    if (!this.options.dirs.includes(dir)) return;
    this.dirty.add(dir);
    this.schedule();
  }

  /** The panel was shown or hidden: hidden, nothing is sent; shown, what was written meanwhile follows. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible) this.schedule();
  }

  /** Sends what was written since the last batch, now (the timer's job; tests call it to wait for it). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.flushNow());
    return this.flushing;
  }

  private schedule(): void {
    if (!this.visible || this.disposed || this.dirty.size === 0 || this.tails.size === 0) return;
    this.timer ??= setTimeout(() => void this.flush(), this.options.batchMs ?? 250);
  }

  private async flushNow(): Promise<void> {
    if (!this.visible || this.disposed) return;
    const generation = this.generation;
    for (const dir of [...this.dirty]) {
      const tail = this.tails.get(dir);
      if (!tail) continue; // its init is under way: it reads it
      this.dirty.delete(dir);
      const batch = await tail.read();
      if (generation !== this.generation || this.disposed) return;
      const live = this.options.isLive(dir);
      if (batch.to === batch.from && live === this.liveSent.get(dir)) continue;
      this.liveSent.set(dir, live);
      if (batch.problems.length) this.options.onProblems?.(dir, batch.problems);
      this.options.post({ type: 'events', v: MESSAGES_VERSION, dir, ...batch, live });
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
