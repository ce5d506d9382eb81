/**
 * A stop asked for through the run folder: `<run>/stop.request`, which the trainer polls between
 * steps as it polls for SIGTERM/SIGINT. It works the same everywhere, on Windows too (where a
 * signal is a hard kill that writes no checkpoint), and for a trainer that is not the asker's
 * child. The trainer removes the file once it has stopped; a file older than the trainer process
 * is a leftover (of a trainer killed before it could remove it) and is ignored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../fsutil.ts';

export const STOP_FILE = 'stop.request';

export const stopFileOf = (runDir: string) => path.join(runDir, STOP_FILE);

/** Asks the run's trainer to checkpoint and stop. */
export function requestStop(runDir: string, by: string): void {
  writeFileAtomic(stopFileOf(runDir), `${JSON.stringify({ requestedAt: new Date().toISOString(), by })}\n`);
}

/** When a stop was asked for (the file's time), or undefined. */
export function stopRequestedAt(runDir: string): number | undefined {
  try {
    return fs.statSync(stopFileOf(runDir)).mtimeMs;
  } catch {
    return undefined;
  }
}

export function clearStopRequest(runDir: string): void {
  fs.rmSync(stopFileOf(runDir), { force: true });
}

/**
 * The trainer's poll: true once a stop file written after `since` (the process's start, ms since
 * the epoch) exists. Checks the disk at most every `everyMs`.
 */
export function stopFilePoller(runDir: string, since: number, everyMs = 200): () => boolean {
  let checkedAt = 0;
  let requested = false;
  return () => {
    if (requested) return true;
    const now = Date.now();
    if (now - checkedAt < everyMs) return false;
    checkedAt = now;
    const at = stopRequestedAt(runDir);
    // mtime has a coarse resolution on some file systems: allow a second of slack.
    requested = at !== undefined && at >= since - 1000;
    return requested;
  };
}
