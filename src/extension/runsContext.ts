/** The context keys the Runs view sets for the palette's and the menus' `when` clauses. Free of `vscode`. */
import type { RunView } from './runs/runStore.ts';

/** The context keys the palette and the menus read (package.json `when` clauses). */
export interface RunsContext {
  'distill.hasRuns': boolean;
  'distill.hasRunningRuns': boolean;
  'distill.hasQueuedRuns': boolean;
  'distill.hasStoppableRuns': boolean;
  'distill.hasResumableRuns': boolean;
  'distill.hasFinishedRuns': boolean;
  'distill.canCompareRuns': boolean;
}

export function runsContext(runs: readonly RunView[], queued: number): RunsContext {
  const has = (...s: string[]) => runs.some((r) => s.includes(r.status));
  const comparable = runs.filter((r) => r.status !== 'failed').length;
  return {
    'distill.hasRuns': runs.length > 0,
    'distill.hasRunningRuns': has('running', 'stopping'),
    'distill.hasQueuedRuns': queued > 0,
    'distill.hasStoppableRuns': has('running', 'stopping') || queued > 0,
    'distill.hasResumableRuns': has('stopped', 'failed'),
    'distill.hasFinishedRuns': has('finished'),
    'distill.canCompareRuns': comparable >= 2,
  };
}
