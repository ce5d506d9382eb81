// Renders a sweep folder's sweep view in Debian's Chromium and saves a PNG (the README's screenshot).
// usage: npx tsx scripts/screenshot-sweep.ts <sweep folder> [out.png] [dark|light]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SweepStore, sweepMessageOf } from '../src/extension/sweeps/sweepStore.ts';
import {
  chromiumPath,
  CHROMIUM_ARGS,
  loadPlaywright,
  openDashboard,
  serveDashboard,
} from '../test/helpers/dashboardPage.ts';

const [sweepArg, out = 'media/screenshots/sweep.png', theme = 'dark'] = process.argv.slice(2);
if (!sweepArg || !chromiumPath)
  throw new Error('usage: screenshot-sweep.ts <sweep folder> [out.png] [dark|light] (needs Debian chromium)');
void (async () => {
  const dir = path.resolve(sweepArg);
  const store = new SweepStore(() => [path.dirname(dir)]);
  await store.refresh();
  const view = store.viewOf(dir);
  if (!view) throw new Error(`${dir} holds no readable sweep.json`);
  const served = await serveDashboard('sweep');
  const browser = await loadPlaywright()!.chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const { page } = await openDashboard(browser, served.base, theme === 'light' ? 'vscode-light' : 'vscode-dark', 1100);
  await page.evaluate((m) => window.postMessage(m, '*'), sweepMessageOf(view));
  await page.waitForFunction(() => document.body.dataset.rendered !== undefined);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
  await browser.close();
  served.close();
})();
