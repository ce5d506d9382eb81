// The sweep view in Debian's Chromium (the built webview bundle under the extension's CSP), fed
// a real sweep: 2 temperatures x 2 seeds run and aggregated by the real CLI. And the config diff
// of the compare dashboard, on two of its task runs. Screenshots go to test-results/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents } from '../src/protocol/events.ts';
import type { SweepAggregate } from '../src/protocol/sweep.ts';
import { SWEEP_VIEW_VERSION, type SweepViewMessage } from '../src/protocol/sweepView.ts';
import { SweepStore, sweepMessageOf } from '../src/extension/sweeps/sweepStore.ts';
import { plannedFolder } from '../src/extension/sweeps/sweepRunner.ts';
import { gainText, paretoFront, costPoints } from '../webview/sweep/model.ts';
import {
  browserSkipReason,
  chromiumPath,
  CHROMIUM_ARGS,
  loadPlaywright,
  openDashboard,
  serveDashboard,
  showRuns,
} from './helpers/dashboardPage.ts';
import { root, runCli, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

const playwright = loadPlaywright();
const skip = browserSkipReason(playwright);
const shots = path.join(root, 'test-results');

let message: SweepViewMessage;
let aggregate: SweepAggregate;
let sweepDir: string;
let browser: import('playwright-core').Browser;
let sweepServer: { base: string; close: () => void };
let mainServer: { base: string; close: () => void };

before(async () => {
  if (skip) return;
  const dir = tempDir('sweep-dash');
  writeConfig(
    dir,
    'base',
    smallConfig({
      data: { source: 'demo', trainLimit: 300, batchSize: 64 },
      train: { epochs: 2, logEvery: 2 },
      student: { architecture: { type: 'mlp', hidden: [8] } },
      bench: { batchSizes: [1], minRuns: 3, minSeconds: 0.02, warmup: 1 },
      export: { onnx: false },
      cache: { dir: 'cache' },
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'temps.sweep.json'),
    JSON.stringify({
      config: 'base.distill.json',
      name: 'temps',
      seeds: [0, 1],
      grid: { 'distill.temperature': [1, 4] },
    }),
  );
  sweepDir = plannedFolder(runCli(['sweep', 'plan', 'temps.sweep.json'], dir));
  const r = runCli(['sweep', 'run', sweepDir, '--parallel', '2'], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const store = new SweepStore(() => [path.dirname(sweepDir)]);
  await store.refresh();
  message = sweepMessageOf(store.viewOf(sweepDir)!);
  aggregate = message.aggregate!;
  assert.ok(aggregate, 'the sweep run wrote aggregate.json');
  [sweepServer, mainServer] = await Promise.all([serveDashboard('sweep'), serveDashboard('main')]);
  browser = await playwright!.chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  fs.mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  sweepServer?.close();
  mainServer?.close();
});

async function openSweep(theme: 'vscode-dark' | 'vscode-light' = 'vscode-dark') {
  const opened = await openDashboard(browser, sweepServer.base, theme, 1100);
  await opened.page.evaluate(() => delete document.body.dataset.rendered);
  await opened.page.evaluate((m) => window.postMessage(m, '*'), message);
  await opened.page.waitForFunction(() => document.body.dataset.rendered !== undefined);
  return opened;
}

const tableSettings = (page: import('playwright-core').Page) =>
  page.$$eval('table.settings tbody tr', (trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.setting)));

test(
  'the sweep view: the chosen setting and its test gain, the settings table sorted, parallel coordinates, cost plots',
  { skip },
  async () => {
    const { page, violations } = await openSweep();
    assert.equal(await page.textContent('h2'), 'Sweep temps');
    const chosen = message.plan.settings.find((s) => s.id === aggregate.chosen)!;
    assert.equal(await page.textContent('#chosen .chosen-label'), chosen.label);
    const g = gainText(aggregate.test!.gain);
    assert.equal(await page.textContent('#test-gain'), `Paired test gain (distilled − scratch, same seed): ${g.text}`);
    assert.equal(await page.textContent('#test-verdict'), g.verdict);
    // Best validation first; the chosen row is marked.
    const byValidation = [...aggregate.settings]
      .sort((a, b) => b.validation.distilled!.mean - a.validation.distilled!.mean || a.setting - b.setting)
      .map((s) => s.setting);
    assert.deepEqual(await tableSettings(page), byValidation);
    assert.equal(await page.getAttribute('table.settings tr.chosen', 'data-setting'), String(aggregate.chosen));
    assert.equal((await page.$$('table.settings svg.ci-bar')).length, 2, 'a CI bar per setting (two seeds each)');
    // Sort by the swept key, then reversed.
    await page.click('button[data-sort="key:distill.temperature"]');
    assert.deepEqual(await tableSettings(page), [0, 1]);
    await page.click('button[data-sort="key:distill.temperature"]');
    assert.deepEqual(await tableSettings(page), [1, 0]);
    assert.equal(
      await page.getAttribute('th:has(button[data-sort="key:distill.temperature"])', 'aria-sort'),
      'descending',
    );
    // Parallel coordinates: one line per setting over temperature, validation accuracy and gain.
    assert.equal((await page.$$('svg.parallel polyline.pc-line')).length, 2);
    assert.deepEqual(
      await page.$$eval('svg.parallel .pc-axis', (gs) => gs.map((g) => (g as SVGGElement).dataset.axis)),
      ['key:distill.temperature', 'validation', 'gain'],
    );
    // Cost plots: every model of every run on the size plot; the Pareto front drawn through its points.
    const size = costPoints(aggregate.points, 'size');
    assert.equal((await page.$$('#cost-size circle.point')).length, size.length);
    assert.equal((await page.$$('#cost-size circle.on-front')).length, paretoFront(size).length);
    const latency = costPoints(aggregate.points, 'latency');
    assert.ok(latency.length > 0, 'bench measured latency');
    assert.equal((await page.$$('#cost-latency circle.point')).length, latency.length);
    assert.match(
      (await page.textContent('#cost'))!,
      /Validation accuracy \(the test set is read only for the chosen setting\)/,
    );
    await page.screenshot({ path: path.join(shots, 'sweep-view-dark.png'), fullPage: true });
    // Opening a setting's runs asks the host for those tasks' dashboards.
    await page.click(`tr[data-setting="${aggregate.chosen}"] button[data-open]`);
    const sent = await page.evaluate(() => (window as unknown as { __sent: Array<Record<string, unknown>> }).__sent);
    const open = sent.find((m) => m.type === 'openTasks');
    assert.deepEqual(
      open?.indices,
      message.plan.tasks.filter((t) => t.setting === aggregate.chosen).map((t) => t.index),
    );
    assert.deepEqual(violations, []);
    await page.close();
  },
);

test(
  'brushing an axis keeps the settings inside it; clicking the axis or Clear brushes restores them',
  { skip },
  async () => {
    const { page, violations } = await openSweep('vscode-light');
    // Brush the upper half of the temperature axis (temperature 4 sits at the top, 1 at the bottom).
    const area = (await page.$('rect.brush-area[data-brush="key:distill.temperature"]'))!;
    const box = (await area.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.4, { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelectorAll('table.settings tbody tr').length === 1);
    assert.deepEqual(await tableSettings(page), [1]);
    assert.match((await page.textContent('#settings h3'))!, /1 of 2, brushed/);
    assert.equal((await page.$$('svg.parallel polyline.pc-line.filtered')).length, 1);
    // The brushes are kept in the webview state (a reload restores them).
    const states = await page.evaluate(() =>
      (window as unknown as { __sent: Array<{ state?: { brushes?: Record<string, number[]> } }> }).__sent.filter(
        (m) => m.state,
      ),
    );
    assert.ok(states.at(-1)!.state!.brushes!['key:distill.temperature']);
    await page.screenshot({ path: path.join(shots, 'sweep-view-brushed-light.png'), fullPage: true });
    await page.click('#clear-brushes');
    await page.waitForFunction(() => document.querySelectorAll('table.settings tbody tr').length === 2);
    // A malformed message (another version) changes nothing.
    const malformed = { ...message, v: SWEEP_VIEW_VERSION + 1, plan: null };
    await page.evaluate((m) => window.postMessage(m, '*'), malformed);
    assert.equal((await page.$$('table.settings tbody tr')).length, 2);
    assert.deepEqual(violations, []);
    await page.close();
  },
);

test('runs compared side by side show the keys their configs differ in, with both values', { skip }, async () => {
  const { page, violations } = await openDashboard(browser, mainServer.base, 'vscode-dark', 1100);
  // Task 0 (temperature 1, seed 0) and task 3 (temperature 4, seed 1).
  const dirs = [0, 3].map((i) => path.join(sweepDir, message.plan.tasks[i].dir));
  await showRuns(
    page,
    dirs.map((d) => ({
      dir: d,
      id: path.basename(d),
      events: parseEvents(fs.readFileSync(path.join(d, 'events.jsonl'), 'utf8')),
      config: JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8')),
    })),
  );
  const rows = await page.$$eval('#config-diff table.config-diff tr', (trs) =>
    trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
  );
  const byPath = new Map(rows.map((r) => [r[0], r.slice(1)]));
  assert.deepEqual(byPath.get('distill.temperature'), ['1', '4']);
  assert.deepEqual(byPath.get('train.seed'), ['0', '1']);
  assert.ok(!byPath.has('distill.alpha'), 'an unchanged key is not listed');
  assert.equal(
    (await page.$$('#config-diff td.changed')).length,
    rows.length,
    "the second run's values are marked changed",
  );
  await page.screenshot({ path: path.join(shots, 'dashboard-config-diff.png'), fullPage: true });
  assert.deepEqual(violations, []);
  await page.close();
});

test('the sweep message the host sends is the folder as it is', { skip }, () => {
  assert.equal(message.v, SWEEP_VIEW_VERSION);
  assert.equal(message.statuses.filter((s) => s.state === 'finished').length, 4);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(sweepDir, 'aggregate.json'), 'utf8')), aggregate);
});
