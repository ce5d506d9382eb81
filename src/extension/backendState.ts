/**
 * The window's doctor report: run once when the window opens (in a trusted workspace), again on
 * Check Backends and after the native setup; the Runs view, the status bar and Check Backends
 * read it from here. Free of `vscode`.
 */
import type { DoctorReport } from '../protocol/backends.ts';
import { parseDoctorReport } from './backendPlan.ts';
import { runTrainer, type TrainerCommand } from './trainerCli.ts';

export class BackendState {
  report: DoctorReport | undefined;
  /** Why the last check gave no report. */
  error: string | undefined;
  private running: Promise<DoctorReport> | undefined;
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly trainer: () => TrainerCommand) {}

  get checking(): boolean {
    return this.running !== undefined;
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  /** Runs `distill doctor --json` (one at a time: a second call joins the first) and keeps the report. */
  refresh(signal?: AbortSignal): Promise<DoctorReport> {
    if (!this.running) {
      this.running = (async () => {
        try {
          const r = await runTrainer(this.trainer(), ['doctor', '--json'], signal);
          if (r.code !== 0)
            throw new Error(
              r.stderr
                .trim()
                .split('\n')
                .filter((l) => l.startsWith('distill:'))
                .at(-1) ?? `the trainer's doctor exited with code ${r.code}`,
            );
          this.report = parseDoctorReport(r.stdout);
          this.error = undefined;
          return this.report;
        } catch (err) {
          this.error = (err as Error).name === 'AbortError' ? this.error : (err as Error).message;
          throw err;
        } finally {
          this.running = undefined;
          this.changed();
        }
      })();
      this.changed();
    }
    return this.running;
  }

  /** The report when there is one; else a check (shared with one already under way). */
  async get(signal?: AbortSignal): Promise<DoctorReport> {
    return this.report ?? this.refresh(signal);
  }
}
