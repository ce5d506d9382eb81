// How fast the dashboard draws long runs: synthetic step events (a smooth decaying loss with
// noise, clearly not a real run) at 1k, 10k and 100k points per loss term, sent as one init
// message and as live batches. Prints the time to a full render and per live batch.
// usage: npm run bench:dashboard   (needs Debian's chromium)
import { chromiumPath, CHROMIUM_ARGS, loadPlaywright, openDashboard, serveDashboard, showRuns } from '../test/helpers/dashboardPage.ts';
import { EVENTS_VERSION, type RunEvent } from '../src/protocol/events.ts';
import { MESSAGES_VERSION } from '../src/protocol/messages.ts';

function syntheticRun(steps: number): RunEvent[] {
  const t = new Date().toISOString();
  const events: RunEvent[] = [
    { v: EVENTS_VERSION, t, type: 'run_started', runId: 'synthetic', name: 'synthetic', configFile: '-', resumed: false, pid: 0, backend: { name: 'wasm', reason: '-', device: '-', tried: [] }, node: process.version, platform: '-', phases: ['distill'], data: { train: 1, validation: 1, test: 1, inputShape: [1], classes: 2 } },
    { v: EVENTS_VERSION, t, type: 'phase_started', phase: 'distill', model: { params: 1, bytes: 4, layers: [] }, epochs: 100, stepsPerEpoch: steps / 100, fromEpoch: 1 },
  ];
  for (let s = 1; s <= steps; s++) {
    const base = 2 * Math.exp(-s / (steps / 5)) + 0.1;
    const noise = 0.05 * Math.sin(s * 12.9898);
    events.push({ v: EVENTS_VERSION, t, type: 'step', phase: 'distill', epoch: Math.ceil(s / (steps / 100)), step: s, learningRate: 1e-3, loss: { total: base + noise, hard: base * 0.6 + noise, kd: base * 1.4 - noise }, samplesPerSecond: 1 });
  }
  return events;
}

(async () => {
  if (!chromiumPath) throw new Error('needs Debian chromium');
  const served = await serveDashboard();
  const browser = await loadPlaywright()!.chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  console.log('points per term   init: message + render ms (render alone)   live batch of 250 steps: message + render ms (render alone)');
  for (const steps of [1000, 10000, 100000]) {
    const { page } = await openDashboard(browser, served.base);
    const events = syntheticRun(steps);
    const t0 = Date.now();
    await showRuns(page, [{ dir: '/synthetic', id: 'synthetic', events }]);
    const full = Date.now() - t0;
    const fullRender = await page.evaluate(() => document.body.dataset.renderMs);
    const more = events.slice(2, 252).map((e) => (e.type === 'step' ? { ...e, step: e.step + steps } : e));
    const times: number[] = [];
    const renders: number[] = [];
    for (let i = 0; i < 5; i++) {
      await page.evaluate(() => delete document.body.dataset.rendered);
      const t1 = Date.now();
      await page.evaluate((m) => window.postMessage(m, '*'), { type: 'events', v: MESSAGES_VERSION, dir: '/synthetic', events: more });
      await page.waitForFunction(() => document.body.dataset.rendered !== undefined);
      times.push(Date.now() - t1);
      renders.push(Number(await page.evaluate(() => document.body.dataset.renderMs)));
    }
    times.sort((a, b) => a - b);
    renders.sort((a, b) => a - b);
    console.log(`${String(steps).padStart(15)}   ${`${full} (${fullRender})`.padStart(38)}   ${`${times[2]} (${renders[2]})`.padStart(30)}   medians of 5 batches`);
    await page.close();
  }
  await browser.close();
  served.close();
})();
