/** The dashboard's sections besides the charts: comparison table, stages, latency, per-class accuracy. */
import { phaseModelName, type MeasuredModel } from '../src/protocol/events.ts';
import { el, svg } from './dom.ts';
import { bytes, compact, int, ms, pct } from './format.ts';
import {
  measuredAs,
  modelRows,
  orderedPhases,
  stagesOf,
  summaryCsv,
  type Row,
  type RunModel,
  type Stage,
} from './model.ts';
import { shownStatus, type Dashboard } from './state.ts';
import { renderTrainingData } from './trainingData.ts';
import { renderConfigDiff } from './configDiffSection.ts';

/** How each finished phase trained: the written-out dense step, or tfjs's tape and why (absent before any phase has said). */
function trainingSteps(run: RunModel): HTMLElement | undefined {
  const said = orderedPhases(run).filter((p) => p.step);
  if (said.length === 0) return undefined;
  return el(
    'p',
    { class: 'muted training-steps' },
    'training steps: ' +
      said
        .map((p) =>
          p.step?.kind === 'dense'
            ? `${phaseModelName(p.phase)} written-out dense step`
            : `${phaseModelName(p.phase)} tfjs tape (dense step not used: ${p.step?.reason})`,
        )
        .join(' · '),
  );
}

export type SectionBuilder = (d: Dashboard, list: RunModel[], width: number) => HTMLElement;

