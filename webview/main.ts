/**
 * The dashboard: comparison table (teacher, scratch, distilled), live curves, latency and
 * per-class accuracy, for one run or several overlaid. Runs in a VS Code webview; talks to the
 * host only through src/protocol/messages.ts.
 */
import uPlot from 'uplot';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import { parseHostMessage, type WebviewMessage } from '../src/protocol/messages.ts';
import { phaseModelName, type Phase, type SummaryRow } from '../src/protocol/events.ts';
import { applyEvents, emptyRun, sorted, summaryCsv, type RunModel } from './model.ts';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  setState(s: unknown): void;
  getState(): unknown;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

const runs = new Map<string, RunModel>();
const charts: uPlot[] = [];
let logScale = false;
let xAxis: 'step' | 'epoch' = 'step';
let scheduled = false;

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const pct = (v?: number) => (v === undefined || Number.isNaN(v) ? '–' : `${(v * 100).toFixed(2)}%`);
const int = (v?: number) => (v === undefined ? '–' : v.toLocaleString('en-US'));
const bytes = (b?: number) => (b === undefined ? '–' : b < 1024 * 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1024 / 1024).toFixed(2)} MiB`);
const ms = (v?: number) => (v === undefined ? '–' : v < 1 ? v.toFixed(3) : v.toFixed(2));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

const PALETTE = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
const FALLBACK = ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'];
const color = (i: number) => cssVar(PALETTE[i % PALETTE.length], FALLBACK[i % FALLBACK.length]);

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
    for (const r of m.runs) runs.set(r.dir, applyEvents(emptyRun(r.dir, r.id), r.events));
    vscode.setState({ dirs: m.runs.map((r) => r.dir) });
  } else {
    const run = runs.get(m.dir);
    if (run) applyEvents(run, m.events);
  }
  schedule();
});

function renderSummary(list: RunModel[]): HTMLElement {
  const section = el('section', { id: 'summary' });
  for (const run of list) {
    const head = el('h2', {}, `${run.id} `, el('vscode-badge', { class: `status-${run.status}` }, run.status));
    section.append(head);
    if (run.backend) section.append(el('p', { class: 'muted' }, `backend ${run.backend.name} on ${run.backend.device}` + (run.data ? ` · ${int(run.data.train)} train / ${int(run.data.validation)} validation / ${int(run.data.test)} test examples, ${run.data.classes} classes` : '')));
    if (run.failure) section.append(el('p', { class: 'failure', role: 'alert' }, `Failed: ${run.failure}`));
    for (const w of run.warnings) section.append(el('p', { class: 'warning' }, `Warning: ${w}`));
    const runtimes = [...new Set(run.latency.map((l) => l.runtime))];
    const b1 = Math.min(...run.latency.map((l) => l.batch));
    const table = el('table', { class: 'summary' });
    table.append(el('tr', {}, ...['model', 'test accuracy', 'agreement', 'parameters', 'size (fp32)', 'ONNX', 'MACs/example', ...runtimes.map((r) => `${r} p50 / p99 ms (batch ${b1})`)].map((h) => el('th', {}, h))));
    // Before the run ends, rows come from the phases' test evaluations (sizes known once a phase has started).
    const rows: Array<Omit<SummaryRow, 'params' | 'bytes'> & { params?: number; bytes?: number }> = run.summary ?? [...run.series.values()].filter((s) => s.test).map((s) => ({ model: phaseModelName(s.phase), accuracy: s.test!.accuracy, agreement: s.test!.agreement, params: s.params, bytes: s.params === undefined ? undefined : s.params * 4 }));
    for (const r of rows) {
      const which = r.model === 'teacher' ? 'teacher' : 'student';
      table.append(el('tr', { 'data-model': r.model }, ...[r.model, pct(r.accuracy), r.model === 'teacher' ? '–' : pct(r.agreement), int(r.params), bytes(r.bytes), bytes(run.onnxBytes[which]), int(r.macs), ...runtimes.map((rt) => {
        const l = run.latency.find((x) => x.model === which && x.runtime === rt && x.batch === b1);
        return l ? `${ms(l.p50Ms)} / ${ms(l.p99Ms)}` : '–';
      })].map((c) => el('td', {}, c))));
    }
    section.append(table);
    const scratch = rows.find((r) => r.model === 'scratch');
    const distilled = rows.find((r) => r.model === 'distilled');
    const teacher = rows.find((r) => r.model === 'teacher');
    if (scratch && distilled) {
      const gain = (distilled.accuracy - scratch.accuracy) * 100;
      section.append(el('p', { class: `gain ${gain >= 0 ? 'positive' : 'negative'}`, 'data-gain': gain.toFixed(2) }, `Distillation vs scratch: ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} points of test accuracy (one seed; seed-to-seed noise is about a point).`));
    }
    if (teacher?.params && distilled?.params) {
      const facts = [`${(teacher.params / distilled.params).toFixed(1)}× fewer parameters`];
      if (teacher.macs && distilled.macs) facts.push(`${(teacher.macs / distilled.macs).toFixed(0)}× fewer multiply-adds`);
      for (const rt of runtimes) {
        const t = run.latency.find((x) => x.model === 'teacher' && x.runtime === rt && x.batch === b1);
        const s = run.latency.find((x) => x.model === 'student' && x.runtime === rt && x.batch === b1);
        if (t && s) facts.push(`${(t.p50Ms / s.p50Ms).toFixed(1)}× faster in ${rt}`);
      }
      section.append(el('p', { class: 'factors' }, `Student vs teacher: ${facts.join(', ')}; ${((teacher.accuracy - distilled.accuracy) * 100).toFixed(2)} points below it.`));
    }
  }
  const csv = el('vscode-button', { id: 'export-csv', secondary: '' }, 'Export table as CSV');
  csv.addEventListener('click', () => vscode.postMessage({ type: 'saveFile', kind: 'csv', suggestedName: 'distill-comparison.csv', data: summaryCsv(list) }));
  section.append(csv);
  return section;
}

interface Line {
  label: string;
  points: Array<[number, number | null]>;
}

function chart(id: string, title: string, all: Line[], opts: { xLabel: string; yLabel: string; percent?: boolean; log?: boolean; exp?: boolean }): HTMLElement {
  const lines = all.filter((l) => l.points.some((p) => p[1] !== null));
  const box = el('div', { class: 'chart', id, 'data-series': String(lines.length), 'data-points': String(lines.reduce((n, l) => n + l.points.length, 0)) });
  box.append(el('h3', {}, title));
  if (lines.every((l) => l.points.length === 0)) {
    box.append(el('p', { class: 'muted' }, 'no data yet'));
    return box;
  }
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = lines.map((l) => {
    const y: Array<number | null> = new Array(xs.length).fill(null);
    for (const [x, v] of l.points) y[index.get(x)!] = v !== null && opts.log && v <= 0 ? null : v;
    return y;
  });
  const fg = cssVar('--vscode-foreground', '#ccc');
  const grid = cssVar('--vscode-editorWidget-border', '#444');
  const width = Math.max(320, Math.min(900, (document.body.clientWidth || 900) - 40));
  const u = new uPlot(
    {
      width,
      height: 240,
      scales: { x: { time: false }, y: opts.log ? { distr: 3 } : {} },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, label: opts.xLabel },
        { stroke: fg, grid: { stroke: grid, width: 1 }, label: opts.yLabel, values: opts.percent ? (_u, v) => v.map((x) => `${(x * 100).toFixed(0)}%`) : opts.exp ? (_u, v) => v.map((x) => x.toExponential(1)) : undefined },
      ],
      series: [{ label: opts.xLabel }, ...lines.map((l, i) => ({ label: l.label, stroke: color(i), width: 1.5, spanGaps: true, points: { show: false } }))],
      cursor: { drag: { x: true, y: false } },
    },
    [xs, ...ys] as uPlot.AlignedData,
    box,
  );
  charts.push(u);
  const png = el('vscode-button', { class: 'export-png', secondary: '' }, 'Save PNG');
  png.addEventListener('click', () => vscode.postMessage({ type: 'saveFile', kind: 'png', suggestedName: `${id}.png`, data: u.ctx.canvas.toDataURL('image/png') }));
  box.append(png);
  return box;
}

function renderCharts(list: RunModel[]): HTMLElement {
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
  const multi = list.length > 1;
  const name = (run: RunModel, phase: Phase, what = '') => `${multi ? `${run.id} ` : ''}${phaseModelName(phase)}${what}`;
  const loss: Line[] = [];
  const acc: Line[] = [];
  const agree: Line[] = [];
  const lr: Line[] = [];
  for (const run of list)
    for (const s of run.series.values()) {
      if (xAxis === 'step') {
        const steps = sorted(s.steps);
        const terms = [...new Set(steps.flatMap(([, p]) => Object.keys(p.loss)))];
        for (const t of terms) loss.push({ label: name(run, s.phase, ` ${t}`), points: steps.map(([x, p]) => [x, p.loss[t] ?? null]) });
        lr.push({ label: name(run, s.phase), points: steps.map(([x, p]) => [x, p.learningRate]) });
      } else {
        loss.push({ label: name(run, s.phase, ' train'), points: sorted(s.epochs).map(([x, p]) => [x, p.trainLoss]) });
        loss.push({ label: name(run, s.phase, ' validation'), points: sorted(s.epochs).map(([x, p]) => [x, p.validation?.loss ?? null]) });
        lr.push({ label: name(run, s.phase), points: sorted(s.epochs).map(([x, p]) => [x, p.learningRate]) });
      }
      acc.push({ label: name(run, s.phase, ' train'), points: sorted(s.epochs).map(([x, p]) => [x, p.trainAccuracy]) });
      acc.push({ label: name(run, s.phase, ' validation'), points: sorted(s.epochs).map(([x, p]) => [x, p.validation?.accuracy ?? null]) });
      if (s.phase !== 'teacher') agree.push({ label: name(run, s.phase), points: sorted(s.epochs).map(([x, p]) => [x, p.validation?.agreement ?? null]) });
    }
  section.append(
    chart('loss', `Loss (every term) by ${xAxis}`, loss, { xLabel: xAxis, yLabel: 'loss', log: logScale }),
    chart('accuracy', 'Accuracy by epoch', acc, { xLabel: 'epoch', yLabel: 'accuracy', percent: true }),
    chart('agreement', 'Top-1 agreement with the teacher (validation) by epoch', agree, { xLabel: 'epoch', yLabel: 'agreement', percent: true }),
    chart('lr', `Learning rate by ${xAxis}`, lr, { xLabel: xAxis, yLabel: 'learning rate', exp: true }),
  );
  return section;
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
    // Phases in the order they ran (run_started lists them).
    const withConfusion = [...run.series.values()].filter((s) => s.test?.confusion).sort((a, b) => run.phases.indexOf(a.phase) - run.phases.indexOf(b.phase));
    if (withConfusion.length === 0) continue;
    section.append(el('h2', {}, `Per-class test accuracy${list.length > 1 ? ` — ${run.id}` : ''}`));
    const k = withConfusion[0].test!.confusion!.length;
    const t = el('table', { class: 'per-class' });
    t.append(el('tr', {}, el('th', {}, 'class'), ...withConfusion.map((s) => el('th', {}, phaseModelName(s.phase)))));
    for (let c = 0; c < k; c++) {
      t.append(el('tr', {}, el('td', {}, run.data?.classNames?.[c] ?? String(c)), ...withConfusion.map((s) => {
        const row = s.test!.confusion![c];
        const total = row.reduce((a, b) => a + b, 0);
        return el('td', {}, total ? pct(row[c] / total) : '–');
      })));
    }
    section.append(t);
  }
  return section;
}

function render(): void {
  const started = performance.now();
  for (const c of charts.splice(0)) c.destroy();
  const root = $('#root');
  const list = [...runs.values()];
  root.replaceChildren();
  if (list.length === 0) {
    root.append(el('p', { class: 'muted' }, 'No run loaded.'));
    return;
  }
  root.append(renderSummary(list), renderCharts(list), renderLatency(list), renderPerClass(list));
  document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
  document.body.dataset.rendered = String(Date.now());
}

// Re-draw charts when the theme changes (their colours come from the theme's variables).
new MutationObserver(schedule).observe(document.body, { attributes: true, attributeFilter: ['class'] });
window.addEventListener('resize', schedule);
vscode.postMessage({ type: 'ready' });
