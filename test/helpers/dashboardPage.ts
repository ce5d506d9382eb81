/** The built dashboard served on loopback and opened in Debian's Chromium, as VS Code would host it. */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { dashboardHtml } from '../../src/extension/dashboard/html.ts';
import { MESSAGES_VERSION, type RunPayload } from '../../src/protocol/messages.ts';
import { root } from './cli.ts';

export const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function loadPlaywright(): typeof import('playwright-core') | undefined {
  try {
    return require('playwright-core');
  } catch {
    return undefined;
  }
}

/** Why the browser tests cannot run here (no Debian Chromium, no playwright-core), or false. */
export function browserSkipReason(playwright: ReturnType<typeof loadPlaywright>): string | false {
  return !chromiumPath
    ? 'Debian chromium is not installed (apt-get install chromium)'
    : !playwright
      ? 'playwright-core is not installed'
      : false;
}

/** Serves the dashboard HTML (the extension's own, with its CSP) and the built bundle (`main`, or another panel's: `sweep`, `history`). */
export async function serveDashboard(bundle = 'main'): Promise<{ base: string; close: () => void }> {
  const webview = path.join(root, 'dist', 'webview');
  let base = '';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/') {
      res.setHeader('content-type', 'text/html');
      res.end(
        dashboardHtml({
          cspSource: base,
          scriptUri: `${base}/${bundle}.js`,
          styleUri: `${base}/${bundle}.css`,
          title: 'dashboard',
        }),
      );
      return;
    }
    const file = path.join(webview, path.basename(url.pathname));
    if (!fs.existsSync(file) || !/\.(js|css)$/.test(file)) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', file.endsWith('.js') ? 'text/javascript' : 'text/css');
    res.end(fs.readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, close: () => server.close() };
}

const DARK = {
  '--vscode-foreground': '#cccccc',
  '--vscode-editor-background': '#1e1e1e',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-green': '#89d185',
  '--vscode-editorWidget-border': '#454545',
  '--vscode-font-family': 'system-ui, sans-serif',
};
const LIGHT = {
  '--vscode-foreground': '#3b3b3b',
  '--vscode-editor-background': '#ffffff',
  '--vscode-descriptionForeground': '#717171',
  '--vscode-charts-blue': '#1a85ff',
  '--vscode-charts-orange': '#c27d1a',
  '--vscode-charts-green': '#388a34',
  '--vscode-editorWidget-border': '#c8c8c8',
  '--vscode-font-family': 'system-ui, sans-serif',
};
export type Theme = 'vscode-dark' | 'vscode-light' | 'vscode-high-contrast';

/**
 * Opens the dashboard with acquireVsCodeApi recording what the webview posts (and the states it
 * saves, as `{ state }`); `savedState` is what its getState returns, as after a reload. Collects
 * CSP violations.
 */
export async function openDashboard(
  browser: Browser,
  base: string,
  theme: Theme = 'vscode-dark',
  width = 1100,
  savedState?: unknown,
): Promise<{ page: Page; violations: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 1400 } });
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
  // A string, not a function: the test runner's transpiler would add helpers the page lacks.
  await page.addInitScript({
    content: `
      const sent = [];
      window.__sent = sent;
      window.acquireVsCodeApi = () => ({ postMessage: (m) => sent.push(m), setState: (s) => sent.push({ state: s }), getState: () => (${JSON.stringify(savedState ?? null)}) ?? undefined });
      const vars = ${JSON.stringify(theme === 'vscode-light' ? LIGHT : DARK)};
      document.addEventListener('DOMContentLoaded', () => {
        document.body.classList.add(${JSON.stringify(theme)});
        for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v);
      });`,
  });
  await page.goto(`${base}/`);
  await page.waitForFunction(() =>
    (window as unknown as { __sent: Array<{ type?: string }> }).__sent.some((m) => m.type === 'ready'),
  );
  return { page, violations };
}

/** Sends the runs as the host's init message and waits for the render. */
export async function showRuns(page: Page, runs: RunPayload[]): Promise<void> {
  await page.evaluate(() => delete document.body.dataset.rendered);
  await page.evaluate((m) => window.postMessage(m, '*'), { type: 'init', v: MESSAGES_VERSION, runs });
  await page.waitForFunction(() => document.body.dataset.rendered !== undefined);
}