function renderSummary(d: Dashboard, list: RunModel[]): HTMLElement {
  const section = el('section', { id: 'summary' });
  for (const run of list) {
    const head = el(
      'h2',
      {},
      `${run.id} `,
      el('vscode-badge', { class: `status-${shownStatus(d, run)}` }, shownStatus(d, run)),
    );
    section.append(head);
    const { backend, data } = run.state;
    if (backend) {
      const adapter = backend.adapter;
      const on = adapter
        ? `${adapter.description || [adapter.vendor, adapter.device || adapter.architecture].filter(Boolean).join(' ')} (WebGPU adapter)`
        : backend.device;
      section.append(
        el(
          'p',
          { class: 'muted backend', 'data-backend': backend.name },
          `backend ${backend.name} on ${on}` +
            (data
              ? ` · ${int(data.train)} train / ${int(data.validation)} validation / ${int(data.test)} test examples, ${data.classes} classes`
              : ''),
        ),
      );
      if (adapter?.software)
        section.append(
          el(
            'p',
            { class: 'warning software-adapter', role: 'alert' },
            'Warning: software adapter: this run computes on a CPU rasterizer that emulates the GPU, far slower than a real one. On a machine with a GPU, install its Vulkan/Metal/D3D12 driver; "backend": "auto" never picks a software adapter.',
          ),
        );
    }
    const steps = trainingSteps(run);
    if (steps) section.append(steps);
    if (run.state.error) section.append(el('p', { class: 'failure', role: 'alert' }, `Failed: ${run.state.error}`));
    for (const w of run.state.warnings) section.append(el('p', { class: 'warning' }, `Warning: ${w}`));
    for (const p of d.problems.get(run.dir) ?? [])
      section.append(
        el('p', { class: 'warning events-problem', 'data-line': String(p.line) }, `events.jsonl: ${p.message}`),
      );
    if (shownStatus(d, run) === 'interrupted')
      section.append(
        el(
          'p',
          { class: 'warning' },
          'The trainer is gone and the run did not end: it was interrupted. Resume it from the Runs view.',
        ),
      );
    const { latency: measured, onnxBytes } = run.state;
    const runtimes = [...new Set(measured.map((l) => l.runtime))];
    const b1 = Math.min(...measured.map((l) => l.batch));
    const latency = (model: MeasuredModel | undefined, rt: string) =>
      model ? measured.find((x) => x.model === model && x.runtime === rt && x.batch === b1 && !x.precision) : undefined;
    const rows = modelRows(run);
    const teacher = rows.find((r) => r.model === 'teacher');
    // Compression and speed-up of each model relative to the teacher (latency is measured for the teacher and the student's architecture only).
    const vsTeacher = (r: Row) => {
      if (!teacher || r === teacher) return '–';
      const facts: string[] = [];
      if (teacher.params && r.params) facts.push(`${(teacher.params / r.params).toFixed(1)}× smaller`);
      const t = latency('teacher', runtimes[0]);
      const s = latency(measuredAs(r.model), runtimes[0]);
      if (t && s && r.model !== 'teacher') facts.push(`${(t.p50Ms / s.p50Ms).toFixed(1)}× faster`);
      return facts.join(', ') || '–';
    };
    const table = el('table', { class: 'summary' });
    table.append(
      el(
        'tr',
        {},
        ...[
          'model',
          'test accuracy',
          'agreement',
          'parameters',
          'size (fp32)',
          'ONNX',
          'MACs/example',
          ...runtimes.map((r) => `${r} p50 / p99 ms (batch ${b1})`),
          'vs teacher',
        ].map((h) => el('th', {}, h)),
      ),
    );
    for (const r of rows) {
      const which = measuredAs(r.model);
      table.append(
        el(
          'tr',
          { 'data-model': r.model },
          ...[
            r.model,
            pct(r.accuracy),
            r.model === 'teacher' ? '–' : pct(r.agreement),
            int(r.params),
            bytes(r.bytes),
            bytes(which && onnxBytes[which]),
            int(r.macs),
            ...runtimes.map((rt) => {
              const l = latency(which, rt);
              return l ? `${ms(l.p50Ms)} / ${ms(l.p99Ms)}` : '–';
            }),
            vsTeacher(r),
          ].map((c) => el('td', {}, c)),
        ),
      );
    }
    section.append(table);
    const scratch = rows.find((r) => r.model === 'scratch');
    const distilled = rows.find((r) => r.model === 'distilled');
    if (scratch && distilled) {
      const gain = (distilled.accuracy - scratch.accuracy) * 100;
      section.append(
        el(
          'p',
          { class: `gain ${gain >= 0 ? 'positive' : 'negative'}`, 'data-gain': gain.toFixed(2) },
          `Distillation vs scratch: ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} points of test accuracy (one seed; seed-to-seed noise is about a point).`,
        ),
      );
    }
    if (teacher?.params && distilled?.params) {
      const facts = [`${(teacher.params / distilled.params).toFixed(1)}× fewer parameters`];
      if (teacher.macs && distilled.macs)
        facts.push(`${(teacher.macs / distilled.macs).toFixed(0)}× fewer multiply-adds`);
      for (const rt of runtimes) {
        const t = latency('teacher', rt);
        const s = latency('student', rt);
        if (t && s) facts.push(`${(t.p50Ms / s.p50Ms).toFixed(1)}× faster in ${rt}`);
      }
      section.append(
        el(
          'p',
          { class: 'factors' },
          `Student vs teacher: ${facts.join(', ')}; ${((teacher.accuracy - distilled.accuracy) * 100).toFixed(2)} points below it.`,
        ),
      );
    }
  }
  const csv = el('vscode-button', { id: 'export-csv', secondary: '' }, 'Export table as CSV');
  csv.addEventListener('click', () =>
    d.post({
      type: 'saveFile',
      kind: 'csv',
      suggestedName: 'distill-comparison.csv',
      data: summaryCsv([...d.runs.values()]),
    }),
  );
  section.append(csv);
  return section;
}

