/**
 * Messages between the extension host and the dashboard webview, declared once and used on both
 * sides (GitLens' typed IPC). Every message is checked on receipt: a webview is untrusted input.
 */
import type { RunEvent } from './events.ts';
import type { EventsProblem } from './eventLines.ts';

/**
 * 2: events carry the byte range of events.jsonl they come from (`from`, `to`); the webview
 * applies a batch only where its run's offset is (a batch it already has is dropped, a gap asks
 * for the runs again with `ready`), so that no event is shown twice or lost.
 */
export const MESSAGES_VERSION = 2;

export interface RunPayload {
  dir: string;
  id: string;
  events: RunEvent[];
  /** Byte offset of events.jsonl after the last line sent: the next batch starts there (absent: the first batch sets it). */
  offset?: number;
  /** Lines skipped (not valid events), with their line numbers. */
  problems?: EventsProblem[];
  /** Its trainer process is alive: a run whose events stop short of their end is running only then (absent: not known). */
  live?: boolean;
  /** The run folder's config.json (the resolved config it trained with), for the config diff of compared runs; absent when unreadable. */
  config?: unknown;
}

/** Host -> webview. */
export type HostMessage =
  | { type: 'init'; v: typeof MESSAGES_VERSION; runs: RunPayload[] }
  /** New events of one run, batched (at most a few times a second), the lines from byte `from` to `to`. */
  | {
      type: 'events';
      v: typeof MESSAGES_VERSION;
      dir: string;
      from: number;
      to: number;
      events: RunEvent[];
      problems: EventsProblem[];
      live: boolean;
    };

/** Webview -> host. */
export type WebviewMessage =
  /** Loaded (or lost track): send every run from the start. */
  | { type: 'ready' }
  | { type: 'saveFile'; kind: 'csv' | 'png'; suggestedName: string; data: string }
  | { type: 'openFolder'; dir: string };

const isString = (v: unknown): v is string => typeof v === 'string';

/** Validates a message from the webview; returns undefined for anything malformed. */
export function parseWebviewMessage(m: unknown): WebviewMessage | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'ready':
      return { type: 'ready' };
    case 'saveFile':
      if (
        (o.kind === 'csv' || o.kind === 'png') &&
        isString(o.suggestedName) &&
        /^[\w.-]{1,100}$/.test(o.suggestedName) &&
        isString(o.data) &&
        o.data.length < 50_000_000
      )
        return { type: 'saveFile', kind: o.kind, suggestedName: o.suggestedName, data: o.data };
      return undefined;
    case 'openFolder':
      return isString(o.dir) ? { type: 'openFolder', dir: o.dir } : undefined;
    default:
      return undefined;
  }
}

/** Validates a message from the host (the webview checks too: versions must agree). */
export function parseHostMessage(m: unknown): HostMessage | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  if (o.v !== MESSAGES_VERSION) return undefined;
  if (o.type === 'init' && Array.isArray(o.runs)) return o as unknown as HostMessage;
  if (
    o.type === 'events' &&
    isString(o.dir) &&
    Array.isArray(o.events) &&
    Number.isInteger(o.from) &&
    Number.isInteger(o.to) &&
    Array.isArray(o.problems)
  )
    return o as unknown as HostMessage;
  return undefined;
}
