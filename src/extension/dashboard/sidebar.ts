/**
 * The compact "Active Run" view in the Distill sidebar: the key numbers of the latest run, as
 * static HTML (no script at all: CSP default-src 'none'), redrawn at most twice a second.
 */
import * as vscode from 'vscode';
import type { RunEvent, SummaryRow } from '../../protocol/events.ts';
import { foldRun, type RunState } from '../../protocol/run.ts';
import { nonce } from './html.ts';

export interface Snapshot {
  id: string;
  status: string;
  phase?: string;
  epoch?: number;
  epochs?: number;
  loss?: number;
  valAccuracy?: number;
  agreement?: number;
  summary?: SummaryRow[];
}

/** The view's numbers from the run's state: the current phase's latest epoch, and the summary once finished. */
export function snapshot(id: string, s: RunState): Snapshot {
  const status = s.status === 'failed' ? `failed: ${s.error}` : s.status;
  const p = s.status === 'finished' ? undefined : s.phase && s.byPhase[s.phase];
  if (!p) return { id, status, loss: s.lastLoss, summary: s.summary };
  // The latest epoch of this start of the phase (a resumed phase starts again from 0).
  const since = p.epochAt !== undefined && p.startedAt !== undefined && p.epochAt >= p.startedAt;
  const v = since ? p.validation[p.epoch] : undefined;
  return { id, status, phase: p.phase, epoch: since ? p.epoch : 0, epochs: p.epochs, loss: p.lastLoss ?? s.lastLoss, valAccuracy: v?.accuracy, agreement: v?.agreement, summary: s.summary };
}

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
    if (scratch && distilled) rows.push(['gain from KD', `${((distilled.accuracy - scratch.accuracy) * 100).toFixed(2)} points`]);
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
    if (this.view) this.view.webview.html = sidebarHtml(this.id && this.state ? snapshot(this.id, this.state) : undefined);
  }
}
