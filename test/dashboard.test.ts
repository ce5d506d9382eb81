import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dashboardHtml } from '../src/extension/dashboard/html.ts';
import { parseEvents, type RunEvent, type RunFinishedEvent } from '../src/protocol/events.ts';
import { MESSAGES_VERSION, parseWebviewMessage, type RunPayload } from '../src/protocol/messages.ts';
import {
  browserSkipReason,
  chromiumPath,
  CHROMIUM_ARGS,
  loadPlaywright,
  openDashboard,
  serveDashboard,
  showRuns,
  type Theme,
} from './helpers/dashboardPage.ts';
import { root, runCli, tempDir, writeConfig, smallConfig, runFolders } from './helpers/cli.ts';

// The built dashboard in Debian's Chromium (playwright-core, no browser download), fed events
// recorded from real runs. Screenshots go to test-results/dashboard-*.png.
const playwright = loadPlaywright();
const skip = browserSkipReason(playwright);
const shots = path.join(root, 'test-results');

let served: { base: string; close: () => void };
let browser: import('playwright-core').Browser;
const runs: Record<string, { dir: string; id: string; events: unknown[] }> = {};

function recordRun(key: string, config: Record<string, unknown>, expectCode: number) {
  const dir = tempDir(`dash-${key}`);
  const r = runCli(['train', writeConfig(dir, key, smallConfig(config))], dir);
  assert.equal(r.code, expectCode, r.stderr);
  const [run] = runFolders(dir);
  runs[key] = {
    dir: run,
    id: path.basename(run),
    events: parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8')),
  };
}

