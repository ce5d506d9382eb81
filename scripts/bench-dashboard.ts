// How fast the dashboard draws long runs: synthetic step events (a smooth decaying loss with
// noise, clearly not a real run) at 1k, 10k and 100k points per loss term, sent as one init
// message, then as live batches of 20 steps appended to the run. Each live batch is drawn two
// ways: the incremental path a live run takes (uPlot setData on the existing charts) and a full
// render (every chart and section rebuilt, as the dashboard did for every batch before, and still
// does on a theme change: the bench forces it by toggling a class on <body> with each batch).
// Prints the time to render (the dashboard's own measure, drawing included) and, in
// parentheses, from posting the message to the page reporting the render.
// usage: npm run bench:dashboard   (needs Debian's chromium)
import type { Page } from 'playwright-core';
import {
  chromiumPath,
  CHROMIUM_ARGS,
  loadPlaywright,
  openDashboard,
  serveDashboard,
  showRuns,
} from '../test/helpers/dashboardPage.ts';
import { EVENTS_VERSION, type RunEvent, type StepEvent } from '../src/protocol/events.ts';
import { MESSAGES_VERSION } from '../src/protocol/messages.ts';

const BATCH = 20;
const BATCHES = 5;

function step(s: number, steps: number, t: string): StepEvent {
  const base = 2 * Math.exp(-s / (steps / 5)) + 0.1;
  const noise = 0.05 * Math.sin(s * 12.9898);
  return {
    v: EVENTS_VERSION,
    t,
    type: 'step',
    phase: 'distill',
    epoch: Math.ceil(s / (steps / 100)),
    step: s,
    learningRate: 1e-3,
    loss: { total: base + noise, hard: base * 0.6 + noise, kd: base * 1.4 - noise },
    samplesPerSecond: 1,
  };
}

function syntheticRun(steps: number): RunEvent[] {
  const t = new Date().toISOString();
  const events: RunEvent[] = [
    {
      v: EVENTS_VERSION,
      t,
      type: 'run_started',
      runId: 'synthetic',
      name: 'synthetic',
      configFile: '-',
      resumed: false,
      pid: 0,
      backend: { name: 'wasm', reason: '-', device: '-', tried: [] },
      node: process.version,
      platform: '-',
      phases: ['distill'],
      data: { train: 1, validation: 1, test: 1, inputShape: [1], classes: 2 },
    },
    {
      v: EVENTS_VERSION,
      t,
      type: 'phase_started',
      phase: 'distill',
      model: { params: 1, bytes: 4, layers: [] },
      epochs: 100,
      stepsPerEpoch: steps / 100,
      fromEpoch: 1,
    },
  ];
  for (let s = 1; s <= steps; s++) events.push(step(s, steps, t));
  return events;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Sends live batches of new steps (after `next`); returns the medians of render ms and message-to-render ms, and the render modes seen. */
async function liveBatches(
  page: Page,
  steps: number,
  next: number,
  full: boolean,
): Promise<{ render: number; wall: number; modes: string[] }> {
  await page.evaluate((f) => ((window as unknown as { __full: boolean }).__full = f), full);
  const renders: number[] = [];
  const walls: number[] = [];
  const modes = new Set<string>();
  const t = new Date().toISOString();
  for (let i = 0; i < BATCHES; i++) {
    const events = Array.from({ length: BATCH }, (_, k) => step(next + i * BATCH + k + 1, steps, t));
    await page.evaluate(() => delete document.body.dataset.rendered);
    const t0 = Date.now();
    await page.evaluate((m) => window.postMessage(m, '*'), {
      type: 'events',
      v: MESSAGES_VERSION,
      dir: '/synthetic',
      // The run was shown without an offset: each batch is taken as the next (the host sends real byte ranges).
      from: 0,
      to: 0,
      events,
      problems: [],
      live: true,
    });
    await page.waitForFunction(() => document.body.dataset.rendered !== undefined);
    walls.push(Date.now() - t0);
    const { renderMs, renderMode } = await page.evaluate(() => ({ ...document.body.dataset }));
    renders.push(Number(renderMs));
    modes.add(renderMode ?? '?');
  }
  return { render: median(renders), wall: median(walls), modes: [...modes] };
}

void (async () => {
  if (!chromiumPath) throw new Error('needs Debian chromium');
  const served = await serveDashboard();
  const browser = await loadPlaywright()!.chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  console.log(`render ms (message to render ms), medians of ${BATCHES} live batches of ${BATCH} steps`);
  console.log('points per term          init   live: full render   live: incremental   full / incremental');
  for (const steps of [1000, 10000, 100000]) {
    const { page } = await openDashboard(browser, served.base);
    // With __full set, each live message also toggles a class on <body>: the theme-change path, a full rebuild.
    await page.evaluate(() =>
      window.addEventListener(
        'message',
        () => (window as unknown as { __full?: boolean }).__full && document.body.classList.toggle('bench-full'),
      ),
    );
    const events = syntheticRun(steps);
    const t0 = Date.now();
    await showRuns(page, [{ dir: '/synthetic', id: 'synthetic', events }]);
    const init = `${await page.evaluate(() => document.body.dataset.renderMs)} (${Date.now() - t0})`;
    const full = await liveBatches(page, steps, steps, true);
    const inc = await liveBatches(page, steps, steps + BATCH * BATCHES, false);
    if (full.modes.join() !== 'full' || inc.modes.join() !== 'incremental')
      throw new Error(`unexpected render modes: full ${full.modes.join()}, incremental ${inc.modes.join()}`);
    const cell = (r: { render: number; wall: number }) => `${r.render.toFixed(1)} (${r.wall})`;
    console.log(
      `${String(steps).padStart(15)}   ${init.padStart(12)}   ${cell(full).padStart(17)}   ${cell(inc).padStart(17)}   ${`${(full.render / inc.render).toFixed(1)}×`.padStart(18)}`,
    );
    await page.close();
  }
  await browser.close();
  served.close();
})();
