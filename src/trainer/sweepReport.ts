/**
 * The CLI table of a sweep (`distill sweep aggregate`, the end of `distill sweep run`): every
 * setting's validation mean ± sd, the setting chosen on validation, and only that setting's test
 * accuracy with the paired gain, its 95 % interval and the number of seeds, in plain words when
 * the interval includes zero.
 */
import type { MeanSd, PairedInterval, SweepAggregate, SweepModel } from '../protocol/sweep.ts';
import { gainVerdict, seedsWord } from '../protocol/gainWords.ts';
import { table } from './report.ts';

/** Accuracy as a percentage with its sd in points: `81.03 ± 0.31 %`; one seed has no sd. */
export function formatMeanSd(v: MeanSd | undefined): string {
  if (!v) return '-';
  return v.sd === null
    ? `${(v.mean * 100).toFixed(2)} %`
    : `${(v.mean * 100).toFixed(2)} ± ${(v.sd * 100).toFixed(2)} %`;
}

const points = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)}`;

/** A paired gain in points with its interval: `+0.67 [-1.20, +2.54]`, or `+0.67 (no interval: 1 seed)`. */
export function formatGain(g: PairedInterval | undefined): string {
  if (!g) return '-';
  if (g.low === null || g.high === null) return `${points(g.mean)} (no interval: ${seedsWord(g.n)})`;
  return `${points(g.mean)} [${points(g.low)}, ${points(g.high)}]`;
}

/** The models in display order: teacher, intermediate models, scratch, distilled. */
function modelOrder(models: Iterable<SweepModel>): SweepModel[] {
  const rank = (m: SweepModel) => (m === 'teacher' ? 0 : m === 'scratch' ? 2 : m === 'distilled' ? 3 : 1);
  return [...new Set(models)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function formatSweepAggregate(agg: SweepAggregate, name?: string): string {
  const t = agg.tasks;
  const lines = [
    `sweep${name ? ` ${name}` : ''}: ${t.finished} of ${t.total} tasks finished` +
      (t.failed ? `, ${t.failed} failed` : '') +
      (t.unfinished ? `, ${t.unfinished} not finished` : ''),
    '',
  ];
  const models = modelOrder(agg.settings.flatMap((s) => Object.keys(s.validation) as SweepModel[]));
  const rows = [['setting', 'seeds', ...models.map((m) => `${m} (validation)`), 'gain (validation, points, 95 % CI)']];
  for (const s of agg.settings)
    rows.push([
      `${s.setting === agg.chosen ? '*' : ' '} ${s.setting}  ${s.label}`,
      String(s.seeds.length),
      ...models.map((m) => formatMeanSd(s.validation[m])),
      formatGain(s.validationGain),
    ]);
  lines.push(table(rows));
  if (agg.chosen === null || !agg.test) {
    lines.push('', 'no setting chosen yet: no task has finished with a validation accuracy of the distilled student');
    return lines.join('\n');
  }
  const chosen = agg.settings.find((s) => s.setting === agg.chosen)!;
  lines.push(
    '',
    `* chosen on validation: setting ${chosen.setting} (${chosen.label}), the highest mean validation accuracy of the distilled student`,
    'test accuracy of the chosen setting only (each run evaluates its test split once, after training):',
  );
  const test = agg.test;
  const testRows = [['model', 'test accuracy', 'seeds']];
  for (const m of modelOrder(Object.keys(test.models) as SweepModel[])) {
    const v = test.models[m]!;
    testRows.push([m, formatMeanSd(v), String(v.n)]);
  }
  lines.push(table(testRows));
  if (test.gain) {
    const g = test.gain;
    lines.push(
      '',
      `distillation gain (test, distilled minus scratch on the same seed): ${formatGain(g)} points, ` +
        `${Math.round(g.level * 100)} % CI by Student's t on the ${g.n} paired differences`,
      gainVerdict(g),
    );
  }
  return lines.join('\n');
}