/** Test accuracy (top panel, a line in run order; scratch as a dashed reference) and parameters (bottom panel, log scale) of each stage. */
function stagesChart(stages: Stage[], scratch: Row | undefined, width: number): SVGSVGElement {
  const left = 64;
  const right = 16;
  const acc = { top: 30, height: 150 };
  const size = { top: acc.top + acc.height + 36, height: 80 };
  const height = size.top + size.height + 40;
  const plot = width - left - right;
  const band = plot / stages.length;
  const cx = (i: number) => left + band * (i + 0.5);
  const root = svg('svg', {
    class: 'stages-chart',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'Test accuracy and parameters of each stage',
  });

  // Accuracy axis in steps of 5 points (10 for a wide range), around the values shown.
  const accs = [...stages.flatMap((s) => (s.row ? [s.row.accuracy] : [])), ...(scratch ? [scratch.accuracy] : [])];
  const spread = accs.length ? Math.max(...accs) - Math.min(...accs) : 1;
  const step = spread > 0.3 ? 0.1 : 0.05;
  const k0 = accs.length ? Math.max(0, Math.floor((Math.min(...accs) - 0.005) / step)) : 0;
  const k1 = accs.length
    ? Math.min(Math.round(1 / step), Math.max(k0 + 1, Math.ceil((Math.max(...accs) + 0.005) / step)))
    : Math.round(1 / step);
  const lo = k0 * step;
  const hi = k1 * step;
  const ya = (v: number) => acc.top + acc.height * (1 - (v - lo) / (hi - lo));
  root.append(svg('text', { class: 'panel-title', x: left, y: acc.top - 14 }, 'test accuracy'));
  for (let k = k0; k <= k1; k++) {
    const y = ya(k * step);
    root.append(
      svg('line', { class: 'grid', x1: left, x2: left + plot, y1: y, y2: y }),
      svg('text', { class: 'tick', x: left - 6, y: y + 4, 'text-anchor': 'end' }, `${Math.round(k * step * 100)}%`),
    );
  }

  // Parameters on a log axis over whole powers of ten, with room below the smallest.
  const params = stages.flatMap((s) => (s.row?.params ? [s.row.params] : []));
  let p0 = params.length ? Math.floor(Math.log10(Math.min(...params))) : 3;
  if (params.length && Math.log10(Math.min(...params)) - p0 < 0.2) p0 -= 1;
  const p1 = Math.max(p0 + 1, params.length ? Math.ceil(Math.log10(Math.max(...params))) : p0 + 1);
  const yp = (v: number) => size.top + size.height * (1 - (Math.log10(v) - p0) / (p1 - p0));
  root.append(svg('text', { class: 'panel-title', x: left, y: size.top - 14 }, 'parameters (log scale)'));
  for (let p = p0; p <= p1; p++) {
    const y = yp(10 ** p);
    root.append(
      svg('line', { class: 'grid', x1: left, x2: left + plot, y1: y, y2: y }),
      svg('text', { class: 'tick', x: left - 6, y: y + 4, 'text-anchor': 'end' }, compact(10 ** p)),
    );
  }

  if (scratch) {
    const y = ya(scratch.accuracy);
    root.append(
      svg('line', { class: 'stage-ref', x1: left, x2: left + plot, y1: y, y2: y }),
      svg('text', { class: 'stage-ref-label', x: left + 4, y: y + 13 }, `scratch ${pct(scratch.accuracy)}`),
    );
  }
  const points = stages.flatMap((s, i) =>
    s.row ? [`${Math.round(cx(i) * 10) / 10},${Math.round(ya(s.row.accuracy) * 10) / 10}`] : [],
  );
  if (points.length > 1) root.append(svg('polyline', { class: 'stage-acc-line', points: points.join(' ') }));
  stages.forEach((s, i) => {
    const g = svg('g', { class: `stage${s.model === 'distilled' ? ' final' : ''}`, 'data-model': s.model });
    const x = cx(i);
    if (s.row) {
      const y = ya(s.row.accuracy);
      g.append(
        svg('circle', { class: 'stage-acc-dot', cx: x, cy: y, r: 4 }),
        svg('text', { class: 'stage-acc-label', x, y: y - 9, 'text-anchor': 'middle' }, pct(s.row.accuracy)),
      );
      if (s.row.params) {
        const top = yp(s.row.params);
        const w = Math.min(48, band * 0.5);
        g.append(
          svg('rect', { class: 'stage-params', x: x - w / 2, y: top, width: w, height: size.top + size.height - top }),
          svg('text', { class: 'stage-params-label', x, y: top - 4, 'text-anchor': 'middle' }, int(s.row.params)),
        );
      }
    } else
      g.append(
        svg('text', { class: 'stage-pending', x, y: acc.top + acc.height / 2, 'text-anchor': 'middle' }, 'not yet'),
      );
    g.append(svg('text', { class: 'stage-name', x, y: size.top + size.height + 16, 'text-anchor': 'middle' }, s.model));
    if (s.row?.learnedFrom)
      g.append(
        svg(
          'text',
          { class: 'stage-from', x, y: size.top + size.height + 30, 'text-anchor': 'middle' },
          `from ${s.row.learnedFrom}`,
        ),
      );
    root.append(g);
  });
  return root;
}

