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
 */
import uPlot from 'uplot';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import { parseHostMessage, type WebviewMessage } from '../src/protocol/messages.ts';
import { phaseModelName, type Phase, type SummaryRow } from '../src/protocol/events.ts';
import { applyEvents, emptyRun, epochColumns, isStage, measuredAs, modelRank, orderedSeries, stepColumns, summaryCsv, type RunModel } from './model.ts';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  setState(s: unknown): void;
  getState(): unknown;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

const runs = new Map<string, RunModel>();
let logScale = false;
let xAxis: 'step' | 'epoch' = 'step';
let scheduled = false;
/** Bumped by every init message: its runs are new objects, so everything is rebuilt. */
let generation = 0;

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const pct = (v?: number) => (v === undefined || Number.isNaN(v) ? '–' : `${(v * 100).toFixed(2)}%`);
const int = (v?: number) => (v === undefined ? '–' : v.toLocaleString('en-US'));
const bytes = (b?: number) => (b === undefined ? '–' : b < 1024 * 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1024 / 1024).toFixed(2)} MiB`);
const ms = (v?: number) => (v === undefined ? '–' : v < 1 ? v.toFixed(3) : v.toFixed(2));
const compact = (v: number) => (v >= 1e9 ? `${+(v / 1e9).toPrecision(3)}B` : v >= 1e6 ? `${+(v / 1e6).toPrecision(3)}M` : v >= 1e3 ? `${+(v / 1e3).toPrecision(3)}k` : String(v));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

/** SVG elements: geometry goes in presentation attributes and colours in style.css classes (the CSP allows no inline styles). */
function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: Array<Node | string>): SVGElementTagNameMap[K] {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, typeof v === 'number' ? String(Math.round(v * 10) / 10) : v);
  for (const c of children) e.append(c);
  return e;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

const PALETTE = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
const FALLBACK = ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'];
const color = (i: number) => cssVar(PALETTE[i % PALETTE.length], FALLBACK[i % FALLBACK.length]);
/** A line's dash: one per loss term (or train / validation); the colours' second round is dashed too. */
const DASHES: Array<number[] | undefined> = [undefined, [6, 4], [2, 3], [10, 3, 2, 3]];
const dash = (group: number, variant: number) => DASHES[(variant + Math.floor(group / PALETTE.length)) % DASHES.length];
const CHART_HEIGHT = 240;
const chartWidth = () => Math.max(320, Math.min(900, (document.body.clientWidth || 900) - 40));

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    render();
  });
}

window.addEventListener('message', (event: MessageEvent) => {
  const m = parseHostMessage(event.data);
  if (!m) return;
  if (m.type === 'init') {
    runs.clear();
    generation += 1;
    for (const r of m.runs) runs.set(r.dir, applyEvents(emptyRun(r.dir, r.id), r.events));
    vscode.setState({ dirs: m.runs.map((r) => r.dir) });
  } else {
    const run = runs.get(m.dir);
    if (run) applyEvents(run, m.events);
  }
  schedule();
});

type Row = Omit<SummaryRow, 'params' | 'bytes'> & { params?: number; bytes?: number };

/** The run's models: its summary once finished, before that the phases' test evaluations (sizes known once a phase has started). */
function modelRows(run: RunModel): Row[] {
  const rows: Row[] = run.summary ?? orderedSeries(run).filter((s) => s.test).map((s) => ({ model: phaseModelName(s.phase), accuracy: s.test!.accuracy, agreement: s.test!.agreement, params: s.params, bytes: s.params === undefined ? undefined : s.params * 4 }));
  return [...rows].sort((a, b) => modelRank(a.model) - modelRank(b.model));
}

function renderSummary(list: RunModel[]): HTMLElement {
  const section = el('section', { id: 'summary' });
  for (const run of list) {
    const head = el('h2', {}, `${run.id} `, el('vscode-badge', { class: `status-${run.status}` }, run.status));
    section.append(head);
    if (run.backend) {
      const adapter = run.backend.adapter;
      const on = adapter ? `${adapter.description || [adapter.vendor, adapter.device || adapter.architecture].filter(Boolean).join(' ')} (WebGPU adapter)` : run.backend.device;
      section.append(el('p', { class: 'muted backend', 'data-backend': run.backend.name }, `backend ${run.backend.name} on ${on}` + (run.data ? ` · ${int(run.data.train)} train / ${int(run.data.validation)} validation / ${int(run.data.test)} test examples, ${run.data.classes} classes` : '')));
      if (adapter?.software) section.append(el('p', { class: 'warning software-adapter', role: 'alert' }, 'Warning: software adapter: this run computes on a CPU rasterizer that emulates the GPU, far slower than a real one. On a machine with a GPU, install its Vulkan/Metal/D3D12 driver; "backend": "auto" never picks a software adapter.'));
    }
    if (run.failure) section.append(el('p', { class: 'failure', role: 'alert' }, `Failed: ${run.failure}`));
    for (const w of run.warnings) section.append(el('p', { class: 'warning' }, `Warning: ${w}`));
    const runtimes = [...new Set(run.latency.map((l) => l.runtime))];
    const b1 = Math.min(...run.latency.map((l) => l.batch));
    const latency = (model: 'teacher' | 'student' | undefined, rt: string) => (model ? run.latency.find((x) => x.model === model && x.runtime === rt && x.batch === b1) : undefined);
    const rows = modelRows(run);
    const teacher = rows.find((r) => r.model === 'teacher');
    // Compression and speed-up of each model relative to the teacher (latency is measured for the teacher and the student's architecture only).
    const vsTeacher = (r: Row) => {
      if (!teacher || r === teacher) return '–';
      const facts: string[] = [];
      if (teacher.params && r.params) facts.push(`${(teacher.params / r.params).toFixed(1)}× smaller`);
      const t = latency('teacher', runtimes[0]);
      const s = latency(measuredAs(r.model), runtimes[0]);
      if (t && s && r.model !== 'teacher') facts.push(`${(t.p50Ms / s.p50Ms).toFixed(1)}× faster`);
      return facts.join(', ') || '–';
    };
    const table = el('table', { class: 'summary' });
    table.append(el('tr', {}, ...['model', 'test accuracy', 'agreement', 'parameters', 'size (fp32)', 'ONNX', 'MACs/example', ...runtimes.map((r) => `${r} p50 / p99 ms (batch ${b1})`), 'vs teacher'].map((h) => el('th', {}, h))));
    for (const r of rows) {
      const which = measuredAs(r.model);
      table.append(el('tr', { 'data-model': r.model }, ...[r.model, pct(r.accuracy), r.model === 'teacher' ? '–' : pct(r.agreement), int(r.params), bytes(r.bytes), bytes(which && run.onnxBytes[which]), int(r.macs), ...runtimes.map((rt) => {
        const l = latency(which, rt);
        return l ? `${ms(l.p50Ms)} / ${ms(l.p99Ms)}` : '–';
      }), vsTeacher(r)].map((c) => el('td', {}, c))));
    }
    section.append(table);
    const scratch = rows.find((r) => r.model === 'scratch');
    const distilled = rows.find((r) => r.model === 'distilled');
    if (scratch && distilled) {
      const gain = (distilled.accuracy - scratch.accuracy) * 100;
      section.append(el('p', { class: `gain ${gain >= 0 ? 'positive' : 'negative'}`, 'data-gain': gain.toFixed(2) }, `Distillation vs scratch: ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} points of test accuracy (one seed; seed-to-seed noise is about a point).`));
    }
    if (teacher?.params && distilled?.params) {
      const facts = [`${(teacher.params / distilled.params).toFixed(1)}× fewer parameters`];
      if (teacher.macs && distilled.macs) facts.push(`${(teacher.macs / distilled.macs).toFixed(0)}× fewer multiply-adds`);
      for (const rt of runtimes) {
        const t = latency('teacher', rt);
        const s = latency('student', rt);
        if (t && s) facts.push(`${(t.p50Ms / s.p50Ms).toFixed(1)}× faster in ${rt}`);
      }
      section.append(el('p', { class: 'factors' }, `Student vs teacher: ${facts.join(', ')}; ${((teacher.accuracy - distilled.accuracy) * 100).toFixed(2)} points below it.`));
    }
  }
  const csv = el('vscode-button', { id: 'export-csv', secondary: '' }, 'Export table as CSV');
  csv.addEventListener('click', () => vscode.postMessage({ type: 'saveFile', kind: 'csv', suggestedName: 'distill-comparison.csv', data: summaryCsv([...runs.values()]) }));
  section.append(csv);
  return section;
}

interface Stage {
  model: string;
  row?: Row;
}

/** The stages of a chain or born-again run in run order (teacher, assistants, generations, distilled), with scratch apart; undefined for other runs. */
function stagesOf(run: RunModel): { stages: Stage[]; scratch?: Row } | undefined {
  const rows = modelRows(run);
  // Phases that have not reported yet are listed too (from run_started), without numbers.
  const names = new Set([...rows.map((r) => r.model), ...run.phases.map(phaseModelName)]);
  names.delete('scratch');
  if (![...names].some(isStage)) return undefined;
  const stages = [...names].sort((a, b) => modelRank(a) - modelRank(b)).map((model) => ({ model, row: rows.find((r) => r.model === model) }));
  return { stages, scratch: rows.find((r) => r.model === 'scratch') };
}

/** Test accuracy (top panel, a line in run order; scratch as a dashed reference) and parameters (bottom panel, log scale) of each stage. */
function stagesChart(stages: Stage[], scratch: Row | undefined, width: number): SVGSVGElement {
  const left = 64;
  const right = 16;
  const acc = { top: 30, height: 150 };
  const size = { top: acc.top + acc.height + 36, height: 80 };
  const height = size.top + size.height + 40;
  const plot = width - left - right;
  const band = plot / stages.length;
  const cx = (i: number) => left + band * (i + 0.5);
  const root = svg('svg', { class: 'stages-chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Test accuracy and parameters of each stage' });

  // Accuracy axis in steps of 5 points (10 for a wide range), around the values shown.
  const accs = [...stages.flatMap((s) => (s.row ? [s.row.accuracy] : [])), ...(scratch ? [scratch.accuracy] : [])];
  const spread = accs.length ? Math.max(...accs) - Math.min(...accs) : 1;
  const step = spread > 0.3 ? 0.1 : 0.05;
  const k0 = accs.length ? Math.max(0, Math.floor((Math.min(...accs) - 0.005) / step)) : 0;
  const k1 = accs.length ? Math.min(Math.round(1 / step), Math.max(k0 + 1, Math.ceil((Math.max(...accs) + 0.005) / step))) : Math.round(1 / step);
  const lo = k0 * step;
  const hi = k1 * step;
  const ya = (v: number) => acc.top + acc.height * (1 - (v - lo) / (hi - lo));
  root.append(svg('text', { class: 'panel-title', x: left, y: acc.top - 14 }, 'test accuracy'));
  for (let k = k0; k <= k1; k++) {
    const y = ya(k * step);
    root.append(svg('line', { class: 'grid', x1: left, x2: left + plot, y1: y, y2: y }), svg('text', { class: 'tick', x: left - 6, y: y + 4, 'text-anchor': 'end' }, `${Math.round(k * step * 100)}%`));
  }

  // Parameters on a log axis over whole powers of ten, with room below the smallest.
  const params = stages.flatMap((s) => (s.row?.params ? [s.row.params] : []));
  let p0 = params.length ? Math.floor(Math.log10(Math.min(...params))) : 3;
  if (params.length && Math.log10(Math.min(...params)) - p0 < 0.2) p0 -= 1;
  const p1 = Math.max(p0 + 1, params.length ? Math.ceil(Math.log10(Math.max(...params))) : p0 + 1);
  const yp = (v: number) => size.top + size.height * (1 - (Math.log10(v) - p0) / (p1 - p0));
  root.append(svg('text', { class: 'panel-title', x: left, y: size.top - 14 }, 'parameters (log scale)'));
  for (let p = p0; p <= p1; p++) {
    const y = yp(10 ** p);
    root.append(svg('line', { class: 'grid', x1: left, x2: left + plot, y1: y, y2: y }), svg('text', { class: 'tick', x: left - 6, y: y + 4, 'text-anchor': 'end' }, compact(10 ** p)));
  }

  if (scratch) {
    const y = ya(scratch.accuracy);
    root.append(svg('line', { class: 'stage-ref', x1: left, x2: left + plot, y1: y, y2: y }), svg('text', { class: 'stage-ref-label', x: left + 4, y: y + 13 }, `scratch ${pct(scratch.accuracy)}`));
  }
  const points = stages.flatMap((s, i) => (s.row ? [`${Math.round(cx(i) * 10) / 10},${Math.round(ya(s.row.accuracy) * 10) / 10}`] : []));
  if (points.length > 1) root.append(svg('polyline', { class: 'stage-acc-line', points: points.join(' ') }));
  stages.forEach((s, i) => {
    const g = svg('g', { class: `stage${s.model === 'distilled' ? ' final' : ''}`, 'data-model': s.model });
    const x = cx(i);
    if (s.row) {
      const y = ya(s.row.accuracy);
      g.append(svg('circle', { class: 'stage-acc-dot', cx: x, cy: y, r: 4 }), svg('text', { class: 'stage-acc-label', x, y: y - 9, 'text-anchor': 'middle' }, pct(s.row.accuracy)));
      if (s.row.params) {
        const top = yp(s.row.params);
        const w = Math.min(48, band * 0.5);
        g.append(svg('rect', { class: 'stage-params', x: x - w / 2, y: top, width: w, height: size.top + size.height - top }), svg('text', { class: 'stage-params-label', x, y: top - 4, 'text-anchor': 'middle' }, int(s.row.params)));
      }
    } else g.append(svg('text', { class: 'stage-pending', x, y: acc.top + acc.height / 2, 'text-anchor': 'middle' }, 'not yet'));
    g.append(svg('text', { class: 'stage-name', x, y: size.top + size.height + 16, 'text-anchor': 'middle' }, s.model));
    if (s.row?.learnedFrom) g.append(svg('text', { class: 'stage-from', x, y: size.top + size.height + 30, 'text-anchor': 'middle' }, `from ${s.row.learnedFrom}`));
    root.append(g);
  });
  return root;
}

function renderStages(list: RunModel[], width: number): HTMLElement {
  const section = el('section', { id: 'stages' });
  for (const run of list) {
    const found = stagesOf(run);
    if (!found) continue;
    const { stages, scratch } = found;
    section.append(el('h2', {}, `Stages${list.length > 1 ? ` — ${run.id}` : ''}`));
    section.append(el('p', { class: 'muted' }, 'Each model in the order the run trained them, the final student last, with the model it learned from; the dashed line is the final student\'s architecture trained on the labels alone (scratch).'));
    section.append(el('div', { class: 'stages-figure' }, stagesChart(stages, scratch, width)));
    const t = el('table', { class: 'stages' });
    t.append(el('tr', {}, ...['model', 'learned from', 'test accuracy', 'agreement', 'parameters'].map((h) => el('th', {}, h))));
    for (const s of stages) t.append(el('tr', { 'data-model': s.model }, ...[s.model, s.row?.learnedFrom ?? '–', pct(s.row?.accuracy), s.model === 'teacher' ? '–' : pct(s.row?.agreement), int(s.row?.params)].map((c) => el('td', {}, c))));
    if (scratch) t.append(el('tr', { 'data-model': 'scratch', class: 'reference' }, ...['scratch (reference)', 'labels only', pct(scratch.accuracy), pct(scratch.agreement), int(scratch.params)].map((c) => el('td', {}, c))));
    section.append(t);
  }
  return section;
}

interface Line {
  label: string;
  /** Strictly increasing x values; `ys` as long. The same arrays from render to render while the run only grows. */
  xs: ArrayLike<number>;
  ys: ArrayLike<number | null>;
  /** Colour: one per run and phase. */
  group: number;
  /** Dash: one per loss term or train / validation. */
  variant: number;
}

interface ChartSpec {
  id: string;
  title: string;
  lines: Line[];
  xLabel: string;
  yLabel: string;
  percent?: boolean;
  log?: boolean;
  exp?: boolean;
}

const hasData = (l: Line) => {
  for (let i = 0; i < l.ys.length; i++) if (l.ys[i] !== null && l.ys[i] !== undefined) return true;
  return false;
};

const indexOf = (xs: number[], x: number) => {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] === x) return mid;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
};

/**
 * uPlot's aligned data for lines with their own x values: the union of the xs and each line's ys
 * on it (null where a line has no point). Kept from update to update: when the lines are the same
 * arrays, grown, only the new points are merged in (appended, or filled in where another line
 * already has that x); anything else is merged again from scratch.
 */
class Aligner {
  xs: number[] = [];
  ys: Array<Array<number | null>> = [];
  private srcs: Array<ArrayLike<number>> = [];
  private used: number[] = [];
  private lineSrc: number[] = [];
  private lineYs: Array<ArrayLike<number | null>> = [];
  private bySrc: number[][] = [];

  constructor(private readonly log: boolean) {}

  update(lines: Line[]): void {
    const fits = lines.length === this.lineYs.length && lines.every((l, i) => l.ys === this.lineYs[i] && l.xs === this.srcs[this.lineSrc[i]]) && this.srcs.every((s, i) => s.length >= this.used[i]);
    if (!fits) return this.reset(lines);
    const last = this.xs.length ? this.xs[this.xs.length - 1] : -Infinity;
    const from: number[] = [];
    const fills: number[] = [];
    for (let s = 0; s < this.srcs.length; s++) {
      const xs = this.srcs[s];
      let i = this.used[s];
      for (; i < xs.length && xs[i] <= last; i++) {
        const at = indexOf(this.xs, xs[i]);
        if (at < 0) return this.reset(lines);
        fills.push(s, i, at);
      }
      from.push(i);
    }
    for (let f = 0; f < fills.length; f += 3) for (const l of this.bySrc[fills[f]]) this.ys[l][fills[f + 2]] = this.y(l, fills[f + 1]);
    this.merge(from);
  }

  private y(line: number, i: number): number | null {
    const v = this.lineYs[line][i];
    return v === null || v === undefined || (this.log && v <= 0) ? null : v;
  }

  private reset(lines: Line[]): void {
    const index = new Map<ArrayLike<number>, number>();
    for (const l of lines) if (!index.has(l.xs)) index.set(l.xs, index.size);
    this.srcs = [...index.keys()];
    this.lineSrc = lines.map((l) => index.get(l.xs)!);
    this.lineYs = lines.map((l) => l.ys);
    this.bySrc = this.srcs.map((_, s) => this.lineSrc.flatMap((src, l) => (src === s ? [l] : [])));
    this.xs = [];
    this.ys = lines.map(() => []);
    this.merge(this.srcs.map(() => 0));
  }

  /** Appends the points at and after `from` (per source), all beyond the last x so far. */
  private merge(from: number[]): void {
    const { srcs, xs, ys, lineSrc } = this;
    const n = ys.length;
    const ptr = from.slice();
    if (srcs.length === 1) {
      const sx = srcs[0];
      for (let i = ptr[0]; i < sx.length; i++) {
        xs.push(sx[i]);
        for (let l = 0; l < n; l++) ys[l].push(this.y(l, i));
      }
    } else
      for (;;) {
        let x = Infinity;
        for (let s = 0; s < srcs.length; s++) if (ptr[s] < srcs[s].length && srcs[s][ptr[s]] < x) x = srcs[s][ptr[s]];
        if (x === Infinity) break;
        xs.push(x);
        for (let l = 0; l < n; l++) {
          const s = lineSrc[l];
          ys[l].push(ptr[s] < srcs[s].length && srcs[s][ptr[s]] === x ? this.y(l, ptr[s]) : null);
        }
        for (let s = 0; s < srcs.length; s++) if (ptr[s] < srcs[s].length && srcs[s][ptr[s]] === x) ptr[s]++;
      }
    this.used = srcs.map((s) => s.length);
  }
}

interface ChartHandle {
  box: HTMLElement;
  /** The series set and options it was built for: a new one rebuilds the chart. */
  key: string;
  u?: uPlot;
  aligner?: Aligner;
  /** The user zoomed in (x range narrower than the data): live data keeps the range. */
  zoomed: boolean;
}

const charts = new Map<string, ChartHandle>();
let chartsCreated = 0;

const chartKey = (spec: ChartSpec, lines: Line[]) => JSON.stringify([spec.title, spec.xLabel, spec.yLabel, !!spec.percent, !!spec.log, !!spec.exp, lines.map((l) => [l.label, l.group, l.variant])]);

function setCounts(box: HTMLElement, lines: Line[]): void {
  box.dataset.series = String(lines.length);
  box.dataset.points = String(lines.reduce((n, l) => n + l.xs.length, 0));
}

function createChart(spec: ChartSpec, width: number): ChartHandle {
  const lines = spec.lines.filter(hasData);
  const box = el('div', { class: 'chart', id: spec.id });
  const h: ChartHandle = { box, key: chartKey(spec, lines), zoomed: false };
  setCounts(box, lines);
  box.append(el('h3', {}, spec.title));
  if (lines.length === 0) {
    box.append(el('p', { class: 'muted' }, 'no data yet'));
    return h;
  }
  const aligner = (h.aligner = new Aligner(!!spec.log));
  aligner.update(lines);
  const fg = cssVar('--vscode-foreground', '#ccc');
  const grid = cssVar('--vscode-editorWidget-border', '#444');
  box.dataset.zoomed = 'false';
  chartsCreated += 1;
  const u = (h.u = new uPlot(
    {
      width,
      height: CHART_HEIGHT,
      scales: { x: { time: false }, y: spec.log ? { distr: 3 } : {} },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, label: spec.xLabel },
        { stroke: fg, grid: { stroke: grid, width: 1 }, label: spec.yLabel, values: spec.percent ? (_u, v) => v.map((x) => `${(x * 100).toFixed(0)}%`) : spec.exp ? (_u, v) => v.map((x) => x.toExponential(1)) : undefined },
      ],
      series: [{ label: spec.xLabel }, ...lines.map((l) => ({ label: l.label, stroke: color(l.group), dash: dash(l.group, l.variant), width: 1.5, spanGaps: true, points: { show: false } }))],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setScale: [
          (self: uPlot, key: string) => {
            if (key !== 'x') return;
            const xs = self.data[0];
            const { min, max } = self.scales.x;
            h.zoomed = xs.length > 1 && min != null && max != null && (min > xs[0] || max < xs[xs.length - 1]);
            box.dataset.zoomed = String(h.zoomed);
          },
        ],
      },
    },
    [aligner.xs, ...aligner.ys] as uPlot.AlignedData,
    box,
  ));
  const png = el('vscode-button', { class: 'export-png', secondary: '' }, 'Save PNG');
  png.addEventListener('click', () => vscode.postMessage({ type: 'saveFile', kind: 'png', suggestedName: `${spec.id}.png`, data: u.ctx.canvas.toDataURL('image/png') }));
  box.append(png);
  return h;
}

/** New points for a chart whose series are unchanged; false when it must be rebuilt. */
function updateChart(h: ChartHandle, spec: ChartSpec): boolean {
  const lines = spec.lines.filter(hasData);
  if (chartKey(spec, lines) !== h.key) return false;
  const { u, aligner } = h;
  if (!u || !aligner) return true; // still no data
  aligner.update(lines);
  const data = [aligner.xs, ...aligner.ys] as uPlot.AlignedData;
  // One commit (and drawing) for the data and the kept zoom.
  u.batch(() => {
    const { min, max } = u.scales.x;
    if (h.zoomed && min != null && max != null) {
      u.setData(data, false);
      u.setScale('x', { min, max });
    } else u.setData(data);
  });
  setCounts(h.box, lines);
  return true;
}

function destroyCharts(): void {
  for (const h of charts.values()) h.u?.destroy();
  charts.clear();
}

function chartSpecs(list: RunModel[]): ChartSpec[] {
  const multi = list.length > 1;
  const name = (run: RunModel, phase: Phase, what = '') => `${multi ? `${run.id} ` : ''}${phaseModelName(phase)}${what}`;
  const loss: Line[] = [];
  const acc: Line[] = [];
  const agree: Line[] = [];
  const lr: Line[] = [];
  let group = 0;
  for (const run of list)
    for (const s of orderedSeries(run)) {
      // A loaded teacher has no curves: it takes no colour.
      if (s.steps.size === 0 && s.epochs.size === 0) continue;
      const g = group++;
      const ep = epochColumns(s);
      if (xAxis === 'step') {
        const st = stepColumns(s);
        let v = 0;
        for (const [term, ys] of st.loss) loss.push({ label: name(run, s.phase, ` ${term}`), xs: st.xs, ys, group: g, variant: v++ });
        lr.push({ label: name(run, s.phase), xs: st.xs, ys: st.learningRate, group: g, variant: 0 });
      } else {
        loss.push({ label: name(run, s.phase, ' train'), xs: ep.xs, ys: ep.trainLoss, group: g, variant: 0 });
        loss.push({ label: name(run, s.phase, ' validation'), xs: ep.xs, ys: ep.validationLoss, group: g, variant: 1 });
        lr.push({ label: name(run, s.phase), xs: ep.xs, ys: ep.learningRate, group: g, variant: 0 });
      }
      acc.push({ label: name(run, s.phase, ' train'), xs: ep.xs, ys: ep.trainAccuracy, group: g, variant: 0 });
      acc.push({ label: name(run, s.phase, ' validation'), xs: ep.xs, ys: ep.validationAccuracy, group: g, variant: 1 });
      if (s.phase !== 'teacher') agree.push({ label: name(run, s.phase), xs: ep.xs, ys: ep.agreement, group: g, variant: 0 });
    }
  return [
    { id: 'loss', title: `Loss (every term) by ${xAxis}`, lines: loss, xLabel: xAxis, yLabel: 'loss', log: logScale },
    { id: 'accuracy', title: 'Accuracy by epoch', lines: acc, xLabel: 'epoch', yLabel: 'accuracy', percent: true },
    { id: 'agreement', title: 'Top-1 agreement with the teacher (validation) by epoch', lines: agree, xLabel: 'epoch', yLabel: 'agreement', percent: true },
    { id: 'lr', title: `Learning rate by ${xAxis}`, lines: lr, xLabel: xAxis, yLabel: 'learning rate', exp: true },
  ];
}

function renderCharts(list: RunModel[], width: number): HTMLElement {
  const section = el('section', { id: 'charts' });
  const controls = el('div', { class: 'controls' });
  const log = el('vscode-checkbox', { id: 'log-scale', label: 'log-scale loss' });
  if (logScale) log.setAttribute('checked', '');
  log.addEventListener('change', () => {
    logScale = !logScale;
    schedule();
  });
  const axis = el('vscode-button', { id: 'x-axis', secondary: '' }, `x axis: ${xAxis} (switch)`);
  axis.addEventListener('click', () => {
    xAxis = xAxis === 'step' ? 'epoch' : 'step';
    schedule();
  });
  controls.append(log, axis);
  section.append(controls);
  for (const spec of chartSpecs(list)) {
    const h = createChart(spec, width);
    charts.set(spec.id, h);
    section.append(h.box);
  }
  return section;
}

/** Live update of the charts: new points where the series are the same, a new chart where they are not. */
function updateCharts(list: RunModel[], width: number, replaced: string[]): void {
  for (const spec of chartSpecs(list)) {
    const old = charts.get(spec.id);
    if (old && updateChart(old, spec)) continue;
    const h = createChart(spec, width);
    if (old) {
      old.box.replaceWith(h.box);
      old.u?.destroy();
    } else $('#charts').append(h.box);
    charts.set(spec.id, h);
    replaced.push(spec.id);
  }
}

function renderLatency(list: RunModel[]): HTMLElement {
  const section = el('section', { id: 'latency' });
  const rows = list.flatMap((r) => r.latency.map((l) => ({ run: r.id, ...l })));
  if (rows.length === 0) return section;
  section.append(el('h2', {}, 'Latency'));
  const t = el('table', {});
  t.append(el('tr', {}, ...['run', 'model', 'runtime', 'threads', 'batch', 'p50 ms', 'p90 ms', 'p99 ms', 'samples/s', 'runs'].map((h) => el('th', {}, h))));
  for (const l of rows) t.append(el('tr', {}, ...[l.run, l.model, l.runtime, l.threads, String(l.batch), ms(l.p50Ms), ms(l.p90Ms), ms(l.p99Ms), int(Math.round(l.samplesPerSecond)), String(l.runs)].map((c) => el('td', {}, c))));
  section.append(t);
  return section;
}

function renderPerClass(list: RunModel[]): HTMLElement {
  const section = el('section', { id: 'per-class' });
  for (const run of list) {
    // Models in run order, however many stages the run has.
    const withConfusion = orderedSeries(run).filter((s) => s.test?.confusion);
    if (withConfusion.length === 0) continue;
    section.append(el('h2', {}, `Per-class test accuracy${list.length > 1 ? ` — ${run.id}` : ''}`));
    const k = withConfusion[0].test!.confusion!.length;
    const t = el('table', { class: 'per-class' });
    t.append(el('tr', {}, el('th', {}, 'class'), ...withConfusion.map((s) => el('th', {}, phaseModelName(s.phase)))));
    for (let c = 0; c < k; c++) {
      t.append(el('tr', {}, el('td', {}, run.data?.classNames?.[c] ?? String(c)), ...withConfusion.map((s) => {
        const row = s.test!.confusion![c];
        const total = row?.reduce((a, b) => a + b, 0);
        return el('td', {}, total ? pct(row[c] / total) : '–');
      })));
    }
    section.append(t);
  }
  return section;
}

/** The sections besides the charts, in page order around them; each is replaced only when its markup changes. */
const BEFORE_CHARTS: Array<[string, (list: RunModel[], width: number) => HTMLElement]> = [
  ['summary', renderSummary],
  ['stages', renderStages],
];
const AFTER_CHARTS: Array<[string, (list: RunModel[], width: number) => HTMLElement]> = [
  ['latency', renderLatency],
  ['per-class', renderPerClass],
];
/** The markup each section was last built with (before the page's custom elements added to it). */
const shownSections = new Map<string, string>();
/** What a full render was built for: the runs (by init), the theme, the x axis and the log toggle. */
let shownKey: string | undefined;
let shownWidth = 0;

function buildSection(id: string, build: (list: RunModel[], width: number) => HTMLElement, list: RunModel[], width: number): HTMLElement {
  const section = build(list, width);
  shownSections.set(id, section.outerHTML);
  return section;
}

function render(): void {
  const started = performance.now();
  const root = $('#root');
  const list = [...runs.values()];
  const key = `${generation}|${document.body.className}|${xAxis}|${logScale}`;
  const width = chartWidth();
  const replaced: string[] = [];
  let mode: 'full' | 'incremental' = 'full';
  if (list.length === 0) {
    destroyCharts();
    shownSections.clear();
    shownKey = undefined;
    root.replaceChildren(el('p', { class: 'muted' }, 'No run loaded.'));
  } else if (key !== shownKey) {
    destroyCharts();
    shownSections.clear();
    root.replaceChildren(
      ...BEFORE_CHARTS.map(([id, build]) => buildSection(id, build, list, width)),
      renderCharts(list, width),
      ...AFTER_CHARTS.map(([id, build]) => buildSection(id, build, list, width)),
    );
    shownKey = key;
    shownWidth = width;
  } else {
    mode = 'incremental';
    if (width !== shownWidth) {
      for (const h of charts.values()) h.u?.setSize({ width, height: CHART_HEIGHT });
      shownWidth = width;
    }
    for (const [id, build] of [...BEFORE_CHARTS, ...AFTER_CHARTS]) {
      const section = build(list, width);
      const html = section.outerHTML;
      if (shownSections.get(id) === html) continue;
      document.getElementById(id)?.replaceWith(section);
      shownSections.set(id, html);
      replaced.push(id);
    }
    updateCharts(list, width, replaced);
  }
  // New uPlot charts draw in a microtask: report after it, so that the time counts their drawing.
  queueMicrotask(() => {
    const b = document.body.dataset;
    b.renderMs = (performance.now() - started).toFixed(1);
    b.renderMode = mode;
    b.replaced = replaced.join(' ');
    b.chartsCreated = String(chartsCreated);
    b.rendered = String(Date.now());
  });
}

// Re-draw charts when the theme changes (their colours come from the theme's variables).
new MutationObserver(schedule).observe(document.body, { attributes: true, attributeFilter: ['class'] });
window.addEventListener('resize', schedule);
vscode.postMessage({ type: 'ready' });
