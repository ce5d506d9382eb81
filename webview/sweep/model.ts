/**
 * The sweep view's logic, free of the DOM: the settings table (rows, sort), the parallel
 * coordinates (axes, scales, brushing), the accuracy-against-cost plots (Pareto front) and the
 * wording of a gain with its interval. Pure, unit-tested; the page (main.ts) only draws it.
 */
import type {
  MeanSd,
  PairedInterval,
  SweepAggregate,
  SweepModelPoint,
  SweepPlan,
  SweepTaskStatus,
} from '../../src/protocol/sweep.ts';
import { gainVerdict, seedsWord } from '../../src/protocol/gainWords.ts';

/** One setting of the table: its values, how many seeds finished, its validation results. */
export interface SettingRow {
  setting: number;
  label: string;
  values: Record<string, unknown>;
  /** Seeds finished, and planned. */
  finished: number;
  planned: number;
  /** The distilled student's validation accuracy over the finished seeds. */
  validation?: MeanSd;
  /** The from-scratch baseline's, for reference. */
  scratch?: MeanSd;
  /** Distilled minus scratch on validation, paired by seed. */
  gain?: PairedInterval;
  chosen: boolean;
}

export function settingRows(plan: SweepPlan, statuses: SweepTaskStatus[], aggregate?: SweepAggregate): SettingRow[] {
  const results = new Map((aggregate?.settings ?? []).map((r) => [r.setting, r]));
  return plan.settings.map((s) => {
    const r = results.get(s.id);
    const tasks = statuses.filter((t) => t.setting === s.id);
    return {
      setting: s.id,
      label: s.label,
      values: s.values,
      finished: tasks.filter((t) => t.state === 'finished').length,
      planned: tasks.length,
      validation: r?.validation.distilled,
      scratch: r?.validation.scratch,
      gain: r?.validationGain,
      chosen: aggregate?.chosen === s.id,
    };
  });
}

/** A column of the table: `setting`, a swept key (`key:distill.temperature`), seeds, validation, scratch, gain. */
export type SortColumn = 'setting' | 'seeds' | 'validation' | 'scratch' | 'gain' | `key:${string}`;

export interface Sort {
  column: SortColumn;
  descending: boolean;
}

/** Best validation first until the user picks a column. */
export const DEFAULT_SORT: Sort = { column: 'validation', descending: true };

type Key = number | string | undefined;

function keyOf(row: SettingRow, column: SortColumn): Key {
  switch (column) {
    case 'setting':
      return row.setting;
    case 'seeds':
      return row.finished;
    case 'validation':
      return row.validation?.mean;
    case 'scratch':
      return row.scratch?.mean;
    case 'gain':
      return row.gain?.mean;
    default: {
      const v = row.values[column.slice(4)];
      return typeof v === 'number' || typeof v === 'string' ? v : v === undefined ? undefined : JSON.stringify(v);
    }
  }
}

function compareKeys(a: Key, b: Key): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

/** Sorted by `sort`; rows without a value sort last in either direction; ties keep the setting order. */
export function sortRows(rows: readonly SettingRow[], sort: Sort): SettingRow[] {
  return [...rows].sort((x, y) => {
    const a = keyOf(x, sort.column);
    const b = keyOf(y, sort.column);
    if (a === undefined || b === undefined) return a === b ? x.setting - y.setting : a === undefined ? 1 : -1;
    const c = compareKeys(a, b);
    return c === 0 ? x.setting - y.setting : sort.descending ? -c : c;
  });
}

/** A click on a column: the same column reverses, another starts in its natural direction (numbers high first). */
export function nextSort(current: Sort, column: SortColumn): Sort {
  if (current.column === column) return { column, descending: !current.descending };
  return { column, descending: column === 'validation' || column === 'scratch' || column === 'gain' };
}

// ---------------------------------------------------------------------------------------------
// Parallel coordinates

/** An axis: a swept key, the validation accuracy or the gain; maps a row to 0 (bottom) .. 1 (top), or undefined. */
export interface Axis {
  id: string;
  label: string;
  /** `log` when a numeric key spans two decades or more (a learning rate). */
  kind: 'linear' | 'log' | 'category';
  position(row: SettingRow): number | undefined;
  /** Labelled positions along the axis. */
  ticks: Array<{ at: number; label: string }>;
}

const fmt = (v: number) =>
  Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(1) : `${+v.toPrecision(3)}`;

/** A numeric axis over `values` (linear, or log when all are positive and span two decades). */
function numericAxis(
  id: string,
  label: string,
  values: number[],
  get: (r: SettingRow) => number | undefined,
  show: (v: number) => string = fmt,
): Axis {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const log = lo > 0 && hi / lo >= 100;
  const t = (v: number) => (log ? Math.log10(v) : v);
  if (values.length === 0) [lo, hi] = [0, 1];
  const [a, b] = [t(lo), t(hi)];
  const at = (v: number) => (b === a ? 0.5 : (t(v) - a) / (b - a));
  const ticks =
    values.length === 0
      ? []
      : lo === hi
        ? [{ at: 0.5, label: show(lo) }]
        : [0, 0.5, 1].map((f) => {
            const v = log ? 10 ** (a + f * (b - a)) : lo + f * (hi - lo);
            return { at: f, label: show(v) };
          });
  return {
    id,
    label,
    kind: log ? 'log' : 'linear',
    position: (r) => {
      const v = get(r);
      return v === undefined || !Number.isFinite(v) ? undefined : at(v);
    },
    ticks,
  };
}

