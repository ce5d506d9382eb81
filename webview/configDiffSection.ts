/** The dashboard's config diff: runs compared side by side, the keys their configs differ in, each run's value. */
import { el } from './dom.ts';
import { configDiff, valueText } from './configDiff.ts';
import type { RunModel } from './model.ts';
import type { Dashboard } from './state.ts';

/** Values longer than this are cut in the cell (the whole value is its tooltip). */
const MAX_CELL = 80;

export function renderConfigDiff(_d: Dashboard, list: RunModel[]): HTMLElement {
  const section = el('section', { id: 'config-diff' });
  if (list.length < 2) return section;
  section.append(el('h2', {}, 'Config differences'));
  const withConfig = list.filter((r) => r.config !== undefined);
  const missing = list.filter((r) => r.config === undefined).map((r) => r.id);
  if (missing.length)
    section.append(
      el('p', { class: 'muted' }, `No readable config.json in ${missing.join(', ')}: left out of the diff.`),
    );
  if (withConfig.length < 2) return section;
  const changes = configDiff(withConfig.map((r) => r.config));
  if (changes.length === 0) {
    section.append(el('p', { class: 'muted' }, 'The configs are the same.'));
    return section;
  }
  const t = el('table', { class: 'config-diff' });
  t.append(el('tr', {}, el('th', {}, 'key'), ...withConfig.map((r) => el('th', {}, r.id))));
  for (const c of changes) {
    const first = valueText(c.values[0]);
    t.append(
      el(
        'tr',
        {},
        el('td', { class: 'path' }, c.path),
        ...c.values.map((v, i) => {
          const text = valueText(v);
          const cell = el(
            'td',
            { class: `value${i > 0 && text !== first ? ' changed' : ''}`, title: text },
            text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text,
          );
          return cell;
        }),
      ),
    );
  }
  section.append(t);
  return section;
}
