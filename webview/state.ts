/**
 * The dashboard's one state object: the runs shown, the user's toggles, the charts and sections
 * on the page. Created once by main.ts and passed to the sections and charts (no module-level
 * mutable singletons). `receive` applies a host message to it, without the DOM.
 */
import type { HostMessage, WebviewMessage } from '../src/protocol/messages.ts';
import type { XAxis } from './chartData.ts';
import type { ChartHandle } from './charts.ts';
import { applyEvents, emptyRun, type RunModel } from './model.ts';

export interface Dashboard {
  runs: Map<string, RunModel>;
  logScale: boolean;
  xAxis: XAxis;
  /** Bumped by every init message: its runs are new objects, so everything is rebuilt. */
  generation: number;
  charts: Map<string, ChartHandle>;
  chartsCreated: number;
  /** The markup each section was last built with (before the page's custom elements added to it). */
  shownSections: Map<string, string>;
  /** What a full render was built for: the runs (by init), the theme, the x axis and the log toggle. */
  shownKey: string | undefined;
  shownWidth: number;
  /** To the host. */
  post(m: WebviewMessage): void;
  /** Renders on the next frame (once however often asked). */
  schedule(): void;
}

export function createDashboard(post: (m: WebviewMessage) => void, schedule: () => void): Dashboard {
  return {
    runs: new Map(),
    logScale: false,
    xAxis: 'step',
    generation: 0,
    charts: new Map(),
    chartsCreated: 0,
    shownSections: new Map(),
    shownKey: undefined,
    shownWidth: 0,
    post,
    schedule,
  };
}

/** Applies a host message: init replaces the runs (a new generation), events grow one run. Returns the run folders to save for a reload after an init. */
export function receive(d: Dashboard, m: HostMessage): string[] | undefined {
  if (m.type === 'init') {
    d.runs.clear();
    d.generation += 1;
    for (const r of m.runs) d.runs.set(r.dir, applyEvents(emptyRun(r.dir, r.id), r.events));
    return m.runs.map((r) => r.dir);
  }
  const run = d.runs.get(m.dir);
  if (run) applyEvents(run, m.events);
  return undefined;
}
