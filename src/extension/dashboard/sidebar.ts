/**
 * The compact "Active Run" view in the Distill sidebar: the key numbers of the latest run, as
 * static HTML (no script at all: CSP default-src 'none'), redrawn at most twice a second.
 */
import * as vscode from 'vscode';
import type { RunEvent } from '../../protocol/events.ts';
import { foldRun, type RunState } from '../../protocol/run.ts';
import { snapshot, type Snapshot } from './runText.ts';
import { nonce } from './html.ts';

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (v?: number) => (v === undefined ? '–' : `${(v * 100).toFixed(2)}%`);

export function sidebarHtml(s: Snapshot | undefined, styleNonce = nonce()): string {
  const csp = `default-src 'none'; style-src 'nonce-${styleNonce}'`;
  const rows: Array<[string, string]> = [];
  if (s) {
    rows.push(['run', s.id], ['status', s.status]);
    if (s.phase) rows.push(['phase', `${s.phase} ${s.epoch ?? 0}/${s.epochs ?? '?'}`]);
    if (s.loss !== undefined) rows.push(['loss', s.loss.toFixed(4)]);
    if (s.valAccuracy !== undefined) rows.push(['val accuracy', pct(s.valAccuracy)]);
    if (s.agreement !== undefined) rows.push(['agreement', pct(s.agreement)]);
    for (const r of s.summary ?? []) rows.push([`${r.model} test`, pct(r.accuracy)]);
    const scratch = s.summary?.find((r) => r.model === 'scratch');
    const distilled = s.summary?.find((r) => r.model === 'distilled');
    if (scratch && distilled)
      rows.push(['gain from KD', `${((distilled.accuracy - scratch.accuracy) * 100).toFixed(2)} points`]);
  }
  // Styles only (no script): static markup, themed by VS Code's variables.
  return `<!DOCTYPE html><html><head><meta charset="UTF-8"><meta http-equiv="Content-Security-Policy" content="${csp}">
<style nonce="${styleNonce}">body{color:var(--vscode-foreground);font-family:var(--vscode-font-family);font-size:var(--vscode-font-size);padding:4px 8px}td{padding:2px 6px}td:first-child{color:var(--vscode-descriptionForeground)}</style></head>
<body>${s ? `<table>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>` : '<p>No active run. Start one from a *.distill.json.</p>'}</body></html>`;
}

export class ActiveRunView implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;
  private id: string | undefined;
  private state: RunState | undefined;
  private timer: NodeJS.Timeout | undefined;

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = { enableScripts: false, localResourceRoots: [] };
    this.draw();
  }

  update(dir: string, e: RunEvent): void {
    const id = dir.split(/[\\/]/).pop()!;
    if (e.type === 'run_started') {
      this.id = id;
      this.state = undefined;
    }
    if (this.id !== id) return;
    this.state = foldRun([e], this.state);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 500);
  }

  private draw(): void {
    if (this.view)
      this.view.webview.html = sidebarHtml(this.id && this.state ? snapshot(this.id, this.state) : undefined);
  }
}
