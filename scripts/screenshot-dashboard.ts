// Renders a run's dashboard in Debian's Chromium and saves a PNG (the README's screenshot).
// usage: npx tsx scripts/screenshot-dashboard.ts <run folder> [out.png] [dark|light]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvents } from '../src/protocol/events.ts';
import {
  chromiumPath,
  CHROMIUM_ARGS,
  loadPlaywright,
  openDashboard,
  serveDashboard,
  showRuns,
} from '../test/helpers/dashboardPage.ts';

const [runDir, out = 'media/screenshots/dashboard.png', theme = 'dark'] = process.argv.slice(2);
if (!runDir || !chromiumPath)
  throw new Error('usage: screenshot-dashboard.ts <run folder> [out.png] [dark|light] (needs Debian chromium)');
void (async () => {
  const served = await serveDashboard();
  const browser = await loadPlaywright()!.chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  const { page } = await openDashboard(browser, served.base, theme === 'light' ? 'vscode-light' : 'vscode-dark', 1000);
  const dir = path.resolve(runDir);
  await showRuns(page, [
    { dir, id: path.basename(dir), events: parseEvents(fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8')) },
  ]);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const height = await page.evaluate(
    () => (document.querySelector('#agreement') as HTMLElement).getBoundingClientRect().top,
  );
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1000, height: Math.ceil(height) } });
  console.log(`wrote ${out}`);
  await browser.close();
  served.close();
})();
