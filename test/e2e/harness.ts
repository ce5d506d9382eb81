/**
 * A real VS Code for end-to-end tests: code-server 4.100.3 (VS Code 1.100.3) with the packaged
 * extension installed, on a free loopback port with a fresh user-data folder and workspace,
 * driven in Debian's Chromium by playwright-core. Stopped by its pid, also when a test fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import { chromiumPath, CHROMIUM_ARGS, loadPlaywright } from '../helpers/dashboardPage.ts';
import { root } from '../helpers/cli.ts';

export const shots = path.join(root, 'test-results', 'e2e');
const cache = process.env.DISTILL_CACHE ?? path.join(os.homedir(), '.cache', 'distill-studio');
export const codeServerBin = path.join(cache, 'code-server-4.100.3', 'node_modules', '.bin', 'code-server');
// DISTILL_E2E_VSIX: a VSIX packaged beforehand, installed as is (into DISTILL_E2E_EXTENSIONS when
// set), so that several checkouts or sessions on one machine do not repackage or reinstall under
// each other.
const givenVsix = process.env.DISTILL_E2E_VSIX;
export const vsix = givenVsix ?? path.join(root, 'distill-studio.vsix');
const extensionsDir = process.env.DISTILL_E2E_EXTENSIONS ?? path.join(cache, 'e2e-extensions');

export function e2eSkipReason(): string | false {
  if (!fs.existsSync(codeServerBin)) return 'code-server is not installed: run scripts/e2e/setup.sh';
  if (!chromiumPath) return 'Debian chromium is not installed: run scripts/e2e/setup.sh';
  if (!loadPlaywright()) return 'playwright-core is not installed';
  return false;
}

/** Installs the packaged extension (built by `npm run package`) once per test process. */
let installed = false;
export function installExtension(): void {
  if (installed) return;
  const distNewer =
    givenVsix !== undefined ||
    (fs.existsSync(vsix) &&
      fs.statSync(vsix).mtimeMs >= fs.statSync(path.join(root, 'dist', 'extension', 'extension.js')).mtimeMs);
  if (!distNewer) {
    const p = spawnSync('node', ['scripts/package.mjs'], { cwd: root, encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`packaging failed:\n${p.stdout}\n${p.stderr}`);
  }
  fs.rmSync(extensionsDir, { recursive: true, force: true });
  const r = spawnSync(codeServerBin, ['--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`installing the VSIX failed:\n${r.stdout}\n${r.stderr}`);
  installed = true;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface VsCode {
  page: Page;
  workspace: string;
  close(): Promise<void>;
}

let browser: Browser | undefined;

export async function launchBrowser(): Promise<Browser> {
  browser ??= await loadPlaywright()!.chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  return browser;
}

export async function closeBrowser(): Promise<void> {
  await browser?.close();
  browser = undefined;
}

/** Starts code-server on a fresh workspace (with `files` written into it) and opens it. */
/** `before` runs once the workspace's files are written, before VS Code starts (to train runs from the CLI, say). */
export async function openVsCode(
  files: Record<string, string>,
  options: { trusted?: boolean; before?: (workspace: string) => Promise<void> } = {},
): Promise<VsCode> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-e2e-'));
  const workspace = path.join(home, 'workspace');
  const userData = path.join(home, 'user-data');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'security.workspace.trust.startupPrompt': 'never',
      'extensions.autoCheckUpdates': false,
      'telemetry.telemetryLevel': 'off',
    }),
  );
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(workspace, name)), { recursive: true });
    fs.writeFileSync(path.join(workspace, name), text);
  }
  fs.mkdirSync(workspace, { recursive: true });
  await options.before?.(workspace);
  const port = await freePort();
  const args = [
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--extensions-dir',
    extensionsDir,
    '--user-data-dir',
    userData,
    '--disable-telemetry',
    '--disable-update-check',
  ];
  if (options.trusted !== false) args.push('--disable-workspace-trust');
  const server: ChildProcess = spawn(codeServerBin, [...args, workspace], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  let log = '';
  server.stdout!.on('data', (d) => (log += d));
  server.stderr!.on('data', (d) => (log += d));
  const close = async () => {
    await page?.close().catch(() => undefined);
    if (server.pid && server.exitCode === null) process.kill(server.pid, 'SIGTERM');
    fs.rmSync(home, { recursive: true, force: true, maxRetries: 3 });
  };
  let page: Page | undefined;
  try {
    for (let i = 0; i < 100 && !log.includes('HTTP server listening'); i++)
      await new Promise((r) => setTimeout(r, 200));
    if (!log.includes('HTTP server listening')) throw new Error(`code-server did not start:\n${log}`);
    page = await (await launchBrowser()).newPage({ viewport: { width: 1400, height: 900 } });
    // A loaded machine takes longer than playwright's default 30 s to serve the workbench.
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`, { timeout: 120000 });
    await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    await page.waitForTimeout(1500);
  } catch (err) {
    await close();
    throw err;
  }
  return { page, workspace, close };
}

/** Runs a command from the palette by its title, as a user types it. */
export async function runCommand(page: Page, title: string): Promise<void> {
  // The extension's commands join the palette when code-server has registered the extension:
  // 9-19 s after the window opens on a 2-core machine. An open palette does not always pick them
  // up, so it is reopened until they are there.
  const row = `.quick-input-list .monaco-list-row[aria-label*="${title.split(': ').pop()}"]`;
  const deadline = Date.now() + 60000;
  for (;;) {
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type(title); // F1 opens the palette with '>' already typed
    const found = await page.waitForSelector(row, { timeout: 5000 }).then(
      () => true,
      () => false,
    );
    if (found) break;
    if (Date.now() > deadline) throw new Error(`the command palette has no "${title}"`);
    await page.keyboard.press('Escape');
  }
  await page.keyboard.press('Enter');
}

/**
 * Runs a palette command whose first step is a quick pick and picks the row labelled `text`. That
 * pick was seen closing by itself in CI right after a dashboard opened (a webview taking the focus as
 * it loads): it is then run again, as a user would.
 */
export async function runCommandAndPick(page: Page, title: string, text: string): Promise<void> {
  const row = `.quick-input-list .monaco-list-row[aria-label*="${text}"]`;
  for (let attempt = 1; ; attempt++) {
    await runCommand(page, title);
    const shown = await page.waitForSelector(row, { state: 'visible', timeout: 15000 }).then(
      () => true,
      () => false,
    );
    if (shown) return page.click(row);
    if (attempt === 3) throw new Error(`"${title}" showed no "${text}" to pick after ${attempt} tries`);
    await page.keyboard.press('Escape');
  }
}

/** Opens a workspace file from the Explorer, as a user clicks it. */
export async function openFile(page: Page, name: string): Promise<void> {
  await page.click(`.explorer-folders-view .monaco-list-row[aria-label*="${name}"]`);
  await page.waitForSelector(`.tab[aria-label*="${name}"]`, { timeout: 20000 });
  await page.waitForTimeout(1000);
}

/** Polls a run's run.json until its status is `status`. */
export async function waitForStatus(runsDir: string, status: string, timeout = 180000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const runs = fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : [];
    for (const r of runs) {
      try {
        if (JSON.parse(fs.readFileSync(path.join(runsDir, r, 'run.json'), 'utf8')).status === status)
          return path.join(runsDir, r);
      } catch {
        // not written yet
      }
    }
    if (Date.now() > deadline) throw new Error(`no run in ${runsDir} reached status ${status}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** Answers the current quick input: picks the item whose label contains `text`, or types a value. */
export async function answer(page: Page, text: string, kind: 'pick' | 'type' = 'pick'): Promise<void> {
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  if (kind === 'type') {
    await page.fill('.quick-input-widget input', text);
    await page.keyboard.press('Enter');
    return;
  }
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${text}"]`, { timeout: 20000 });
  await page.click(`.quick-input-list .monaco-list-row[aria-label*="${text}"]`);
}

export async function notificationText(page: Page, pattern: RegExp, timeout = 60000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const texts = await page.$$eval('.notification-list-item-message', (els) => els.map((e) => e.textContent ?? ''));
    const hit = texts.find((t) => pattern.test(t));
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no notification matching ${pattern}; seen: ${texts.join(' | ')}`);
    await page.waitForTimeout(250);
  }
}

/** Text of the Runs view's rows (label and description). */
export async function runRows(page: Page): Promise<string[]> {
  return page.$$eval(
    '.pane[aria-label*="Runs"] .monaco-list-row, [id="workbench.view.extension.distill"] .monaco-list-row',
    (rows) => rows.map((r) => r.textContent ?? ''),
  );
}

export async function waitForRow(page: Page, pattern: RegExp, timeout = 120000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const rows = await runRows(page);
    const hit = rows.find((r) => pattern.test(r));
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no run row matching ${pattern}; rows: ${rows.join(' | ')}`);
    await page.waitForTimeout(500);
  }
}

