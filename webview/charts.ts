/** The uPlot charts: built once per set of lines, then fed new points (keeping the user's zoom). */
import uPlot from 'uplot';
import { chartKey, chartSpecs, hasData, Aligner, type ChartSpec, type Line } from './chartData.ts';
import { $, cssVar, el } from './dom.ts';
import type { RunModel } from './model.ts';
import { zoomKey, type Dashboard } from './state.ts';

const PALETTE = [
  '--vscode-charts-blue',
  '--vscode-charts-orange',
  '--vscode-charts-green',
  '--vscode-charts-purple',
  '--vscode-charts-red',
  '--vscode-charts-yellow',
];
const FALLBACK = ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'];
const color = (i: number) => cssVar(PALETTE[i % PALETTE.length], FALLBACK[i % FALLBACK.length]);
/** A line's dash: one per loss term (or train / validation); the colours' second round is dashed too. */
const DASHES: Array<number[] | undefined> = [undefined, [6, 4], [2, 3], [10, 3, 2, 3]];
const dash = (group: number, variant: number) => DASHES[(variant + Math.floor(group / PALETTE.length)) % DASHES.length];
export const CHART_HEIGHT = 240;
export const chartWidth = () => Math.max(320, Math.min(900, (document.body.clientWidth || 900) - 40));

export interface ChartHandle {
  box: HTMLElement;
  /** The series set and options it was built for: a new one rebuilds the chart. */
  key: string;
  u?: uPlot;
  aligner?: Aligner;
  /** The user zoomed in (x range narrower than the data): live data keeps the range. */
  zoomed: boolean;
  /** The saved zoom was applied (before, the chart's own first scaling is not the user's). */
  restored?: boolean;
}

function setCounts(box: HTMLElement, lines: Line[]): void {
  box.dataset.series = String(lines.length);
  box.dataset.points = String(lines.reduce((n, l) => n + l.xs.length, 0));
}

function createChart(d: Dashboard, spec: ChartSpec, width: number): ChartHandle {
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
  d.chartsCreated += 1;
  const u = (h.u = new uPlot(
    {
      width,
      height: CHART_HEIGHT,
      scales: { x: { time: false }, y: spec.log ? { distr: 3 } : {} },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, label: spec.xLabel },
        {
          stroke: fg,
          grid: { stroke: grid, width: 1 },
          label: spec.yLabel,
          values: spec.percent
            ? (_u, v) => v.map((x) => `${(x * 100).toFixed(0)}%`)
            : spec.exp
              ? (_u, v) => v.map((x) => x.toExponential(1))
              : undefined,
        },
      ],
      series: [
        { label: spec.xLabel },
        ...lines.map((l) => ({
          label: l.label,
          stroke: color(l.group),
          dash: dash(l.group, l.variant),
          width: 1.5,
          spanGaps: true,
          points: { show: false },
        })),
      ],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        ready: [
          (self: uPlot) => {
            const saved = d.zoom.get(zoomKey(spec.id, spec.xLabel));
            h.restored = true;
            // After the commit that fires `ready` (a scale set inside it would wait for the next one).
            if (saved) queueMicrotask(() => self.setScale('x', { min: saved[0], max: saved[1] }));
          },
        ],
        setScale: [
          (self: uPlot, key: string) => {
            if (key !== 'x') return;
            const xs = self.data[0];
            const { min, max } = self.scales.x;
            h.zoomed = xs.length > 1 && min != null && max != null && (min > xs[0] || max < xs[xs.length - 1]);
            box.dataset.zoomed = String(h.zoomed);
            if (!h.restored) return;
            const k = zoomKey(spec.id, spec.xLabel);
            const had = d.zoom.get(k);
            if (h.zoomed && min != null && max != null) {
              if (had?.[0] === min && had[1] === max) return;
              d.zoom.set(k, [min, max]);
            } else if (had) d.zoom.delete(k);
            else return;
            d.saveView();
          },
        ],
      },
    },
    [aligner.xs, ...aligner.ys] as uPlot.AlignedData,
    box,
  ));
  const png = el('vscode-button', { class: 'export-png', secondary: '' }, 'Save PNG');
  png.addEventListener('click', () =>
    d.post({
      type: 'saveFile',
      kind: 'png',
      suggestedName: `${spec.id}.png`,
      data: u.ctx.canvas.toDataURL('image/png'),
    }),
  );
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

export function destroyCharts(d: Dashboard): void {
  for (const h of d.charts.values()) h.u?.destroy();
  d.charts.clear();
}

export function renderCharts(d: Dashboard, list: RunModel[], width: number): HTMLElement {
  const section = el('section', { id: 'charts' });
  const controls = el('div', { class: 'controls' });
  const log = el('vscode-checkbox', { id: 'log-scale', label: 'log-scale loss' });
  if (d.logScale) log.setAttribute('checked', '');
  log.addEventListener('change', () => {
    d.logScale = !d.logScale;
    d.schedule();
  });
  const axis = el('vscode-button', { id: 'x-axis', secondary: '' }, `x axis: ${d.xAxis} (switch)`);
  axis.addEventListener('click', () => {
    d.xAxis = d.xAxis === 'step' ? 'epoch' : 'step';
    d.schedule();
  });
  controls.append(log, axis);
  section.append(controls);
  for (const spec of chartSpecs(list, d.xAxis, d.logScale)) {
    const h = createChart(d, spec, width);
    d.charts.set(spec.id, h);
    section.append(h.box);
  }
  return section;
}

/** Live update of the charts: new points where the series are the same, a new chart where they are not. */
export function updateCharts(d: Dashboard, list: RunModel[], width: number, replaced: string[]): void {
  for (const spec of chartSpecs(list, d.xAxis, d.logScale)) {
    const old = d.charts.get(spec.id);
    if (old && updateChart(old, spec)) continue;
    const h = createChart(d, spec, width);
    if (old) {
      old.box.replaceWith(h.box);
      old.u?.destroy();
    } else $('#charts').append(h.box);
    d.charts.set(spec.id, h);
    replaced.push(spec.id);
  }
}