/** Parallel axes: each swept key, then the distilled student's validation accuracy, then its validation gain. */
export function parallelAxes(plan: SweepPlan, rows: readonly SettingRow[]): Axis[] {
  const axes: Axis[] = plan.keys.map((key) => {
    const values = rows.map((r) => r.values[key]);
    if (values.every((v) => typeof v === 'number'))
      return numericAxis(`key:${key}`, key, values as number[], (r) => r.values[key] as number);
    // Categories (strings, booleans, objects) in the order of their first setting.
    const names = [...new Set(values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))))];
    const at = (name: string) => (names.length === 1 ? 0.5 : names.indexOf(name) / (names.length - 1));
    return {
      id: `key:${key}`,
      label: key,
      kind: 'category' as const,
      position: (r: SettingRow) => {
        const v = r.values[key];
        return at(typeof v === 'string' ? v : JSON.stringify(v));
      },
      ticks: names.map((n) => ({ at: at(n), label: n })),
    };
  });
  const pts = (v: number) => `${(v * 100).toFixed(1)}%`;
  const accuracies = rows.flatMap((r) => (r.validation ? [r.validation.mean] : []));
  axes.push(numericAxis('validation', 'validation accuracy', accuracies, (r) => r.validation?.mean, pts));
  const gains = rows.flatMap((r) => (r.gain ? [r.gain.mean] : []));
  axes.push(
    numericAxis(
      'gain',
      'validation gain (points)',
      gains,
      (r) => r.gain?.mean,
      (v) => signed(v * 100, 2),
    ),
  );
  return axes;
}

/** A brush: the range (0..1 along the axis) a row's position must fall in; one per axis at most. */
export type Brushes = Record<string, [number, number]>;

/** The rows every brush keeps (a row with no value on a brushed axis is filtered out). */
export function brushed(rows: readonly SettingRow[], axes: readonly Axis[], brushes: Brushes): SettingRow[] {
  const active = axes.filter((a) => brushes[a.id]);
  return rows.filter((r) =>
    active.every((a) => {
      const p = a.position(r);
      const [lo, hi] = brushes[a.id];
      return p !== undefined && p >= Math.min(lo, hi) - 1e-9 && p <= Math.max(lo, hi) + 1e-9;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Accuracy against cost

export type CostAxis = 'latency' | 'size';

/** A point of an accuracy-against-cost plot: cost (ms or bytes) and validation accuracy. */
export interface CostPoint {
  point: SweepModelPoint;
  cost: number;
  accuracy: number;
}

/** Every model of every finished run that has the cost (latency is measured where bench ran). */
export function costPoints(points: readonly SweepModelPoint[], axis: CostAxis): CostPoint[] {
  return points.flatMap((p) => {
    const cost = axis === 'latency' ? p.latencyMs : p.bytes;
    return cost === undefined || !Number.isFinite(cost) ? [] : [{ point: p, cost, accuracy: p.validationAccuracy }];
  });
}

/**
 * The Pareto front (lower cost, higher accuracy): the points no other point beats on both (at
 * least as good on each, better on one), ordered by cost. Indices into `points`.
 */
export function paretoFront(points: ReadonlyArray<{ cost: number; accuracy: number }>): number[] {
  const order = points
    .map((_, i) => i)
    .sort((a, b) => points[a].cost - points[b].cost || points[b].accuracy - points[a].accuracy);
  const front: number[] = [];
  let best = -Infinity;
  for (const i of order) {
    if (points[i].accuracy > best) {
      front.push(i);
      best = points[i].accuracy;
    }
  }
  return front;
}

// ---------------------------------------------------------------------------------------------
// Wording

export const signed = (v: number, digits = 2) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`;

/** `81.23% ± 0.41 (n = 3)`: mean and sample sd over seeds, in percent and points. */
export function meanSdText(m: MeanSd | undefined): string {
  if (!m) return '–';
  return `${(m.mean * 100).toFixed(2)}%${m.sd === null ? '' : ` ± ${(m.sd * 100).toFixed(2)}`} (n = ${m.n})`;
}

/**
 * A gain in points with its interval, and what the interval says (gainVerdict, the words of the
 * CLI's table):
 * `+0.86 points, 95% CI +0.21 to +1.51 (paired t, n = 3)`; plainly when it includes zero, and a
 * single seed has no interval.
 */
export function gainText(g: PairedInterval | undefined): { text: string; verdict: string; established: boolean } {
  if (!g) return { text: '–', verdict: '', established: false };
  const level = Math.round(g.level * 100);
  const mean = `${signed(g.mean * 100)} points`;
  const verdict = gainVerdict(g);
  if (g.low === null || g.high === null)
    return { text: `${mean} (no interval: ${seedsWord(g.n)})`, verdict, established: false };
  const text = `${mean}, ${level}% CI ${signed(g.low * 100)} to ${signed(g.high * 100)} (paired t, n = ${g.n})`;
  return { text, verdict, established: !g.includesZero };
}

/** A CI bar: where the mean and the interval sit on a common scale (0..1) for all rows; undefined without an interval. */
export function ciScale(intervals: ReadonlyArray<PairedInterval | undefined>): (g: PairedInterval) => {
  low: number;
  mean: number;
  high: number;
  zero: number;
} {
  const values = intervals.flatMap((g) => (g ? [g.mean, g.low ?? g.mean, g.high ?? g.mean] : [])).concat([0]);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const at = (v: number) => (hi === lo ? 0.5 : (v - lo) / (hi - lo));
  return (g) => ({ low: at(g.low ?? g.mean), mean: at(g.mean), high: at(g.high ?? g.mean), zero: at(0) });
}