export async function statusBarText(page: Page): Promise<string> {
  return (
    await page.$$eval('.statusbar-item', (items) =>
      items.map((i) => i.textContent ?? '').filter((t) => t.includes('Distill')),
    )
  ).join(' | ');
}

/** The frame of an open dashboard webview holding `selector`. */
export async function dashboardFrame(page: Page, selector: string, timeout = 60000): Promise<Frame> {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const f of page.frames()) {
      try {
        if (await f.$(selector)) return f;
      } catch {
        // a frame that navigated away
      }
    }
    if (Date.now() > deadline) throw new Error(`no webview frame with ${selector}`);
    await page.waitForTimeout(500);
  }
}

export async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

export function demoConfig(name: string, epochs: number, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ name, data: { source: 'demo', trainLimit: 1000, batchSize: 64 }, teacher: { source: 'demo' }, student: { architecture: { type: 'mlp', hidden: [32] } }, distill: { method: 'kd', temperature: 2, alpha: 0.1 }, train: { epochs, logEvery: 4 }, backend: 'wasm', bench: { batchSizes: [1], minRuns: 5, minSeconds: 0.05, warmup: 1 }, ...extra }, null, 2)}\n`;
}

/** Waits until the quick input's title contains `title` (the next step of a multi-step flow is shown). */
export async function waitForQuickInputTitle(page: Page, title: string, timeout = 60000): Promise<void> {
  await page.waitForFunction(
    (t) => {
      const el = document.querySelector('.quick-input-widget .quick-input-title');
      const widget = document.querySelector<HTMLElement>('.quick-input-widget');
      return !!el && !!widget && widget.style.display !== 'none' && (el.textContent ?? '').includes(t);
    },
    title,
    { timeout },
  );
}

/** Answers one step of a multi-step quick input once its title shows `title`. */
export async function answerStep(
  page: Page,
  title: string,
  text: string,
  kind: 'pick' | 'type' = 'pick',
): Promise<void> {
  await waitForQuickInputTitle(page, title);
  if (kind === 'pick') return answer(page, text, kind);
  const shown = await quickInputTitle(page);
  // Enter on the input itself: a quick input opened from a walkthrough button may not hold the focus.
  // Even so an Enter was seen lost there (CI: the walkthrough re-renders as its step completes), the
  // step then still shown and enabled: type and accept again. An accepted input is disabled until the
  // next step replaces it, so a repeated Enter never answers the next step.
  for (let attempt = 1; ; attempt++) {
    await page.fill('.quick-input-widget input', text);
    await page.press('.quick-input-widget input', 'Enter');
    const left = await page
      .waitForFunction(
        (t) => {
          const el = document.querySelector('.quick-input-widget .quick-input-title');
          const input = document.querySelector<HTMLInputElement>('.quick-input-widget input');
          return (el?.textContent ?? '') !== t || !input || input.disabled;
        },
        shown,
        { timeout: 5000 },
      )
      .then(
        () => true,
        () => false,
      );
    if (left) return;
    if (attempt === 3) {
      const message = await page.$$eval('.quick-input-widget .quick-input-message', (els) =>
        els.map((e) => e.textContent ?? '').join(' '),
      );
      throw new Error(`the step "${shown}" did not accept "${text}" after ${attempt} Enters; message: ${message}`);
    }
  }
}

async function quickInputTitle(page: Page): Promise<string> {
  return page.$eval('.quick-input-widget .quick-input-title', (el) => el.textContent ?? '');
}

/** Clicks the quick input's Back button (QuickInputButtons.Back). */
export async function quickInputBack(page: Page): Promise<void> {
  await page.click('.quick-input-widget .quick-input-titlebar .action-label.codicon-quick-input-back');
}

/** Opens a contributed walkthrough from the palette (Welcome: Open Walkthrough...). */
export async function openWalkthrough(page: Page, title: string): Promise<void> {
  await runCommand(page, 'Welcome: Open Walkthrough...');
  await answer(page, title);
  await page.waitForSelector('.gettingStartedContainer', { timeout: 30000 });
}

/** Clicks a walkthrough step's title (it expands) and then its command button. */
export async function walkthroughStep(page: Page, stepTitle: string, button: string): Promise<void> {
  await page.locator('.gettingStartedContainer .getting-started-step', { hasText: stepTitle }).first().click();
  // A link alone on its line is rendered as a button (a .monaco-button) of the expanded step.
  await page
    .locator('.gettingStartedContainer .monaco-button', {
      hasText: new RegExp(`^\\s*${button}\\s*$`),
    })
    .first()
    .click();
}

/**
 * A screenshot for the product's own media (walkthrough images): scaled to `width` and stored as
 * a palette PNG, small enough to ship in the VSIX.
 */
export async function mediaShot(page: Page, file: string, width = 960): Promise<void> {
  const { default: sharp } = await import('sharp');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const png = await page.screenshot();
  await sharp(png).resize({ width }).png({ palette: true, compressionLevel: 9 }).toFile(file);
}

/** Clicks an inline action (by its title, e.g. "Stop Run") of the Runs view row matching `row`, as a user hovers the row and clicks its button. */
export async function clickRowAction(page: Page, row: RegExp, action: string, timeout = 30000): Promise<void> {
  const deadline = Date.now() + timeout;
  const rows = '.pane[aria-label*="Runs"] .monaco-list-row, [id="workbench.view.extension.distill"] .monaco-list-row';
  for (;;) {
    for (const handle of await page.$$(rows)) {
      if (!row.test((await handle.textContent()) ?? '')) continue;
      await handle.hover();
      const button = await handle.$(`.actions .action-label[aria-label^="${action}"]`);
      if (button) {
        await button.click();
        return;
      }
    }
    if (Date.now() > deadline) throw new Error(`no "${action}" button on a Runs view row matching ${row}`);
    await page.waitForTimeout(500);
  }
}

/** Every notification's text shown so far (toasts and the notification center's list). */
export async function notificationTexts(page: Page): Promise<string[]> {
  return page.$$eval('.notification-list-item-message', (els) => els.map((e) => e.textContent ?? ''));
}

/** Trains a workspace config with the real CLI, as a user does in a terminal (its runs folder: the config's output.dir). */
export async function trainWithCli(workspace: string, config: string): Promise<void> {
  const child = spawn(process.execPath, [path.join(root, 'dist', 'trainer', 'cli.js'), 'train', config], {
    cwd: workspace,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`distill train ${config} exited ${code}:\n${stderr}`);
}

/** The Runs view's row whose text contains `text`. */
export function runRow(page: Page, text: string) {
  return page.locator(
    '[id="workbench.view.extension.distill"] .monaco-list-row, .pane[aria-label*="Runs"] .monaco-list-row',
    {
      hasText: text,
    },
  );
}
