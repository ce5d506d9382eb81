/**
 * The Run History table's logic, free of the DOM: what each column shows and sorts by, the sort
 * itself and the view state kept across tab switches and reloads. Pure, unit-tested.
 */
import { HISTORY_COLUMNS, type HistoryColumn, type HistoryRow } from '../../src/protocol/history.ts';
import { ms, pct } from '../format.ts';

export interface Sort {
  column: HistoryColumn;
  descending: boolean;
}

/** The webview state (vscode.setState): the sort and the selection survive a tab switch or a reload. */
export interface HistoryViewState {
  sort: Sort;
  selected: string[];
}

/** Newest first until the user picks a column. */
export const DEFAULT_SORT: Sort = { column: 'started', descending: true };

/** A column's value to sort on: a number or a string; undefined sorts last in either direction. */
type Key = number | string | undefined;

const KEYS: Record<HistoryColumn, (r: HistoryRow) => Key> = {
  name: (r) => r.name,
  method: (r) => r.method,
  strategy: (r) => r.strategy,
  seed: (r) => r.seed,
  backend: (r) => r.backend,
  status: (r) => r.status,
  accuracy: (r) => r.accuracy,
  gain: (r) => r.gain,
  latency: (r) => r.latencyMs,
  started: (r) => r.startedAt,
};

export const HEADERS: Record<HistoryColumn, { title: string; tooltip: string; numeric: boolean }> = {
  name: { title: 'Run', tooltip: 'The config name and the run folder', numeric: false },
  method: { title: 'Method', tooltip: 'distill.method (a combined objective: its terms)', numeric: false },
  strategy: { title: 'Strategy', tooltip: 'strategy.type', numeric: false },
  seed: { title: 'Seed', tooltip: 'train.seed', numeric: true },
  backend: { title: 'Backend', tooltip: 'The TensorFlow.js backend the run trained on', numeric: false },
  status: { title: 'Status', tooltip: 'As the Runs view shows it', numeric: false },
  accuracy: {
    title: 'Accuracy',
    tooltip: "The final student's test accuracy; in italics, before its test: the best validation accuracy so far",
    numeric: true,
  },
  gain: {
    title: 'Gain',
    tooltip: 'Test accuracy of the distilled student minus the from-scratch baseline (same seed), in points',
    numeric: true,
  },
  latency: { title: 'Latency', tooltip: "The student's median latency at batch 1, in ms", numeric: true },
  started: { title: 'Started', tooltip: 'When the run started (local time)', numeric: false },
};

function compareKeys(a: Key, b: Key): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true, sensitivity: 'base' });
}

/**
 * The rows sorted by a column. Rows without a value in it go last, in either direction; ties
 * keep the newest run first, so the order never depends on the order the rows came in.
 */
export function sortRows(rows: readonly HistoryRow[], sort: Sort): HistoryRow[] {
  const key = KEYS[sort.column];
  const newestFirst = (a: HistoryRow, b: HistoryRow) =>
    compareKeys(b.startedAt ?? '', a.startedAt ?? '') || compareKeys(a.dir, b.dir);
  return [...rows].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka === undefined || kb === undefined) return ka === kb ? newestFirst(a, b) : ka === undefined ? 1 : -1;
    const order = compareKeys(ka, kb);
    return (sort.descending ? -order : order) || newestFirst(a, b);
  });
}

/** Clicking a header: the same column flips its direction; another sorts ascending (numbers: best first). */
export function nextSort(current: Sort, column: HistoryColumn): Sort {
  if (current.column === column) return { column, descending: !current.descending };
  const bestFirst = column === 'accuracy' || column === 'gain' || column === 'started';
  return { column, descending: bestFirst };
}

const two = (n: number) => String(n).padStart(2, '0');

/** What a cell shows. */
export function cellText(row: HistoryRow, column: HistoryColumn): string {
  switch (column) {
    case 'name':
      return row.name;
    case 'seed':
      return row.seed === undefined ? '–' : String(row.seed);
    case 'accuracy':
      return pct(row.accuracy);
    case 'gain':
      return row.gain === undefined ? '–' : `${row.gain >= 0 ? '+' : ''}${(row.gain * 100).toFixed(2)}`;
    case 'latency':
      return row.latencyMs === undefined ? '–' : `${ms(row.latencyMs)} ms`;
    case 'started': {
      if (!row.startedAt) return '–';
      const d = new Date(row.startedAt);
      if (Number.isNaN(d.getTime())) return row.startedAt;
      return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
    }
    default:
      return row[column] ?? '–';
  }
}

/** A state read back from the webview (untrusted: anything unknown falls back to the default). */
export function restoreState(saved: unknown): HistoryViewState {
  const o = (saved ?? {}) as Partial<Record<keyof HistoryViewState, unknown>>;
  const s = (o.sort ?? {}) as Partial<Record<keyof Sort, unknown>>;
  const sort =
    typeof s.column === 'string' && (HISTORY_COLUMNS as readonly string[]).includes(s.column)
      ? { column: s.column as HistoryColumn, descending: s.descending === true }
      : DEFAULT_SORT;
  const selected = Array.isArray(o.selected) ? o.selected.filter((d): d is string => typeof d === 'string') : [];
  return { sort, selected };
}
