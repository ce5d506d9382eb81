/**
 * Incremental reader of a run's events.jsonl: each call returns the events appended since the
 * last one. A line still being written (no newline yet) waits for the next call.
 */
import * as fs from 'node:fs';
import { EVENTS_VERSION, type RunEvent } from '../../protocol/events.ts';

export class EventsTail {
  private offset = 0;
  private partial = '';

  constructor(readonly file: string) {}

  read(): RunEvent[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    const chunks: Buffer[] = [];
    try {
      const size = fs.fstatSync(fd).size;
      while (this.offset < size) {
        const buf = Buffer.alloc(Math.min(1 << 20, size - this.offset));
        const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        chunks.push(buf.subarray(0, n));
        this.offset += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    const text = this.partial + Buffer.concat(chunks).toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    const events: RunEvent[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as RunEvent;
        if (e.v === EVENTS_VERSION) events.push(e);
      } catch {
        // A corrupt line (a crash mid-write followed by a resume) is skipped, not fatal.
      }
    }
    return events;
  }
}
