/**
 * A run's folder: `config.json` (resolved snapshot), `events.jsonl` (append-only), `run.json`
 * (status summary, replaced atomically), `checkpoints/`, `artifacts/`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EVENTS_VERSION, type RunEvent, type RunEventInput } from '../../protocol/events.ts';
import type { RunRecord } from '../../protocol/run.ts';
import { writeJsonAtomic } from '../fsutil.ts';

// run.json's type lives in the protocol (extension and webview read it too); re-exported for core's callers.
export type { RunRecord, RunStatus } from '../../protocol/run.ts';

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * Creates a new, empty run folder under `runsDir`. mkdir fails on an existing folder, so two
 * runs started in the same second (even in two processes) get distinct folders.
 */
export function createRunFolder(runsDir: string, name: string, now = new Date()): string {
  fs.mkdirSync(runsDir, { recursive: true });
  const base = `${timestamp(now)}-${name}`;
  for (let i = 1; ; i++) {
    const dir = path.join(runsDir, i === 1 ? base : `${base}-${i}`);
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

export class RunFolder {
  private readonly eventsFd: number;

  constructor(readonly dir: string) {
    const file = path.join(dir, 'events.jsonl');
    this.eventsFd = fs.openSync(file, 'a');
    // A crash mid-write leaves a line without its newline: end it, so that a resumed run's first
    // event is a line of its own (the torn line alone is skipped by readers).
    const size = fs.fstatSync(this.eventsFd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const fd = fs.openSync(file, 'r');
      try {
        fs.readSync(fd, last, 0, 1, size - 1);
      } finally {
        fs.closeSync(fd);
      }
      if (last[0] !== 0x0a) fs.writeSync(this.eventsFd, '\n');
    }
  }

  get id(): string {
    return path.basename(this.dir);
  }

  /** Appends one event as one line with one write(2) on an O_APPEND descriptor. */
  append(event: RunEventInput): RunEvent {
    const full = { v: EVENTS_VERSION, t: new Date().toISOString(), ...event } as RunEvent;
    fs.writeSync(this.eventsFd, `${JSON.stringify(full)}\n`);
    return full;
  }

  /** Makes appended events durable (at checkpoints and at the end). */
  sync(): void {
    fs.fsyncSync(this.eventsFd);
  }

  writeRecord(record: RunRecord): void {
    writeJsonAtomic(path.join(this.dir, 'run.json'), record);
  }

  close(): void {
    fs.closeSync(this.eventsFd);
  }
}

export function readRunRecord(dir: string): RunRecord {
  return JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
}