function renderStages(_d: Dashboard, list: RunModel[], width: number): HTMLElement {
  const section = el('section', { id: 'stages' });
  for (const run of list) {
    const found = stagesOf(run);
    if (!found) continue;
    const { stages, scratch } = found;
    section.append(el('h2', {}, `Stages${list.length > 1 ? ` — ${run.id}` : ''}`));
    section.append(
      el(
        'p',
        { class: 'muted' },
        "Each model in the order the run trained them, the final student last, with the model it learned from; the dashed line is the final student's architecture trained on the labels alone (scratch).",
      ),
    );
    section.append(el('div', { class: 'stages-figure' }, stagesChart(stages, scratch, width)));
    const t = el('table', { class: 'stages' });
    t.append(
      el(
        'tr',
        {},
        ...['model', 'learned from', 'test accuracy', 'agreement', 'parameters'].map((h) => el('th', {}, h)),
      ),
    );
    for (const s of stages)
      t.append(
        el(
          'tr',
          { 'data-model': s.model },
          ...[
            s.model,
            s.row?.learnedFrom ?? '–',
            pct(s.row?.accuracy),
            s.model === 'teacher' ? '–' : pct(s.row?.agreement),
            int(s.row?.params),
          ].map((c) => el('td', {}, c)),
        ),
      );
    if (scratch)
      t.append(
        el(
          'tr',
          { 'data-model': 'scratch', class: 'reference' },
          ...[
            'scratch (reference)',
            'labels only',
            pct(scratch.accuracy),
            pct(scratch.agreement),
            int(scratch.params),
          ].map((c) => el('td', {}, c)),
        ),
      );
    section.append(t);
  }
  return section;
}

function renderLatency(_d: Dashboard, list: RunModel[]): HTMLElement {
  const section = el('section', { id: 'latency' });
  const rows = list.flatMap((r) => r.state.latency.map((l) => ({ run: r.id, ...l })));
  const precisions = list.flatMap((r) => precisionTables(r, list.length > 1));
  if (rows.length === 0) {
    section.append(...precisions);
    return section;
  }
  section.append(el('h2', {}, 'Latency'));
  const t = el('table', {});
  t.append(
    el(
      'tr',
      {},
      ...[
        'run',
        'model',
        'precision',
        'runtime',
        'threads',
        'batch',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'samples/s',
        'runs',
      ].map((h) => el('th', {}, h)),
    ),
  );
  for (const l of rows)
    t.append(
      el(
        'tr',
        {},
        ...[
          l.run,
          l.model,
          l.precision ?? 'fp32',
          l.runtime,
          l.threads,
          String(l.batch),
          ms(l.p50Ms),
          ms(l.p90Ms),
          ms(l.p99Ms),
          int(Math.round(l.samplesPerSecond)),
          String(l.runs),
        ].map((c) => el('td', {}, c)),
      ),
    );
  section.append(t, ...precisions);
  return section;
}

