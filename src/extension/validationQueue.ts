/**
 * Schedules the trainer's semantic validation of configs: debounced per file (an open followed by
 * a save, or saves in a row, run it once), the run under way for a file cancelled when a newer one
 * is asked for (its child process killed through the AbortSignal), and a result that arrives after
 * a newer one was asked for dropped. Free of `vscode`: the tests drive it with the real trainer.
 */

export interface ValidationHandlers<R> {
  /** The validation itself; it must stop (kill its child) when `signal` aborts. */
  run(file: string, signal: AbortSignal): Promise<R>;
  /** The result of the newest validation of `file`. */
  result(file: string, result: R): void;
  /** The newest validation of `file` failed (not cancelled). */
  failed(file: string, error: unknown): void;
}

interface FileState {
  /** Bumped by every request: only the newest request's result counts. */
  seq: number;
  timer?: NodeJS.Timeout;
  controller?: AbortController;
}

export class ValidationQueue<R> {
  private readonly files = new Map<string, FileState>();

  constructor(
    private readonly handlers: ValidationHandlers<R>,
    private readonly delayMs = 400,
  ) {}

  /** Asks for a validation of `file`: it starts `delayMs` after the last request, cancelling the one under way. */
  request(file: string): void {
    const state = this.files.get(file) ?? { seq: 0 };
    this.files.set(file, state);
    state.seq += 1;
    state.controller?.abort();
    state.controller = undefined;
    if (state.timer) clearTimeout(state.timer);
    const seq = state.seq;
    state.timer = setTimeout(() => void this.start(file, state, seq), this.delayMs);
  }

  /** Forgets `file` (closed): a validation under way is cancelled and its result dropped. */
  cancel(file: string): void {
    const state = this.files.get(file);
    if (!state) return;
    state.seq += 1;
    if (state.timer) clearTimeout(state.timer);
    state.controller?.abort();
    this.files.delete(file);
  }

  /** Validations started and not yet settled. */
  get running(): number {
    return [...this.files.values()].filter((s) => s.controller).length;
  }

  private async start(file: string, state: FileState, seq: number): Promise<void> {
    state.timer = undefined;
    const controller = new AbortController();
    state.controller = controller;
    try {
      const result = await this.handlers.run(file, controller.signal);
      if (state.seq === seq && !controller.signal.aborted) this.handlers.result(file, result);
    } catch (err) {
      if (state.seq === seq && !controller.signal.aborted) this.handlers.failed(file, err);
    } finally {
      if (state.controller === controller) state.controller = undefined;
    }
  }

  dispose(): void {
    for (const file of [...this.files.keys()]) this.cancel(file);
  }
}
