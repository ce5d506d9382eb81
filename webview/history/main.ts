/**
 * The Run History panel: every run of the workspace in one table, sorted by any column (click a
 * header; again to reverse). A run's name opens its dashboard; ticking two or more and "Compare"
 * opens them overlaid. The sort and the selection are kept with the webview state API, and a
 * redraw puts the keyboard focus back where it was. Talks to the host only through
 * src/protocol/history.ts.
 */
import {
  HISTORY_COLUMNS,
  parseHistoryHostMessage,
  type HistoryRow,
  type HistoryWebviewMessage,
} from '../../src/protocol/history.ts';
import { $, el } from '../dom.ts';
import { cellText, HEADERS, nextSort, restoreState, sortRows, type HistoryViewState } from './table.ts';

interface VsCodeApi {
  postMessage(m: HistoryWebviewMessage): void;
  setState(s: HistoryViewState): void;
  getState(): unknown;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

const state: HistoryViewState = restoreState(vscode.getState());
let rows: HistoryRow[] | undefined;

function save(): void {
  vscode.setState(state);
}

function headerCell(column: (typeof HISTORY_COLUMNS)[number]): HTMLElement {
  const h = HEADERS[column];
  const active = state.sort.column === column;
  const th = el('th', {
    scope: 'col',
    class: h.numeric ? 'num' : '',
    'aria-sort': active ? (state.sort.descending ? 'descending' : 'ascending') : 'none',
  });
  th.append(
    el(
      'button',
      {
        class: 'sort',
        'data-sort': column,
        'data-focus': `sort:${column}`,
        title: `${h.tooltip}. Sort by ${h.title}.`,
      },
      h.title,
      el('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (state.sort.descending ? '▼' : '▲') : ''),
    ),
  );
  return th;
}

function bodyRow(row: HistoryRow, selected: Set<string>): HTMLElement {
  const tr = el('tr', { 'data-dir': row.dir, class: `status-${row.status}` });
  const box = el('input', {
    type: 'checkbox',
    'data-select': row.dir,
    'data-focus': `select:${row.dir}`,
    'aria-label': `Select ${row.id}`,
  });
  box.checked = selected.has(row.dir);
  tr.append(el('td', {}, box));
  for (const column of HISTORY_COLUMNS) {
    const td = el('td', { class: HEADERS[column].numeric ? 'num' : '' });
    if (column === 'name') {
      td.append(
        el(
          'button',
          {
            class: 'link',
            'data-open': row.dir,
            'data-focus': `open:${row.dir}`,
            title: `Open the dashboard of ${row.id}`,
          },
          row.name,
        ),
        el('div', { class: 'muted id' }, row.id),
      );
    } else td.textContent = cellText(row, column);
    if (column === 'accuracy' && row.accuracySplit === 'validation') {
      td.classList.add('provisional');
      td.title = 'best validation accuracy so far (no test yet)';
    }
    if (column === 'gain' && row.gain !== undefined) td.classList.add('gain', row.gain >= 0 ? 'positive' : 'negative');
    if (column === 'latency' && row.latencyRuntime) td.title = row.latencyRuntime;
    if (column === 'status') td.classList.add('status');
    tr.append(td);
  }
  tr.append(
    el(
      'td',
      {},
      el(
        'button',
        { class: 'icon', 'data-reveal': row.dir, 'data-focus': `reveal:${row.dir}`, title: 'Reveal Run Folder' },
        'Reveal',
      ),
    ),
  );
  return tr;
}

function render(): void {
  const root = $('#root');
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.focus;
  if (!rows) {
    root.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
    return;
  }
  const known = new Set(rows.map((r) => r.dir));
  state.selected = state.selected.filter((d) => known.has(d));
  const selected = new Set(state.selected);
  const compare = el(
    'button',
    { id: 'compare', 'data-focus': 'compare', title: 'Open the selected runs in one dashboard' },
    `Compare ${selected.size} selected`,
  );
  compare.toggleAttribute('disabled', selected.size < 2);
  const toolbar = el(
    'div',
    { class: 'toolbar' },
    el('h2', {}, 'Run History'),
    el('span', { class: 'muted', id: 'count' }, `${rows.length} run${rows.length === 1 ? '' : 's'}`),
    compare,
  );
  if (rows.length === 0) {
    root.replaceChildren(toolbar, el('p', { class: 'muted' }, 'No runs in this workspace yet.'));
    return;
  }
  const head = el('tr', {}, el('th', { scope: 'col' }, ''), ...HISTORY_COLUMNS.map(headerCell), el('th', {}, ''));
  const body = el('tbody', {}, ...sortRows(rows, state.sort).map((r) => bodyRow(r, selected)));
  const table = el('table', { id: 'history', class: 'history' }, el('thead', {}, head), body);
  root.replaceChildren(toolbar, table);
  if (focused) (root.querySelector(`[data-focus="${CSS.escape(focused)}"]`) as HTMLElement | null)?.focus();
}

document.addEventListener('click', (event) => {
  const target = (event.target as HTMLElement).closest('button');
  if (!target) return;
  const d = target.dataset;
  if (d.sort) {
    state.sort = nextSort(state.sort, d.sort as (typeof HISTORY_COLUMNS)[number]);
    save();
    render();
  } else if (d.open) vscode.postMessage({ type: 'open', dirs: [d.open] });
  else if (d.reveal) vscode.postMessage({ type: 'reveal', dir: d.reveal });
  else if (target.id === 'compare' && state.selected.length >= 2)
    vscode.postMessage({ type: 'open', dirs: state.selected });
});

document.addEventListener('change', (event) => {
  const box = event.target as HTMLInputElement;
  const dir = box.dataset.select;
  if (!dir) return;
  state.selected = box.checked
    ? [...state.selected.filter((d) => d !== dir), dir]
    : state.selected.filter((d) => d !== dir);
  save();
  render();
});

window.addEventListener('message', (event: MessageEvent) => {
  const m = parseHistoryHostMessage(event.data);
  if (!m) return;
  rows = m.rows;
  render();
});

render();
vscode.postMessage({ type: 'ready' });
