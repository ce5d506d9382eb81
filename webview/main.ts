/**
 * The dashboard: comparison table (teacher, scratch, intermediate models, distilled), the stages
 * of chain and born-again runs, live curves, latency and per-class accuracy, for one run or
 * several overlaid. Runs in a VS Code webview; talks to the host only through
 * src/protocol/messages.ts.
 *
 * Live events do not rebuild the page: the charts whose series are unchanged get the new points
 * through uPlot's setData (keeping the user's zoom), and only the sections whose content changed
 * are replaced. Everything is rebuilt when the runs shown, the theme, the x axis or the log
 * toggle change; a new width resizes the charts.
 *
 * The view (x axis, log scale, zoom, scroll) is kept with the webview state API, so a reloaded
 * window shows the dashboard as it was; a re-render keeps keyboard focus on the control it had.
 *
 * This file wires the page: the state (state.ts), the sections (sections.ts), the charts
 * (charts.ts, their data in chartData.ts), the run model (model.ts) and formatting (format.ts).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import { parseHostMessage, type WebviewMessage } from '../src/protocol/messages.ts';
import { CHART_HEIGHT, chartWidth, destroyCharts, renderCharts, updateCharts } from './charts.ts';
import { $, el } from './dom.ts';
import type { RunModel } from './model.ts';
import { AFTER_CHARTS, BEFORE_CHARTS, type SectionBuilder } from './sections.ts';
import { createDashboard, receive, restoreView, viewState } from './state.ts';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  setState(s: unknown): void;
  getState(): unknown;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

let scheduled = false;
const d = createDashboard(
  (m) => vscode.postMessage(m),
  () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      render();
    });
  },
  () => vscode.setState(viewState(d)),
);
restoreView(d, vscode.getState());
/** The saved scroll position is applied once the first runs are drawn. */
let scrollPending = d.scrollY > 0;

window.addEventListener('message', (event: MessageEvent) => {
  const m = parseHostMessage(event.data);
  if (!m) return;
  const result = receive(d, m);
  if (result === 'gap') {
    // A batch that does not follow what this page has: ask for the runs again rather than show a hole.
    vscode.postMessage({ type: 'ready' });
    return;
  }
  if (result === 'init') d.saveView();
  if (result !== 'ignored') d.schedule();
});

let scrollSaving = false;
window.addEventListener('scroll', () => {
  if (scrollSaving || scrollPending) return;
  scrollSaving = true;
  requestAnimationFrame(() => {
    scrollSaving = false;
    d.scrollY = Math.round(window.scrollY);
    d.saveView();
  });
});

function buildSection(id: string, build: SectionBuilder, list: RunModel[], width: number): HTMLElement {
  const section = build(d, list, width);
  d.shownSections.set(id, section.outerHTML);
  return section;
}

function render(): void {
  const started = performance.now();
  const root = $('#root');
  const list = [...d.runs.values()];
  const key = `${d.generation}|${document.body.className}|${d.xAxis}|${d.logScale}`;
  const width = chartWidth();
  const replaced: string[] = [];
  let mode: 'full' | 'incremental' = 'full';
  // A toggle rebuilds the page under the keyboard's focus: give it back to the new control.
  const focused = document.activeElement instanceof HTMLElement && document.activeElement.id;
  if (list.length === 0) {
    destroyCharts(d);
    d.shownSections.clear();
    d.shownKey = undefined;
    root.replaceChildren(el('p', { class: 'muted' }, 'No run loaded.'));
  } else if (key !== d.shownKey) {
    destroyCharts(d);
    d.shownSections.clear();
    root.replaceChildren(
      ...BEFORE_CHARTS.map(([id, build]) => buildSection(id, build, list, width)),
      renderCharts(d, list, width),
      ...AFTER_CHARTS.map(([id, build]) => buildSection(id, build, list, width)),
    );
    d.shownKey = key;
    d.shownWidth = width;
  } else {
    mode = 'incremental';
    if (width !== d.shownWidth) {
      for (const h of d.charts.values()) h.u?.setSize({ width, height: CHART_HEIGHT });
      d.shownWidth = width;
    }
    for (const [id, build] of [...BEFORE_CHARTS, ...AFTER_CHARTS]) {
      const section = build(d, list, width);
      const html = section.outerHTML;
      if (d.shownSections.get(id) === html) continue;
      document.getElementById(id)?.replaceWith(section);
      d.shownSections.set(id, html);
      replaced.push(id);
    }
    updateCharts(d, list, width, replaced);
  }
  if (focused && document.activeElement?.id !== focused) refocus(focused);
  // New uPlot charts draw in a microtask: report after it, so that the time counts their drawing.
  queueMicrotask(() => {
    // The saved scroll position, once the first runs and their charts are laid out.
    if (scrollPending && list.length > 0) {
      scrollPending = false;
      window.scrollTo(0, d.scrollY);
    }
    const b = document.body.dataset;
    b.renderMs = (performance.now() - started).toFixed(1);
    b.renderMode = mode;
    b.replaced = replaced.join(' ');
    b.chartsCreated = String(d.chartsCreated);
    b.rendered = String(Date.now());
  });
}

/** Focuses the new control with that id once it can take focus (a custom element renders its focusable parts asynchronously). */
function refocus(id: string): void {
  const target = document.getElementById(id) as (HTMLElement & { updateComplete?: Promise<unknown> }) | null;
  if (!target) return;
  target.focus();
  if (document.activeElement !== target)
    void (target.updateComplete ?? Promise.resolve()).then(() => {
      if (document.getElementById(id) === target) target.focus();
    });
}

// Re-draw charts when the theme changes (their colours come from the theme's variables).
new MutationObserver(d.schedule).observe(document.body, { attributes: true, attributeFilter: ['class'] });
window.addEventListener('resize', d.schedule);
vscode.postMessage({ type: 'ready' });
