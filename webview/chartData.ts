/**
 * The charts' data, without the DOM: which lines each chart has (chartSpecs) and uPlot's aligned
 * data for lines with their own x values (Aligner), kept from update to update. Pure: unit-tested
 * under plain node.
 */
import { phaseModelName, type Phase } from '../src/protocol/events.ts';
import { epochColumns, orderedSeries, stepColumns, type RunModel } from './model.ts';

export type XAxis = 'step' | 'epoch';

export interface Line {
  label: string;
  /** Strictly increasing x values; `ys` as long. The same arrays from render to render while the run only grows. */
  xs: ArrayLike<number>;
  ys: ArrayLike<number | null>;
  /** Colour: one per run and phase. */
  group: number;
  /** Dash: one per loss term or train / validation. */
  variant: number;
}

export interface ChartSpec {
  id: string;
  title: string;
  lines: Line[];
  xLabel: string;
  yLabel: string;
  percent?: boolean;
  log?: boolean;
  exp?: boolean;
}

export const hasData = (l: Line) => {
  for (let i = 0; i < l.ys.length; i++) if (l.ys[i] !== null && l.ys[i] !== undefined) return true;
  return false;
};

export const indexOf = (xs: number[], x: number) => {
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
export class Aligner {
  xs: number[] = [];
  ys: Array<Array<number | null>> = [];
  private srcs: Array<ArrayLike<number>> = [];
  private used: number[] = [];
  private lineSrc: number[] = [];
  private lineYs: Array<ArrayLike<number | null>> = [];
  private bySrc: number[][] = [];

  constructor(private readonly log: boolean) {}

  update(lines: Line[]): void {
    const fits =
      lines.length === this.lineYs.length &&
      lines.every((l, i) => l.ys === this.lineYs[i] && l.xs === this.srcs[this.lineSrc[i]]) &&
      this.srcs.every((s, i) => s.length >= this.used[i]);
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
    for (let f = 0; f < fills.length; f += 3)
      for (const l of this.bySrc[fills[f]]) this.ys[l][fills[f + 2]] = this.y(l, fills[f + 1]);
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

export const chartKey = (spec: ChartSpec, lines: Line[]) =>
  JSON.stringify([
    spec.title,
    spec.xLabel,
    spec.yLabel,
    !!spec.percent,
    !!spec.log,
    !!spec.exp,
    lines.map((l) => [l.label, l.group, l.variant]),
  ]);

/**
 * The charts of the runs shown: loss (every term), accuracy, agreement, learning rate, by step or
 * by epoch, and where a term anneals its temperature, that temperature by epoch.
 */
export function chartSpecs(list: RunModel[], xAxis: XAxis, logScale: boolean): ChartSpec[] {
  const multi = list.length > 1;
  const name = (run: RunModel, phase: Phase, what = '') =>
    `${multi ? `${run.id} ` : ''}${phaseModelName(phase)}${what}`;
  const loss: Line[] = [];
  const acc: Line[] = [];
  const agree: Line[] = [];
  const lr: Line[] = [];
  const temperature: Line[] = [];
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
        for (const [term, ys] of st.loss)
          loss.push({ label: name(run, s.phase, ` ${term}`), xs: st.xs, ys, group: g, variant: v++ });
        lr.push({ label: name(run, s.phase), xs: st.xs, ys: st.learningRate, group: g, variant: 0 });
      } else {
        loss.push({ label: name(run, s.phase, ' train'), xs: ep.xs, ys: ep.trainLoss, group: g, variant: 0 });
        loss.push({ label: name(run, s.phase, ' validation'), xs: ep.xs, ys: ep.validationLoss, group: g, variant: 1 });
        lr.push({ label: name(run, s.phase), xs: ep.xs, ys: ep.learningRate, group: g, variant: 0 });
      }
      acc.push({ label: name(run, s.phase, ' train'), xs: ep.xs, ys: ep.trainAccuracy, group: g, variant: 0 });
      acc.push({
        label: name(run, s.phase, ' validation'),
        xs: ep.xs,
        ys: ep.validationAccuracy,
        group: g,
        variant: 1,
      });
      if (s.phase !== 'teacher')
        agree.push({ label: name(run, s.phase), xs: ep.xs, ys: ep.agreement, group: g, variant: 0 });
      let v = 0;
      for (const [term, ys] of ep.temperature)
        temperature.push({ label: name(run, s.phase, ` ${term}`), xs: ep.xs, ys, group: g, variant: v++ });
    }
  const specs: ChartSpec[] = [
    { id: 'loss', title: `Loss (every term) by ${xAxis}`, lines: loss, xLabel: xAxis, yLabel: 'loss', log: logScale },
    { id: 'accuracy', title: 'Accuracy by epoch', lines: acc, xLabel: 'epoch', yLabel: 'accuracy', percent: true },
    {
      id: 'agreement',
      title: 'Top-1 agreement with the teacher (validation) by epoch',
      lines: agree,
      xLabel: 'epoch',
      yLabel: 'agreement',
      percent: true,
    },
    { id: 'lr', title: `Learning rate by ${xAxis}`, lines: lr, xLabel: xAxis, yLabel: 'learning rate', exp: true },
  ];
  // Only runs that anneal a temperature (`finalTemperature`) have one to draw: no empty chart otherwise.
  if (temperature.length > 0)
    specs.push({
      id: 'temperature',
      title: "Temperature of each annealed term by epoch (at the epoch's last step)",
      lines: temperature,
      xLabel: 'epoch',
      yLabel: 'temperature',
    });
  return specs;
}