before(async () => {
  if (skip) return;
  recordRun(
    'demo',
    {
      backend: 'wasm',
      data: { source: 'demo', trainLimit: 1000, batchSize: 64 },
      student: { architecture: { type: 'mlp', hidden: [32] } },
      train: { epochs: 6, logEvery: 4, optimizer: { type: 'adam', learningRate: 0.003 } },
      bench: { batchSizes: [1, 8], minRuns: 5, minSeconds: 0.05, warmup: 1 },
    },
    0,
  );
  recordRun(
    'other',
    {
      backend: 'wasm',
      student: { architecture: { type: 'mlp', hidden: [8] } },
      train: { epochs: 3, logEvery: 2 },
      bench: { enabled: false },
    },
    0,
  );
  recordRun(
    'failed',
    { backend: 'wasm', train: { epochs: 3, logEvery: 1, optimizer: { type: 'sgd', learningRate: 1e12, momentum: 0 } } },
    1,
  );
  recordRun(
    'bornAgain',
    {
      backend: 'wasm',
      strategy: { type: 'born_again', generations: 3 },
      data: { source: 'demo', trainLimit: 1000, batchSize: 64 },
      student: { architecture: { type: 'mlp', hidden: [32] } },
      train: { epochs: 4, logEvery: 4, optimizer: { type: 'adam', learningRate: 0.003 } },
      bench: { batchSizes: [1, 8], minRuns: 5, minSeconds: 0.05, warmup: 1 },
    },
    0,
  );
  served = await serveDashboard();
  browser = await playwright!.chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  fs.mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  served?.close();
});

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
/** The bytes these events take in events.jsonl (the trainer writes JSON.stringify and a newline). */
const bytesOf = (events: unknown[]) => events.reduce<number>((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
/** An events message's fields for the events from `start` on: their byte range, as the host sends them. */
const range = (events: unknown[], start: number) => ({
  from: bytesOf(events.slice(0, start)),
  to: bytesOf(events),
  events: events.slice(start),
  problems: [],
  live: true,
});

const open = (theme?: Theme) => openDashboard(browser, served.base, theme);
const init = (page: import('playwright-core').Page, keys: string[]) =>
  showRuns(page, keys.map((k) => runs[k]) as RunPayload[]);

test('a finished demo run: the comparison table with numbers, curves with data points, latency', { skip }, async () => {
  const { page, violations } = await open();
  await init(page, ['demo']);
  const rows = await page.$$eval('table.summary tr[data-model]', (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
  );
  assert.deepEqual(
    rows.map((r) => r[0]),
    ['teacher', 'scratch', 'distilled'],
  );
  for (const r of rows) assert.match(r[1]!, /^\d+\.\d\d%$/, `accuracy of ${r[0]}`);
  assert.equal(rows[0][3], '421,642');
  assert.equal(rows[2][3], '25,450');
  assert.match(rows[2][7]!, /^\d+\.\d+ \/ \d+\.\d+$/, 'onnxruntime latency of the student');
  const gain = await page.getAttribute('.gain', 'data-gain');
  const summary = (runs.demo.events.at(-1) as { summary: Array<{ model: string; accuracy: number }> }).summary;
  const want = (
    (summary.find((s) => s.model === 'distilled')!.accuracy - summary.find((s) => s.model === 'scratch')!.accuracy) *
    100
  ).toFixed(2);
  assert.equal(gain, want);
  for (const id of ['loss', 'accuracy', 'agreement', 'lr']) {
    const points = Number(await page.getAttribute(`#${id}`, 'data-points'));
    assert.ok(points > 0, `${id} chart has data`);
    assert.ok(await page.$(`#${id} canvas`), `${id} chart is drawn`);
  }
  // Every loss term of the distilled student is its own series.
  const legend = await page.$$eval('#loss .u-legend .u-label', (ls) => ls.map((l) => l.textContent));
  for (const term of ['distilled total', 'distilled hard', 'distilled kd', 'scratch total'])
    assert.ok(legend.includes(term), `${term} in ${legend.join(', ')}`);
  // A loaded teacher has no training curves: no empty series in the accuracy legend.
  assert.ok(
    !(await page.$$eval('#accuracy .u-legend .u-label', (ls) => ls.map((l) => l.textContent))).some((l) =>
      l?.startsWith('teacher'),
    ),
  );
  assert.ok((await page.$$('#latency tr')).length === 9, 'teacher and student x 2 runtimes x 2 batch sizes + header');
  assert.ok((await page.$$('#per-class table.per-class tr')).length === 11, 'a row per class');
  await page.screenshot({ path: path.join(shots, 'dashboard-demo-dark.png'), fullPage: true });
  assert.deepEqual(violations, []);
  await page.close();
});

test(
  'log scale and the x-axis switch redraw the loss chart; CSV and PNG exports are posted to the host',
  { skip },
  async () => {
    const { page } = await open('vscode-light');
    await init(page, ['demo']);
    const before = await page.getAttribute('#loss', 'data-points');
    await page.click('#x-axis');
    await page.waitForFunction(() => document.querySelector('#loss h3')?.textContent?.includes('epoch'));
    assert.notEqual(await page.getAttribute('#loss', 'data-points'), before);
    await page.click('#log-scale');
    await page.click('#export-csv');
    await page.click('#loss .export-png');
    const sent = await page.evaluate(() => (window as unknown as { __sent: unknown[] }).__sent);
    const csv = sent.map(parseWebviewMessage).find((m) => m?.type === 'saveFile' && m.kind === 'csv');
    assert.ok(csv?.type === 'saveFile');
    assert.match(csv.data, /^run,model,test_accuracy/);
    assert.match(csv.data, new RegExp(`${runs.demo.id},distilled,0\\.\\d+`));
    const png = sent.map(parseWebviewMessage).find((m) => m?.type === 'saveFile' && m.kind === 'png');
    assert.ok(png?.type === 'saveFile' && png.data.startsWith('data:image/png;base64,') && png.data.length > 2000);
    await page.screenshot({ path: path.join(shots, 'dashboard-demo-light.png'), fullPage: true });
    await page.close();
  },
);

test('a failed run shows its reason; compare overlays two runs; live events are appended', { skip }, async () => {
  const { page, violations } = await open('vscode-high-contrast');
  await init(page, ['failed']);
  assert.match((await page.textContent('.failure'))!, /Failed: the (hard|total) loss became (NaN|Infinity)/);
  await page.screenshot({ path: path.join(shots, 'dashboard-failed.png'), fullPage: true });

  await init(page, ['demo', 'other']);
  const legend = await page.$$eval('#accuracy .u-legend .u-label', (ls) => ls.map((l) => l.textContent ?? ''));
  assert.ok(
    legend.some((l) => l.startsWith(runs.demo.id)) && legend.some((l) => l.startsWith(runs.other.id)),
    legend.join(', '),
  );
  assert.equal((await page.$$('table.summary')).length, 2);
  await page.screenshot({ path: path.join(shots, 'dashboard-compare.png'), fullPage: true });

  // Live: start from the first half of a run's events, then append the rest as the host would.
  const events = runs.demo.events;
  const half = Math.floor(events.length / 2);
  await page.evaluate((m) => window.postMessage(m, '*'), {
    type: 'init',
    v: MESSAGES_VERSION,
    runs: [{ ...runs.demo, events: events.slice(0, half) }],
  });
  await page.waitForFunction(() => document.querySelector('vscode-badge')?.textContent === 'running');
  await page.evaluate((m) => window.postMessage(m, '*'), {
    type: 'events',
    v: MESSAGES_VERSION,
    dir: runs.demo.dir,
    ...range(events, half),
  });
  await page.waitForFunction(() => document.querySelector('vscode-badge')?.textContent === 'finished');
  // Malformed or foreign messages are ignored.
  await page.evaluate(() => window.postMessage({ type: 'init', v: 99, runs: [] }, '*'));
  await page.waitForTimeout(100);
  assert.equal(await page.textContent('vscode-badge'), 'finished');
  assert.deepEqual(violations, []);
  await page.close();
});

test(
  'live events update the charts in place: the same uPlot charts get more points and keep the zoom',
  { skip },
  async () => {
    const { page, violations } = await open();
    const events = runs.demo.events as RunEvent[];
    // Up to the distilled student's first epoch: every series of the finished run exists from here on.
    const cut = events.findIndex((e) => e.type === 'epoch' && e.phase === 'distill') + 1;
    await showRuns(page, [{ ...runs.demo, events: events.slice(0, cut) }] as RunPayload[]);
    const ids = ['loss', 'accuracy', 'agreement', 'lr'];
    // Mark each chart's box and canvas: a rebuilt chart would come without the mark.
    const before = await page.evaluate(
      (ids) =>
        ids.map((id) => {
          const box = document.getElementById(id)!;
          (box as unknown as { mark: string }).mark = id;
          (box.querySelector('canvas') as unknown as { mark: string }).mark = id;
          return Number(box.dataset.points);
        }),
      ids,
    );
    const created = await page.evaluate(() => document.body.dataset.chartsCreated);
    // Zoom into the loss chart as a user would, by dragging across it.
    const over = (await (await page.$('#loss .u-over'))!.boundingBox())!;
    await page.mouse.move(over.x + over.width * 0.2, over.y + over.height / 2);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.6, over.y + over.height / 2, { steps: 5 });
    await page.mouse.up();
    assert.equal(await page.getAttribute('#loss', 'data-zoomed'), 'true');

    await page.evaluate(() => delete document.body.dataset.rendered);
    await page.evaluate((m) => window.postMessage(m, '*'), {
      type: 'events',
      v: MESSAGES_VERSION,
      dir: runs.demo.dir,
      ...range(events as RunEvent[], cut),
    });
    await page.waitForFunction(() => document.body.dataset.rendered !== undefined);
    assert.equal(await page.textContent('vscode-badge'), 'finished');
    const after = await page.evaluate(
      (ids) =>
        ids.map((id) => {
          const box = document.getElementById(id)!;
          return {
            box: (box as unknown as { mark?: string }).mark,
            canvas: (box.querySelector('canvas') as unknown as { mark?: string }).mark,
            points: Number(box.dataset.points),
          };
        }),
      ids,
    );
    ids.forEach((id, i) => {
      assert.equal(after[i].box, id, `${id}: the same chart element`);
      assert.equal(after[i].canvas, id, `${id}: the same uPlot canvas`);
      assert.ok(after[i].points > before[i], `${id}: ${before[i]} points before, ${after[i].points} after`);
    });
    const body = await page.evaluate(() => ({ ...document.body.dataset }));
    assert.equal(body.renderMode, 'incremental');
    assert.equal(body.chartsCreated, created, 'no chart was created');
    assert.deepEqual(
      body.replaced!.split(' ').sort(),
      ['latency', 'per-class', 'summary'],
      'only the sections whose content changed',
    );
    assert.equal(await page.getAttribute('#loss', 'data-zoomed'), 'true', 'the zoom is kept');
    // The finished run is drawn as in a fresh view of it.
    assert.equal((await page.$$('table.summary tr[data-model]')).length, 3);
    assert.equal((await page.$$('#per-class table.per-class th')).length, 4);

    // A new series set (the x-axis switch) does rebuild the charts.
    await page.click('#x-axis');
    await page.waitForFunction(() => document.querySelector('#loss h3')?.textContent?.includes('epoch'));
    assert.equal(
      await page.evaluate(() => (document.getElementById('loss') as unknown as { mark?: string }).mark),
      undefined,
    );
    assert.equal(await page.evaluate(() => document.body.dataset.renderMode), 'full');
    assert.deepEqual(violations, []);
    await page.close();
  },
);

test(
  'a born-again run (3 generations): the Stages section, and every model in the tables and curves',
  { skip },
  async () => {
    const { page, violations } = await open();
    const bornAgain = runs.bornAgain as RunPayload;
    const events = bornAgain.events;
    const summary = (events.at(-1) as RunFinishedEvent).summary;
    const stages = ['teacher', 'generation-1', 'generation-2', 'distilled'];

    // While it runs: the stages so far from the phases' test evaluations, the final student listed without numbers.
    const running = events.findIndex((e) => e.type === 'phase_finished' && e.phase === 'generation-2') + 1;
    await showRuns(page, [{ ...bornAgain, events: events.slice(0, running) }]);
    assert.equal(await page.textContent('#stages h2'), 'Stages');
    let rows = await page.$$eval('#stages table.stages tr[data-model]', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    assert.deepEqual(
      rows.map((r) => r[0]),
      [...stages, 'scratch (reference)'],
    );
    assert.equal(rows[1][2], pct(summary.find((s) => s.model === 'generation-1')!.accuracy));
    assert.equal(rows[3][2], '–', 'the distilled student has no result yet');
    assert.match((await page.textContent('#stages svg g.stage[data-model="distilled"]'))!, /not yet/);

    await page.evaluate(() => delete document.body.dataset.rendered);
    await page.evaluate((m) => window.postMessage(m, '*'), {
      type: 'events',
      v: MESSAGES_VERSION,
      dir: bornAgain.dir,
      ...range(events, running),
    });
    await page.waitForFunction(() => document.body.dataset.rendered !== undefined);
    assert.equal(await page.textContent('vscode-badge'), 'finished');

    // Finished: each stage in run order with its accuracy, where it learned from, agreement and size; scratch as the reference.
    rows = await page.$$eval('#stages table.stages tr[data-model]', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    // BAN-E (the test-time ensemble of the generations) follows the final student once it is evaluated.
    assert.deepEqual(
      rows.map((r) => r[0]),
      [...stages, 'ban-ensemble', 'scratch (reference)'],
    );
    for (const [i, model] of stages.entries()) {
      const s = summary.find((r) => r.model === model)!;
      assert.deepEqual(rows[i], [
        model,
        s.learnedFrom ?? '–',
        pct(s.accuracy),
        s.agreement === undefined ? '–' : pct(s.agreement),
        s.params.toLocaleString('en-US'),
      ]);
    }
    assert.deepEqual(
      rows.map((r) => r[1]),
      [
        '–',
        'teacher',
        'generation-1',
        'generation-2',
        'mean softmax of generation-1, generation-2, distilled',
        'labels only',
      ],
    );
    // The chart: a group per stage, in run order, showing its name, accuracy and parameters.
    const drawn = await page.$$eval('#stages svg g.stage', (gs) =>
      gs.map((g) => ({
        model: g.getAttribute('data-model'),
        text: [...g.querySelectorAll('text')].map((t) => t.textContent),
      })),
    );
    assert.deepEqual(
      drawn.map((g) => g.model),
      [...stages, 'ban-ensemble'],
    );
    for (const g of drawn) {
      const s = summary.find((r) => r.model === g.model)!;
      assert.ok(
        g.text.includes(pct(s.accuracy)) &&
          g.text.includes(g.model!) &&
          g.text.includes(s.params.toLocaleString('en-US')),
        `${g.model}: ${g.text.join(' | ')}`,
      );
    }
    assert.ok(await page.$('#stages svg g.stage[data-model="distilled"] circle'));
    const scratch = summary.find((s) => s.model === 'scratch')!;
    assert.equal(await page.textContent('#stages svg .stage-ref-label'), `scratch ${pct(scratch.accuracy)}`);

    // The comparison table lists the generations; factors are relative to the teacher; intermediate models have no latency of their own.
    const table = await page.$$eval('table.summary tr[data-model]', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    assert.deepEqual(
      table.map((r) => r[0]),
      ['teacher', 'scratch', 'generation-1', 'generation-2', 'distilled', 'ban-ensemble'],
    );
    const ratio = (summary[0].params / summary.find((s) => s.model === 'generation-1')!.params).toFixed(1);
    assert.equal(table[2].at(-1), `${ratio}× smaller`);
    assert.match(table[4].at(-1)!, new RegExp(`^${ratio}× smaller, \\d+\\.\\d× faster$`));
    assert.equal(table[2][7], '–', 'no latency measured for generation-1');
    // Per-class accuracy and curves for every phase, named as the summary names them.
    assert.deepEqual(await page.$$eval('#per-class table.per-class th', (ths) => ths.map((th) => th.textContent)), [
      'class',
      'teacher',
      'scratch',
      'generation-1',
      'generation-2',
      'distilled',
    ]);
    const legend = await page.$$eval('#loss .u-legend .u-label', (ls) => ls.map((l) => l.textContent));
    for (const l of ['scratch total', 'generation-1 total', 'generation-1 kd', 'generation-2 hard', 'distilled kd'])
      assert.ok(legend.includes(l), `${l} in ${legend.join(', ')}`);
    assert.equal(await page.getAttribute('#agreement', 'data-series'), '4');
    await page.click('#export-csv');
    const sent = await page.evaluate(() => (window as unknown as { __sent: unknown[] }).__sent);
    const csv = sent.map(parseWebviewMessage).find((m) => m?.type === 'saveFile' && m.kind === 'csv');
    assert.ok(csv?.type === 'saveFile');
    const g2 = summary.find((r) => r.model === 'generation-2')!;
    assert.match(csv.data, new RegExp(`^${bornAgain.id},generation-2,${g2.accuracy},.*,generation-1$`, 'm'));
    await page.screenshot({ path: path.join(shots, 'dashboard-born-again.png'), fullPage: true });

    // An ordinary run has no Stages section.
    await init(page, ['demo']);
    assert.equal(await page.$('#stages h2'), null);
    assert.deepEqual(violations, []);
    await page.close();
  },
);

test('the webview HTML: strict CSP, scripts only by nonce, no inline handlers', () => {
  const html = dashboardHtml(
    {
      cspSource: 'https://x.vscode-cdn.net',
      scriptUri: 'https://x/main.js',
      styleUri: 'https://x/main.css',
      title: 'a <b>',
    },
    'NONCE',
  );
  const csp = html.match(/content="([^"]+)"/)![1];
  assert.match(csp, /^default-src 'none'; script-src 'nonce-NONCE'; style-src https:\/\/x\.vscode-cdn\.net;/);
  assert.doesNotMatch(csp, /unsafe-eval|unsafe-inline/);
  assert.doesNotMatch(html, /\son[a-z]+=/i);
  assert.match(html, /<script nonce="NONCE" src="https:\/\/x\/main.js">/);
  assert.match(html, /<title>a &lt;b&gt;<\/title>/);
});

test('messages from the webview are validated', () => {
  assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
  assert.equal(parseWebviewMessage({ type: 'saveFile', kind: 'exe', suggestedName: 'a', data: '' }), undefined);
  assert.equal(
    parseWebviewMessage({ type: 'saveFile', kind: 'csv', suggestedName: '../../etc/passwd', data: '' }),
    undefined,
  );
  assert.equal(parseWebviewMessage({ type: 'runCommand', command: 'rm -rf /' }), undefined);
  assert.equal(parseWebviewMessage(null), undefined);
});

test(
  'the view state: x axis, log scale, zoom and scroll saved with setState and restored from getState; a toggled control keeps the focus',
  { skip },
  async () => {
    const { page, violations } = await openDashboard(browser, served.base, 'vscode-dark', 1100);
    await showRuns(page, [runs.demo] as RunPayload[]);
    const activeId = () => page.evaluate(() => document.activeElement?.id ?? '');
    const rerendered = async (act: () => Promise<void>) => {
      await page.evaluate(() => delete document.body.dataset.rendered);
      await act();
      await page.waitForFunction(() => document.body.dataset.rendered !== undefined);
    };
    // Toggled from the keyboard: the page is rebuilt, the focus stays on the control.
    await page.focus('#log-scale');
    await rerendered(() => page.keyboard.press('Space'));
    assert.equal(await page.evaluate(() => document.getElementById('log-scale')!.hasAttribute('checked')), true);
    assert.equal(await activeId(), 'log-scale');
    await page.focus('#x-axis');
    await rerendered(() => page.keyboard.press('Enter'));
    assert.match((await page.textContent('#loss h3'))!, /epoch/);
    assert.equal(await activeId(), 'x-axis');
    // Zoom into the loss chart and scroll down.
    const over = (await (await page.$('#loss .u-over'))!.boundingBox())!;
    await page.mouse.move(over.x + over.width * 0.3, over.y + over.height / 2);
    await page.mouse.down();
    await page.mouse.move(over.x + over.width * 0.7, over.y + over.height / 2, { steps: 5 });
    await page.mouse.up();
    assert.equal(await page.getAttribute('#loss', 'data-zoomed'), 'true');
    await page.evaluate(() => window.scrollTo(0, 300));
    await page.waitForFunction(
      () =>
        (window as unknown as { __sent: Array<{ state?: { scrollY: number } }> }).__sent.filter((m) => m.state).at(-1)
          ?.state?.scrollY === 300,
    );
    const saved = await page.evaluate(
      () => (window as unknown as { __sent: Array<{ state?: unknown }> }).__sent.filter((m) => m.state).at(-1)!.state,
    );
    const s = saved as { dirs: string[]; xAxis: string; logScale: boolean; zoom: Record<string, number[]> };
    assert.deepEqual(
      { dirs: s.dirs, xAxis: s.xAxis, logScale: s.logScale, zoomed: Object.keys(s.zoom) },
      { dirs: [runs.demo.dir], xAxis: 'epoch', logScale: true, zoomed: ['epoch:loss'] },
    );
    await page.close();

    // A webview that starts afresh (a window reload) with that state shows the same view.
    const again = await openDashboard(browser, served.base, 'vscode-dark', 1100, saved);
    await showRuns(again.page, [runs.demo] as RunPayload[]);
    await again.page.waitForFunction(() => window.scrollY === 300);
    assert.match((await again.page.textContent('#x-axis'))!, /epoch/);
    assert.equal(await again.page.evaluate(() => document.getElementById('log-scale')!.hasAttribute('checked')), true);
    assert.equal(await again.page.getAttribute('#loss', 'data-zoomed'), 'true');
    assert.deepEqual([...violations, ...again.violations], []);
    await again.page.close();
  },
);

test(
  'offsets: a batch the page has is dropped (no warning twice), a gap asks for the runs again; skipped lines and an interrupted run are shown',
  { skip },
  async () => {
    const { page, violations } = await open();
    const events = runs.demo.events as RunEvent[];
    const cut = events.findIndex((e) => e.type === 'epoch') + 1;
    const warned = [
      ...events.slice(0, cut),
      { v: 1, t: new Date().toISOString(), type: 'warning', message: 'a warning once' } as RunEvent,
    ];
    await showRuns(page, [
      {
        ...runs.demo,
        events: warned.slice(0, cut),
        offset: bytesOf(warned.slice(0, cut)),
        problems: [{ line: 3, message: 'events line 3 is not valid JSON; it was skipped' }],
        live: true,
      },
    ] as RunPayload[]);
    assert.equal(
      await page.textContent('.events-problem[data-line="3"]'),
      'events.jsonl: events line 3 is not valid JSON; it was skipped',
    );
    const batch = { type: 'events', v: MESSAGES_VERSION, dir: runs.demo.dir, ...range(warned, cut) };
    for (let i = 0; i < 2; i++) {
      await page.evaluate(() => delete document.body.dataset.rendered);
      await page.evaluate((m) => window.postMessage(m, '*'), batch);
      if (i === 0) await page.waitForFunction(() => document.body.dataset.rendered !== undefined);
    }
    await page.waitForTimeout(100);
    assert.deepEqual(await page.$$eval('p.warning:not(.events-problem)', (ps) => ps.map((p) => p.textContent)), [
      'Warning: a warning once',
    ]);
    assert.equal(await page.textContent('vscode-badge'), 'running');
    // The trainer is gone and the events stop short: interrupted, not running.
    const to = bytesOf(warned);
    await page.evaluate((m) => window.postMessage(m, '*'), { ...batch, from: to, to, events: [], live: false });
    await page.waitForFunction(() => document.querySelector('vscode-badge')?.textContent === 'interrupted');
    // A batch that leaves a hole: the page asks for everything again.
    const readies = () =>
      page.evaluate(
        () =>
          (window as unknown as { __sent: Array<{ type?: string }> }).__sent.filter((m) => m.type === 'ready').length,
      );
    const before = await readies();
    await page.evaluate((m) => window.postMessage(m, '*'), { ...batch, from: to + 100, to: to + 200, live: false });
    await page.waitForFunction(
      (n) =>
        (window as unknown as { __sent: Array<{ type?: string }> }).__sent.filter((m) => m.type === 'ready').length > n,
      before,
    );
    assert.deepEqual(violations, []);
    await page.close();
  },
);
