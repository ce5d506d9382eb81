/**
 * Incremental, asynchronous reader of a run's events.jsonl: each read returns the events
 * appended since the last one, with the byte range they came from (the dashboards' offset
 * protocol), and the lines it skipped (protocol/eventLines.ts: one parsing policy). A line still
 * being written (no newline yet) waits for the next read. Reads never overlap: a read asked for
 * while one is under way runs after it.
 */
import * as fs from 'node:fs';
import type { RunEvent } from '../../protocol/events.ts';
import { EventLineReader, type EventsProblem } from '../../protocol/eventLines.ts';

export interface TailBatch {
  /** Byte offset the batch starts at (a line boundary). */
  from: number;
  /** Byte offset after its last complete line: where the next batch starts. */
  to: number;
  events: RunEvent[];
  problems: EventsProblem[];
}

const CHUNK = 1 << 20;

export class EventsTail {
  private readonly reader: EventLineReader;
  private queue: Promise<unknown> = Promise.resolve();
  /** Bytes read past `offset` (a line still being written), kept by the line reader. */
  private pendingBytes = 0;
  /** Every line skipped so far. */
  readonly problems: EventsProblem[] = [];

  /** Starts at byte `offset` (0, or a `to` of an earlier batch) whose line number is `line`. */
  constructor(
    readonly file: string,
    offset = 0,
    line = 1,
  ) {
    this.reader = new EventLineReader(offset, line);
  }

  /** Byte offset after the last complete line read. */
  get offset(): number {
    return this.reader.offset;
  }

  /** The line number of the next line. */
  get line(): number {
    return this.reader.line;
  }

  read(): Promise<TailBatch> {
    const next = this.queue.then(() => this.readNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async readNow(): Promise<TailBatch> {
    const from = this.reader.offset;
    const batch: TailBatch = { from, to: from, events: [], problems: [] };
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(this.file, 'r');
    } catch {
      return batch; // no events yet
    }
    try {
      // Read from where the last read stopped (its kept partial line is after `offset`).
      let position = from + this.pendingBytes;
      const size = (await handle.stat()).size;
      while (position < size) {
        const buf = Buffer.alloc(Math.min(CHUNK, size - position));
        const { bytesRead } = await handle.read(buf, 0, buf.length, position);
        if (bytesRead <= 0) break;
        position += bytesRead;
        const { events, problems } = this.reader.push(buf.subarray(0, bytesRead));
        batch.events.push(...events);
        batch.problems.push(...problems);
        this.pendingBytes = position - this.reader.offset;
      }
    } finally {
      await handle.close();
    }
    batch.to = this.reader.offset;
    this.problems.push(...batch.problems);
    return batch;
  }
}
