/**
 * The sweep panel: one webview per sweep folder, fed what the folder holds (sweep.json, the
 * tasks' states, aggregate.json) whenever the runs are re-read and that changed, restored after
 * a reload. Its messages are validated, and it opens only the dashboards of the sweep's own tasks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseSweepWebviewMessage } from '../../protocol/sweepView.ts';
import type { Ctx } from '../context.ts';
import { dashboardHtml } from '../dashboard/html.ts';
import { PLAN_FILE, sweepMessageOf } from './sweepStore.ts';

export const SWEEP_VIEW_TYPE = 'distill.sweep';

interface Panel {
  panel: vscode.WebviewPanel;
  /** The message last posted, as text: unchanged, nothing is sent. */
  shown: string;
}

export class SweepPanels implements vscode.WebviewPanelSerializer {
  private readonly panels = new Map<string, Panel>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly ctx: Ctx,
  ) {
    this.disposables.push(vscode.window.registerWebviewPanelSerializer(SWEEP_VIEW_TYPE, this));
  }

  private get webviewRoot(): vscode.Uri {
    return vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview');
  }

  open(dir: string): void {
    const existing = this.panels.get(dir);
    if (existing) {
      existing.panel.reveal();
      return;
    }
    const name = this.ctx.sweeps.viewOf(dir)?.plan.name ?? path.basename(dir);
    this.setUp(
      vscode.window.createWebviewPanel(SWEEP_VIEW_TYPE, `Distill: sweep ${name}`, vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [this.webviewRoot],
      }),
      dir,
    );
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const dir = (state as { dir?: unknown } | undefined)?.dir;
    if (typeof dir !== 'string' || !fs.existsSync(path.join(dir, PLAN_FILE))) {
      panel.dispose();
      return;
    }
    await this.ctx.sweeps.refresh();
    this.setUp(panel, dir);
  }

  /** Sends each panel its sweep when that changed (called on every refresh of the runs). */
  update(): void {
    for (const dir of this.panels.keys()) this.post(dir, false);
  }

  private post(dir: string, always: boolean): void {
    const p = this.panels.get(dir);
    const view = this.ctx.sweeps.viewOf(dir);
    if (!p || !view) return;
    const m = sweepMessageOf(view);
    const text = JSON.stringify(m);
    if (!always && text === p.shown) return;
    p.shown = text;
    void p.panel.webview.postMessage(m);
  }

  private setUp(panel: vscode.WebviewPanel, dir: string): void {
    panel.webview.options = { enableScripts: true, localResourceRoots: [this.webviewRoot] };
    panel.iconPath = vscode.Uri.joinPath(this.context.extensionUri, 'media', 'distill.svg');
    panel.webview.html = dashboardHtml({
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.webviewRoot, 'sweep.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.webviewRoot, 'sweep.css')).toString(),
      title: panel.title,
    });
    this.panels.set(dir, { panel, shown: '' });
    panel.webview.onDidReceiveMessage((raw) => this.onMessage(dir, raw));
    panel.onDidDispose(() => {
      if (this.panels.get(dir)?.panel === panel) this.panels.delete(dir);
    });
  }

  private onMessage(dir: string, raw: unknown): void {
    const m = parseSweepWebviewMessage(raw);
    if (!m) return; // malformed: ignored
    // A hidden webview is discarded and reloads when shown again: it asks anew.
    if (m.type === 'ready') return this.post(dir, true);
    const view = this.ctx.sweeps.viewOf(dir);
    const dirs = m.indices.flatMap((i) => {
      const t = view?.tasks.find((t) => t.task.index === i);
      return t?.run ? [t.dir] : [];
    });
    if (dirs.length > 0) this.ctx.dashboards.open(dirs);
  }

  dispose(): void {
    for (const p of this.panels.values()) p.panel.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
