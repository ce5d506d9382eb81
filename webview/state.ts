/**
 * The dashboard's one state object: the runs shown, the user's toggles, the charts and sections
 * on the page. Created once by main.ts and passed to the sections and charts (no module-level
 * mutable singletons). `receive` applies a host message to it, without the DOM; `viewState` and
 * `restoreView` are what the webview state API keeps (the view, not the runs: the host has those).
 */
import type { EventsProblem } from '../src/protocol/eventLines.ts';
import type { HostMessage, WebviewMessage } from '../src/protocol/messages.ts';
import type { RunStatus } from '../src/protocol/run.ts';
import type { XAxis } from './chartData.ts';
import type { ChartHandle } from './charts.ts';
import { applyEvents, emptyRun, type RunModel } from './model.ts';

export interface Dashboard {
  runs: Map<string, RunModel>;
  /** Per run: the byte offset of events.jsonl its events reach (undefined: not known, the next batch sets it). */
  offsets: Map<string, number | undefined>;
  /** Per run: lines of events.jsonl the host skipped (not valid events). */
  problems: Map<string, EventsProblem[]>;
  /** Per run: whether its trainer process is alive (undefined: not known). */
  live: Map<string, boolean | undefined>;
  logScale: boolean;
  xAxis: XAxis;
  /** Zoomed x ranges by chart (zoomKey): kept across re-renders and in the saved view state. */
  zoom: Map<string, [number, number]>;
  /** The page's scroll position, saved with the view state. */
  scrollY: number;
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
  /** The view state changed (a toggle, a zoom, the scroll): save it (viewState). */
  saveView(): void;
}

export function createDashboard(
  post: (m: WebviewMessage) => void,
  schedule: () => void,
  saveView: () => void = () => {},
): Dashboard {
  return {
    runs: new Map(),
    offsets: new Map(),
    problems: new Map(),
    live: new Map(),
    logScale: false,
    xAxis: 'step',
    zoom: new Map(),
    scrollY: 0,
    generation: 0,
    charts: new Map(),
    chartsCreated: 0,
    shownSections: new Map(),
    shownKey: undefined,
    shownWidth: 0,
    post,
    schedule,
    saveView,
  };
}

/** What the webview state API keeps of a dashboard: its runs' folders (to restore the panel) and the view. */
export interface ViewState {
  dirs: string[];
  xAxis: XAxis;
  logScale: boolean;
  zoom: Record<string, [number, number]>;
  scrollY: number;
}

export function viewState(d: Dashboard): ViewState {
  return {
    dirs: [...d.runs.keys()],
    xAxis: d.xAxis,
    logScale: d.logScale,
    zoom: Object.fromEntries(d.zoom),
    scrollY: d.scrollY,
  };
}

/** Applies a saved view state (getState; anything else is ignored field by field). */
export function restoreView(d: Dashboard, saved: unknown): void {
  if (!saved || typeof saved !== 'object') return;
  const s = saved as Partial<Record<keyof ViewState, unknown>>;
  if (s.xAxis === 'step' || s.xAxis === 'epoch') d.xAxis = s.xAxis;
  if (typeof s.logScale === 'boolean') d.logScale = s.logScale;
  if (typeof s.scrollY === 'number' && Number.isFinite(s.scrollY) && s.scrollY >= 0) d.scrollY = s.scrollY;
  if (s.zoom && typeof s.zoom === 'object')
    for (const [key, range] of Object.entries(s.zoom as Record<string, unknown>))
      if (
        Array.isArray(range) &&
        range.length === 2 &&
        range.every((v) => typeof v === 'number' && Number.isFinite(v)) &&
        range[0] < range[1]
      )
        d.zoom.set(key, [range[0], range[1]]);
}

/** A chart's key in `zoom`: its id and x axis (a step range means nothing on an epoch axis). */
export const zoomKey = (chartId: string, xLabel: string) => `${xLabel}:${chartId}`;

/** The status to show: the fold's, except that a run whose events stop short of their end while its process is gone was interrupted. */
export function shownStatus(d: Dashboard, run: RunModel): RunStatus | 'interrupted' {
  return run.state.status === 'running' && d.live.get(run.dir) === false ? 'interrupted' : run.state.status;
}

/**
 * Applies a host message: init replaces the runs (a new generation); events grow one run when
 * they start at its offset. `ignored`: a batch it already has, or an unknown run; `gap`: a batch
 * that does not start where the run's events end (the caller asks the host for the runs again).
 */
export function receive(d: Dashboard, m: HostMessage): 'init' | 'applied' | 'ignored' | 'gap' {
  if (m.type === 'init') {
    d.runs.clear();
    d.offsets.clear();
    d.problems.clear();
    d.live.clear();
    d.generation += 1;
    for (const r of m.runs) {
      const run = applyEvents(emptyRun(r.dir, r.id), r.events);
      if (r.config !== undefined) run.config = r.config;
      d.runs.set(r.dir, run);
      d.offsets.set(r.dir, r.offset);
      d.problems.set(r.dir, [...(r.problems ?? [])]);
      d.live.set(r.dir, r.live);
    }
    return 'init';
  }
  const run = d.runs.get(m.dir);
  if (!run) return 'ignored';
  const offset = d.offsets.get(m.dir);
  if (offset !== undefined && m.from !== offset) return m.to <= offset ? 'ignored' : 'gap';
  applyEvents(run, m.events);
  d.offsets.set(m.dir, m.to);
  if (m.problems.length) d.problems.set(m.dir, [...(d.problems.get(m.dir) ?? []), ...m.problems]);
  d.live.set(m.dir, m.live);
  return 'applied';
}
