/**
 * The sweep view: the chosen setting (chosen on validation) with its test result and paired
 * interval, a sortable table of every setting's validation mean ± sd with CI bars, parallel
 * coordinates from the swept keys to validation accuracy and gain (drag along an axis to brush;
 * the table and the plots keep the brushed settings), and validation accuracy against latency
 * and against size for every model of every run with the Pareto front marked. The sort and the
 * brushes are kept with the webview state API. Talks to the host only through
 * src/protocol/sweepView.ts; the logic is in model.ts.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import type { SweepModel } from '../../src/protocol/sweep.ts';
import {
  parseSweepViewMessage,
  type SweepViewMessage,
  type SweepWebviewMessage,
} from '../../src/protocol/sweepView.ts';
import { $, el, svg } from '../dom.ts';
import { bytes, ms } from '../format.ts';
import {
  brushed,
  ciScale,
  costPoints,
  DEFAULT_SORT,
  gainText,
  meanSdText,
  nextSort,
  parallelAxes,
  paretoFront,
  settingRows,
  sortRows,
  type Axis,
  type Brushes,
  type CostAxis,
  type SettingRow,
  type Sort,
  type SortColumn,
} from './model.ts';

interface ViewState {
  dir?: string;
  sort: Sort;
  brushes: Brushes;
}

interface VsCodeApi {
  postMessage(m: SweepWebviewMessage): void;
  setState(s: ViewState): void;
  getState(): unknown;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

function restore(saved: unknown): ViewState {
  const s = (saved ?? {}) as Partial<ViewState>;
  const sort =
    s.sort && typeof s.sort.column === 'string' && typeof s.sort.descending === 'boolean' ? s.sort : DEFAULT_SORT;
  const brushes: Brushes = {};
  if (s.brushes && typeof s.brushes === 'object')
    for (const [k, v] of Object.entries(s.brushes))
      if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && x >= 0 && x <= 1))
        brushes[k] = [v[0], v[1]];
  return { dir: typeof s.dir === 'string' ? s.dir : undefined, sort, brushes };
}

const state = restore(vscode.getState());
let sweep: SweepViewMessage | undefined;

const save = () => vscode.setState(state);

const MODEL_CLASS: Partial<Record<SweepModel, string>> = {
  teacher: 'model-teacher',
  scratch: 'model-scratch',
  distilled: 'model-distilled',
};
const modelClass = (m: string) => MODEL_CLASS[m as SweepModel] ?? 'model-other';

function width(): number {
  return Math.max(480, Math.min(1100, document.body.clientWidth - 32));
}

// ---------------------------------------------------------------------------------------------

function header(m: SweepViewMessage): HTMLElement {
  const { plan, statuses } = m;
  const count = (s: string) => statuses.filter((t) => t.state === s).length;
  const parts = [
    `${plan.mode}: ${plan.settings.length} setting${plan.settings.length === 1 ? '' : 's'} × ${plan.seeds.length} seed${plan.seeds.length === 1 ? '' : 's'}`,
    `${count('finished')}/${plan.tasks.length} tasks finished`,
  ];
  for (const s of ['running', 'queued', 'failed', 'stopped', 'pending']) if (count(s)) parts.push(`${count(s)} ${s}`);
  const clear = el('vscode-button', { id: 'clear-brushes', secondary: '' }, 'Clear brushes');
  if (Object.keys(state.brushes).length === 0) clear.setAttribute('disabled', '');
  return el(
    'header',
    { class: 'toolbar' },
    el('h2', {}, `Sweep ${plan.name}`),
    el('span', { class: 'muted', id: 'progress' }, parts.join(' · ')),
    clear,
  );
}

function chosenSection(m: SweepViewMessage): HTMLElement {
  const section = el('section', { id: 'chosen' });
  const a = m.aggregate;
  if (!a) {
    section.append(
      el(
        'p',
        { class: 'muted' },
        'No aggregate yet: a finished `distill sweep run` writes aggregate.json, and `distill sweep aggregate <folder>` rewrites it at any time.',
      ),
    );
    return section;
  }
  if (a.chosen === null) {
    section.append(el('p', { class: 'muted' }, 'No setting has a finished task yet: nothing is chosen.'));
    return section;
  }
  const setting = m.plan.settings.find((s) => s.id === a.chosen);
  section.append(
    el(
      'h3',
      {},
      'Chosen on validation accuracy: ',
      el('span', { class: 'chosen-label' }, setting?.label ?? `setting ${a.chosen}`),
    ),
    el(
      'p',
      { class: 'muted' },
      `The setting with the highest mean validation accuracy of the ${m.plan.select.model} student; the test set was read only after the choice, and only for this setting.`,
    ),
  );
  const test = a.test;
  if (!test) {
    section.append(el('p', { class: 'muted' }, 'Its test results are not in aggregate.json yet.'));
    return section;
  }
  const t = el('table', { class: 'test' });
  t.append(el('tr', {}, el('th', {}, 'model'), el('th', {}, 'test accuracy, mean ± sd over seeds')));
  for (const [model, v] of Object.entries(test.models))
    t.append(el('tr', {}, el('td', {}, model), el('td', {}, meanSdText(v))));
  section.append(t);
  const g = gainText(test.gain);
  section.append(
    el(
      'p',
      { id: 'test-gain', class: `gain ${g.established ? (test.gain!.mean >= 0 ? 'positive' : 'negative') : 'unsure'}` },
      `Paired test gain (distilled − scratch, same seed): ${g.text}`,
    ),
  );
  if (g.verdict) section.append(el('p', { id: 'test-verdict', class: g.established ? '' : 'warning' }, g.verdict));
  return section;
}

const COLUMN_TITLES: Record<string, [string, string]> = {
  setting: ['Setting', 'The setting id and its values'],
  seeds: ['Seeds', 'Finished seeds / planned'],
  validation: ['Validation', "The distilled student's best validation accuracy: mean ± sd over finished seeds"],
  scratch: ['Scratch (val)', "The from-scratch baseline's best validation accuracy: mean ± sd"],
  gain: ['Validation gain', 'Distilled minus scratch on validation, paired by seed, with its 95% interval'],
};

function ciBar(row: SettingRow, scale: ReturnType<typeof ciScale>): Node {
  if (!row.gain) return document.createTextNode('–');
  const w = 120;
  const h = 14;
  const s = scale(row.gain);
  const x = (f: number) => 4 + f * (w - 8);
  const bar = svg(
    'svg',
    { width: w, height: h, class: 'ci-bar', role: 'img', 'aria-label': gainText(row.gain).text },
    svg('line', { x1: x(s.zero), x2: x(s.zero), y1: 0, y2: h, class: 'ci-zero' }),
    svg('line', { x1: x(s.low), x2: x(s.high), y1: h / 2, y2: h / 2, class: 'ci-range' }),
    svg('line', { x1: x(s.low), x2: x(s.low), y1: 3, y2: h - 3, class: 'ci-range' }),
    svg('line', { x1: x(s.high), x2: x(s.high), y1: 3, y2: h - 3, class: 'ci-range' }),
    svg('circle', { cx: x(s.mean), cy: h / 2, r: 3, class: 'ci-mean' }),
  );
  return bar;
}

function settingsSection(m: SweepViewMessage, rows: SettingRow[], kept: Set<number>): HTMLElement {
  const section = el('section', { id: 'settings' });
  const shown = sortRows(
    rows.filter((r) => kept.has(r.setting)),
    state.sort,
  );
  section.append(
    el('h3', {}, `Settings${shown.length < rows.length ? ` (${shown.length} of ${rows.length}, brushed)` : ''}`),
  );
  const columns: SortColumn[] = [
    'setting',
    ...m.plan.keys.map((k) => `key:${k}` as const),
    'seeds',
    'validation',
    'scratch',
    'gain',
  ];
  const head = el(
    'tr',
    {},
    ...columns.map((c) => {
      const [title, tooltip] = COLUMN_TITLES[c] ?? [c.slice(4), `The swept key ${c.slice(4)}`];
      const active = state.sort.column === c;
      return el(
        'th',
        { scope: 'col', 'aria-sort': active ? (state.sort.descending ? 'descending' : 'ascending') : 'none' },
        el(
          'button',
          { class: 'sort', 'data-sort': c, title: `${tooltip}. Sort by ${title}.` },
          title,
          el('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (state.sort.descending ? '▼' : '▲') : ''),
        ),
      );
    }),
    el('th', {}, ''),
  );
  const scale = ciScale(rows.map((r) => r.gain));
  const body = shown.map((r) => {
    const tr = el('tr', { class: r.chosen ? 'chosen' : '', 'data-setting': String(r.setting) });
    const first = el('td', {}, `#${r.setting}`);
    if (r.chosen)
      first.append(' ', el('vscode-badge', { class: 'chosen-badge', title: 'chosen on validation' }, 'chosen'));
    tr.append(first);
    for (const k of m.plan.keys) {
      const v = r.values[k];
      tr.append(el('td', { class: typeof v === 'number' ? 'num' : '' }, typeof v === 'string' ? v : JSON.stringify(v)));
    }
    tr.append(
      el('td', { class: 'num' }, `${r.finished}/${r.planned}`),
      el('td', { class: 'num validation' }, meanSdText(r.validation)),
      el('td', { class: 'num' }, meanSdText(r.scratch)),
    );
    const g = gainText(r.gain);
    const gainCell = el('td', { class: 'gain-cell', title: g.verdict ? `${g.text}: ${g.verdict}` : g.text });
    gainCell.append(
      ciBar(r, scale),
      el(
        'span',
        { class: `gain-text ${r.gain && !r.gain.includesZero ? (r.gain.mean >= 0 ? 'positive' : 'negative') : ''}` },
        r.gain ? g.text : '',
      ),
    );
    tr.append(gainCell);
    const finishedTasks = m.statuses.filter((t) => t.setting === r.setting && t.runId);
    const open = el(
      'button',
      {
        class: 'link',
        'data-open': finishedTasks.map((t) => t.index).join(','),
        title: "Open this setting's runs side by side",
      },
      'runs',
    );
    if (finishedTasks.length === 0) open.setAttribute('disabled', '');
    tr.append(el('td', {}, open));
    return tr;
  });
  section.append(el('table', { class: 'settings' }, el('thead', {}, head), el('tbody', {}, ...body)));
  if (shown.length === 0) section.append(el('p', { class: 'muted' }, 'No setting is inside every brush.'));
  return section;
}

// ---------------------------------------------------------------------------------------------
// Parallel coordinates

const PC = { top: 28, bottom: 40, height: 260, pad: 60 };

function parallelSection(rows: SettingRow[], axes: Axis[], kept: Set<number>): HTMLElement {
  const section = el('section', { id: 'parallel' });
  section.append(
    el('h3', {}, 'Swept keys → validation accuracy and gain'),
    el(
      'p',
      { class: 'muted' },
      'One line per setting. Drag along an axis to brush (keep only the settings inside); click an axis to clear its brush.',
    ),
  );
  const w = width();
  const x = (i: number) => PC.pad + (axes.length === 1 ? 0 : (i * (w - 2 * PC.pad)) / (axes.length - 1));
  const y = (f: number) => PC.top + (1 - f) * PC.height;
  const plot = svg('svg', {
    width: w,
    height: PC.top + PC.height + PC.bottom,
    class: 'parallel',
    role: 'img',
    'aria-label': `Parallel coordinates over ${axes.map((a) => a.label).join(', ')}`,
  });
  for (const r of rows) {
    const pts = axes.map((a, i) => {
      const p = a.position(r);
      return p === undefined ? undefined : `${x(i).toFixed(1)},${y(p).toFixed(1)}`;
    });
    // A setting with no result yet draws its keys only.
    const known = pts.filter((p): p is string => p !== undefined);
    if (known.length < 2) continue;
    plot.append(
      svg('polyline', {
        points: known.join(' '),
        class: `pc-line${r.chosen ? ' chosen' : ''}${kept.has(r.setting) ? '' : ' filtered'}`,
        'data-setting': r.setting,
      }),
    );
  }
  axes.forEach((a, i) => {
    const g = svg('g', { class: 'pc-axis', 'data-axis': a.id });
    g.append(
      svg('line', { x1: x(i), x2: x(i), y1: y(0), y2: y(1), class: 'axis-line' }),
      svg(
        'text',
        {
          x: x(i),
          y: PC.top - 10,
          class: 'axis-label',
          // The outer axes' labels stay inside the plot.
          'text-anchor':
            i === 0 && axes.length > 1 ? 'start' : i === axes.length - 1 && axes.length > 1 ? 'end' : 'middle',
        },
        a.label + (a.kind === 'log' ? ' (log)' : ''),
      ),
    );
    for (const t of a.ticks) g.append(svg('text', { x: x(i) + 6, y: y(t.at) + 4, class: 'tick' }, t.label));
    const b = state.brushes[a.id];
    if (b)
      g.append(
        svg('rect', {
          x: x(i) - 8,
          width: 16,
          y: y(Math.max(...b)),
          height: Math.max(2, y(Math.min(...b)) - y(Math.max(...b))),
          class: 'brush',
        }),
      );
    // The hit area a drag starts on.
    g.append(
      svg('rect', {
        x: x(i) - 14,
        width: 28,
        y: y(1) - 4,
        height: PC.height + 8,
        class: 'brush-area',
        'data-brush': a.id,
        'data-top': y(1),
        'data-bottom': y(0),
      }),
    );
    plot.append(g);
  });
  section.append(plot);
  return section;
}

// ---------------------------------------------------------------------------------------------
// Accuracy against cost

const SC = { left: 56, right: 16, top: 12, bottom: 40, height: 240 };

function costPlot(m: SweepViewMessage, axis: CostAxis, kept: Set<number>, w: number): HTMLElement {
  const figure = el('figure', { class: 'cost', id: `cost-${axis}` });
  const points = costPoints(m.aggregate?.points ?? [], axis);
  const what = axis === 'latency' ? 'batch-1 median latency (ms, log)' : 'model size (bytes, log)';
  figure.append(el('figcaption', {}, `Validation accuracy against ${axis === 'latency' ? 'latency' : 'size'}`));
  if (points.length === 0) {
    figure.append(
      el(
        'p',
        { class: 'muted' },
        axis === 'latency' ? 'No latency measured: the runs had bench disabled.' : 'No finished run with a model yet.',
      ),
    );
    return figure;
  }
  const xs = points.map((p) => Math.log10(Math.max(p.cost, 1e-6)));
  const ys = points.map((p) => p.accuracy);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 - x0 < 1e-9) [x0, x1] = [x0 - 0.5, x1 + 0.5];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.01, y1 + 0.01];
  const padX = (x1 - x0) * 0.05;
  const padY = (y1 - y0) * 0.08;
  [x0, x1, y0, y1] = [x0 - padX, x1 + padX, y0 - padY, y1 + padY];
  const px = (v: number) => SC.left + ((Math.log10(Math.max(v, 1e-6)) - x0) / (x1 - x0)) * (w - SC.left - SC.right);
  const py = (v: number) => SC.top + (1 - (v - y0) / (y1 - y0)) * SC.height;
  const plot = svg('svg', {
    width: w,
    height: SC.top + SC.height + SC.bottom,
    class: 'cost-plot',
    role: 'img',
    'aria-label': `validation accuracy against ${what}`,
  });
  plot.append(
    svg('line', { x1: SC.left, x2: w - SC.right, y1: SC.top + SC.height, y2: SC.top + SC.height, class: 'axis-line' }),
    svg('line', { x1: SC.left, x2: SC.left, y1: SC.top, y2: SC.top + SC.height, class: 'axis-line' }),
    svg(
      'text',
      { x: (SC.left + w - SC.right) / 2, y: SC.top + SC.height + 34, class: 'axis-label', 'text-anchor': 'middle' },
      what,
    ),
    svg(
      'text',
      {
        x: 12,
        y: SC.top + SC.height / 2,
        class: 'axis-label',
        'text-anchor': 'middle',
        transform: `rotate(-90 12 ${SC.top + SC.height / 2})`,
      },
      'validation accuracy',
    ),
  );
  for (const f of [0, 0.5, 1]) {
    const v = y0 + padY + f * (y1 - y0 - 2 * padY);
    plot.append(
      svg('text', { x: SC.left - 6, y: py(v) + 4, class: 'tick', 'text-anchor': 'end' }, `${(v * 100).toFixed(1)}%`),
    );
    const c = 10 ** (x0 + padX + f * (x1 - x0 - 2 * padX));
    plot.append(
      svg(
        'text',
        { x: px(c), y: SC.top + SC.height + 16, class: 'tick', 'text-anchor': 'middle' },
        axis === 'latency' ? ms(c) : bytes(c),
      ),
    );
  }
  const front = paretoFront(points);
  plot.append(
    svg('polyline', {
      points: front.map((i) => `${px(points[i].cost).toFixed(1)},${py(points[i].accuracy).toFixed(1)}`).join(' '),
      class: 'pareto',
    }),
  );
  const onFront = new Set(front);
  const labels = new Map(m.plan.settings.map((s) => [s.id, s.label]));
  points.forEach((p, i) => {
    const dot = svg('circle', {
      cx: px(p.cost),
      cy: py(p.accuracy),
      r: onFront.has(i) ? 4.5 : 3,
      class: `point ${modelClass(p.point.model)}${onFront.has(i) ? ' on-front' : ''}${kept.has(p.point.setting) ? '' : ' filtered'}`,
      'data-task': p.point.index,
    });
    dot.append(
      svg(
        'title',
        {},
        `${p.point.model}, task #${p.point.index} (${labels.get(p.point.setting) ?? p.point.setting}, seed ${p.point.seed}): validation ${(p.accuracy * 100).toFixed(2)}%, ${axis === 'latency' ? `${ms(p.cost)} ms${p.point.latencyRuntime ? ` on ${p.point.latencyRuntime}` : ''}` : bytes(p.cost)}${onFront.has(i) ? ' — on the Pareto front' : ''}`,
      ),
    );
    plot.append(dot);
  });
  figure.append(plot);
  return figure;
}

function costSection(m: SweepViewMessage, kept: Set<number>): HTMLElement {
  const section = el('section', { id: 'cost' });
  section.append(
    el('h3', {}, 'Accuracy against cost, every model of every run'),
    el(
      'p',
      { class: 'muted' },
      'Validation accuracy (the test set is read only for the chosen setting). The line joins the Pareto front: no other model is both cheaper and more accurate.',
    ),
  );
  const models = [...new Set((m.aggregate?.points ?? []).map((p) => p.model))];
  section.append(
    el(
      'div',
      { class: 'legend' },
      ...models.map((model) =>
        el('span', { class: `key ${modelClass(model)}` }, el('span', { class: 'swatch' }), model),
      ),
      el('span', { class: 'key pareto-key' }, el('span', { class: 'swatch' }), 'Pareto front'),
    ),
  );
  const w = width();
  const each = w >= 900 ? Math.floor((w - 16) / 2) : w;
  section.append(
    el('div', { class: 'cost-plots' }, costPlot(m, 'latency', kept, each), costPlot(m, 'size', kept, each)),
  );
  return section;
}

// ---------------------------------------------------------------------------------------------

function render(): void {
  const root = $('#root');
  if (!sweep) {
    root.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
    return;
  }
  const rows = settingRows(sweep.plan, sweep.statuses, sweep.aggregate);
  const axes = parallelAxes(sweep.plan, rows);
  // Brushes on axes this sweep does not have are dropped.
  for (const id of Object.keys(state.brushes)) if (!axes.some((a) => a.id === id)) delete state.brushes[id];
  const kept = new Set(brushed(rows, axes, state.brushes).map((r) => r.setting));
  root.replaceChildren(
    header(sweep),
    chosenSection(sweep),
    settingsSection(sweep, rows, kept),
    parallelSection(rows, axes, kept),
    costSection(sweep, kept),
  );
  document.body.dataset.rendered = String(Date.now());
}

document.addEventListener('click', (event) => {
  const target = event.target as HTMLElement;
  const button = target.closest('button, vscode-button') as HTMLElement | null;
  if (!button || button.hasAttribute('disabled')) return;
  if (button.id === 'clear-brushes') {
    state.brushes = {};
    save();
    render();
    return;
  }
  const d = button.dataset;
  if (d.sort) {
    state.sort = nextSort(state.sort, d.sort as SortColumn);
    save();
    render();
  } else if (d.open) {
    const indices = d.open.split(',').filter(Boolean).map(Number);
    if (indices.length) vscode.postMessage({ type: 'openTasks', indices });
  }
});

// Brushing: a drag along an axis sets its range; a click without a drag clears it.
let drag: { axis: string; top: number; bottom: number; start: number; svg: SVGSVGElement } | undefined;

function fraction(d: NonNullable<typeof drag>, clientY: number): number {
  const box = d.svg.getBoundingClientRect();
  const y = clientY - box.top;
  return Math.min(1, Math.max(0, (d.bottom - y) / (d.bottom - d.top)));
}

document.addEventListener('pointerdown', (event) => {
  const area = (event.target as Element).closest?.('[data-brush]') as SVGRectElement | null;
  if (!area) return;
  const plot = area.ownerSVGElement!;
  drag = {
    axis: area.dataset.brush!,
    top: Number(area.dataset.top),
    bottom: Number(area.dataset.bottom),
    start: 0,
    svg: plot,
  };
  drag.start = fraction(drag, event.clientY);
  event.preventDefault();
});

document.addEventListener('pointerup', (event) => {
  if (!drag) return;
  const end = fraction(drag, event.clientY);
  if (Math.abs(end - drag.start) < 0.02) delete state.brushes[drag.axis];
  else state.brushes[drag.axis] = [Math.min(drag.start, end), Math.max(drag.start, end)];
  drag = undefined;
  save();
  render();
});

window.addEventListener('message', (event: MessageEvent) => {
  const m = parseSweepViewMessage(event.data);
  if (!m) return;
  sweep = m;
  if (state.dir !== m.dir) {
    state.dir = m.dir;
    save();
  }
  render();
});

let resizeTimer: number | undefined;
window.addEventListener('resize', () => {
  window.clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(render, 150);
});

render();
vscode.postMessage({ type: 'ready' });
