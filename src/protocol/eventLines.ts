/**
 * The editor's one policy for reading events.jsonl (the Runs view, the dashboards, the status
 * bar): a line that is not a valid event of this protocol version is skipped and reported with
 * its line number, and everything else is kept. A run that crashed mid-write and was resumed has
 * such a line in the middle; one bad line must not hide the rest of the run.
 *
 * Incremental and byte-exact: `push` takes the file's bytes in pieces of any size (UTF-8 split
 * anywhere), returns the complete lines' events, and keeps a line still being written (no newline
 * yet) for the next piece. `offset` is the byte offset just after the last complete line, the
 * position a reader resumes from. Strict readers (the trainer's resume) use parseEvents instead.
 */
import { EVENTS_VERSION, type RunEvent } from './events.ts';

export interface EventsProblem {
  /** 1-based line number in events.jsonl. */
  line: number;
  message: string;
}

const NEWLINE = 0x0a;

export class EventLineReader {
  /** Byte offset after the last complete line read. */
  offset: number;
  /** Line number of the next complete line (1-based). */
  private nextLine: number;
  private partial: Uint8Array[] = [];
  private readonly decoder = new TextDecoder('utf-8');

  /** Starts at `offset` (a line boundary) whose line number is `line`. */
  constructor(offset = 0, line = 1) {
    this.offset = offset;
    this.nextLine = line;
  }

  /** The line number the next complete line will have (resumes a reader at `offset`). */
  get line(): number {
    return this.nextLine;
  }

  /** The events of the complete lines in `bytes` (with what was kept from before), and the bad lines among them. */
  push(bytes: Uint8Array): { events: RunEvent[]; problems: EventsProblem[] } {
    const events: RunEvent[] = [];
    const problems: EventsProblem[] = [];
    let start = 0;
    for (let i = bytes.indexOf(NEWLINE); i >= 0; i = bytes.indexOf(NEWLINE, start)) {
      const piece = bytes.subarray(start, i);
      const line = this.partial.length > 0 ? concat([...this.partial, piece]) : piece;
      this.partial = [];
      this.offset += line.length + 1;
      const result = parseLine(this.decoder.decode(line), this.nextLine);
      if (result && 'event' in result) events.push(result.event);
      else if (result) problems.push(result.problem);
      this.nextLine += 1;
      start = i + 1;
    }
    if (start < bytes.length) this.partial.push(bytes.slice(start));
    return { events, problems };
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function parseLine(text: string, line: number): { event: RunEvent } | { problem: EventsProblem } | undefined {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: { line, message: `events line ${line} is not valid JSON; it was skipped` } };
  }
  const o = value as Partial<RunEvent> | null;
  if (!o || typeof o !== 'object' || typeof o.type !== 'string')
    return { problem: { line, message: `events line ${line} is not an event (no "type"); it was skipped` } };
  if (o.v !== EVENTS_VERSION)
    return {
      problem: {
        line,
        message: `events line ${line} has version ${String(o.v)}; this reader understands version ${EVENTS_VERSION}; it was skipped`,
      },
    };
  return { event: o as RunEvent };
}

/** A whole events.jsonl text under the same policy (a torn last line without a newline is not read yet). */
export function readEventsText(text: string): { events: RunEvent[]; problems: EventsProblem[]; offset: number } {
  const reader = new EventLineReader();
  const { events, problems } = reader.push(new TextEncoder().encode(text));
  return { events, problems, offset: reader.offset };
}
