/** The dashboard's HTML: strict CSP (no inline scripts or handlers, no eval), script by nonce. Free of `vscode`. */
import { randomBytes } from 'node:crypto';

export function nonce(): string {
  return randomBytes(18).toString('base64');
}

export interface DashboardAssets {
  /** The webview's CSP source (webview.cspSource). */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  title: string;
}

export function dashboardHtml(a: DashboardAssets, scriptNonce = nonce()): string {
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${scriptNonce}'`,
    `style-src ${a.cspSource}`,
    `img-src ${a.cspSource} data:`,
    `font-src ${a.cspSource}`,
  ].join('; ');
  const esc = (s: string) =>
    s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${esc(a.styleUri)}">
<title>${esc(a.title)}</title>
</head>
<body>
<main id="root"><p class="muted">Loading…</p></main>
<script nonce="${scriptNonce}" src="${esc(a.scriptUri)}"></script>
</body>
</html>`;
}
