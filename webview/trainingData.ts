/**
 * The dashboard's "Training data" section: for a run with an unlabeled transfer set, how many
 * labeled, unlabeled and pseudo-labeled examples each phase's latest epoch trained on.
 */
import type { Phase } from '../src/protocol/events.ts';
import { phaseModelName } from '../src/protocol/events.ts';
import { pseudoLabeledFraction, unlabeledText } from '../src/protocol/examples.ts';
import type { RunState } from '../src/protocol/run.ts';
import { el } from './dom.ts';
import { int, pct } from './format.ts';
import type { RunModel } from './model.ts';

export interface TrainingDataRow {
  phase: Phase;
  labeled: number;
  unlabeled: number;
  pseudoLabeled?: number;
  /** pseudoLabeled / unlabeled. */
  pseudoFraction?: number;
}

/** One row per phase that reported its examples, in run order; none for a run without a transfer set. */
export function trainingDataRows(state: RunState): TrainingDataRow[] {
  if (!state.data?.unlabeled) return [];
  const order = state.phases.length ? state.phases : (Object.keys(state.byPhase) as Phase[]);
  return order.flatMap((phase) => {
    const e = state.byPhase[phase]?.examples;
    return e ? [{ phase, ...e, pseudoFraction: pseudoLabeledFraction(e) }] : [];
  });
}

export function renderTrainingData(_d: unknown, list: RunModel[]): HTMLElement {
  const section = el('section', { id: 'training-data' });
  for (const run of list) {
    const unlabeled = run.state.data?.unlabeled;
    const rows = trainingDataRows(run.state);
    if (!unlabeled || rows.length === 0) continue;
    section.append(el('h2', {}, `Training data${list.length > 1 ? ` — ${run.id}` : ''}`));
    section.append(el('p', { class: 'muted' }, `Transfer set: ${unlabeledText(unlabeled)}`));
    const t = el('table', { class: 'training-data' });
    t.append(el('tr', {}, ...['model', 'labeled', 'unlabeled', 'pseudo-labeled', 'kept'].map((h) => el('th', {}, h))));
    for (const r of rows)
      t.append(
        el(
          'tr',
          { 'data-phase': r.phase },
          el('td', {}, phaseModelName(r.phase)),
          el('td', {}, int(r.labeled)),
          el('td', {}, int(r.unlabeled)),
          el('td', {}, r.pseudoLabeled === undefined ? '–' : int(r.pseudoLabeled)),
          el('td', {}, pct(r.pseudoFraction)),
        ),
      );
    section.append(t);
  }
  return section;
}