/** Each model exported at reduced precision: fp32, fp16 and int8 side by side (size, test accuracy, ONNX latency). */
function precisionTables(run: RunModel, named: boolean): HTMLElement[] {
  const exports = run.state.precisionExports ?? [];
  const { latency, onnxBytes } = run.state;
  const tables: HTMLElement[] = [];
  for (const model of ['student', 'teacher'] as const) {
    const mine = exports.filter((e) => e.model === model);
    if (mine.length === 0) continue;
    const onnx = latency.filter((l) => l.model === model && l.runtime.startsWith('onnxruntime'));
    const runtimes = [...new Set(onnx.map((l) => l.runtime))];
    const b1 = Math.min(...onnx.map((l) => l.batch));
    const fp32Accuracy = mine.find((e) => e.fp32TestAccuracy !== undefined)?.fp32TestAccuracy;
    const t = el('table', { class: 'precisions', 'data-model': model });
    t.append(
      el(
        'tr',
        {},
        ...[
          'precision',
          'ONNX file',
          'test accuracy',
          'vs fp32',
          ...runtimes.map((rt) => `${rt} p50 ms (batch ${b1})`),
        ].map((h) => el('th', {}, h)),
      ),
    );
    const row = (precision: 'fp32' | 'fp16' | 'int8', size: number | undefined, accuracy: number | undefined) => {
      const delta =
        precision !== 'fp32' && accuracy !== undefined && fp32Accuracy !== undefined
          ? `${accuracy >= fp32Accuracy ? '+' : ''}${((accuracy - fp32Accuracy) * 100).toFixed(2)} points`
          : '–';
      const at = (rt: string) =>
        onnx.find((l) => l.runtime === rt && l.batch === b1 && (l.precision ?? 'fp32') === precision);
      return el(
        'tr',
        { 'data-precision': precision },
        ...[
          precision,
          bytes(size),
          pct(accuracy),
          delta,
          ...runtimes.map((rt) => {
            const l = at(rt);
            return l ? ms(l.p50Ms) : '–';
          }),
        ].map((c) => el('td', {}, c)),
      );
    };
    t.append(
      row('fp32', onnxBytes[model], fp32Accuracy),
      ...mine.map((e) => row(e.precision, e.bytes, e.testAccuracy)),
    );
    tables.push(el('h3', {}, `${model} at each precision${named ? ` — ${run.id}` : ''}`), t);
  }
  return tables;
}

function renderPerClass(_d: Dashboard, list: RunModel[]): HTMLElement {
  const section = el('section', { id: 'per-class' });
  for (const run of list) {
    // Models in run order, however many stages the run has.
    const withConfusion = orderedPhases(run).filter((s) => s.test?.confusion);
    if (withConfusion.length === 0) continue;
    section.append(el('h2', {}, `Per-class test accuracy${list.length > 1 ? ` — ${run.id}` : ''}`));
    const k = withConfusion[0].test!.confusion!.length;
    const t = el('table', { class: 'per-class' });
    t.append(el('tr', {}, el('th', {}, 'class'), ...withConfusion.map((s) => el('th', {}, phaseModelName(s.phase)))));
    for (let c = 0; c < k; c++) {
      t.append(
        el(
          'tr',
          {},
          el('td', {}, run.state.data?.classNames?.[c] ?? String(c)),
          ...withConfusion.map((s) => {
            const row = s.test!.confusion![c];
            const total = row?.reduce((a, b) => a + b, 0);
            return el('td', {}, total ? pct(row[c] / total) : '–');
          }),
        ),
      );
    }
    section.append(t);
  }
  return section;
}

/** The sections besides the charts, in page order around them; each is replaced only when its markup changes. */
export const BEFORE_CHARTS: Array<[string, SectionBuilder]> = [
  ['summary', renderSummary],
  ['config-diff', renderConfigDiff],
  ['stages', renderStages],
  ['training-data', renderTrainingData],
];
export const AFTER_CHARTS: Array<[string, SectionBuilder]> = [
  ['latency', renderLatency],
  ['per-class', renderPerClass],
];
