/**
 * The Run History panel: one webview listing every run of the workspace from the run.json files
 * the Runs view reads (nothing else is read for it), restored after a reload. Its messages are
 * validated, and it opens or reveals only runs the Runs view lists.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  HISTORY_VERSION,
  historyRow,
  parseHistoryWebviewMessage,
  type HistoryHostMessage,
  type HistoryRow,
} from '../../protocol/history.ts';
import type { Ctx } from '../context.ts';
import { dashboardHtml } from '../dashboard/html.ts';

export const HISTORY_VIEW_TYPE = 'distill.history';

/** The rows of the runs the Runs view lists (its status: a trainer that is gone reads `stopped`). */
export function historyRows(ctx: Pick<Ctx, 'allRuns' | 'store'>): HistoryRow[] {
  return ctx.allRuns().flatMap((run) => {
    const record = ctx.store.recordOf(run.dir);
    return record ? [historyRow(run.dir, record, run.status)] : [];
  });
}

export class RunHistoryPanel implements vscode.WebviewPanelSerializer {
  private panel: vscode.WebviewPanel | undefined;
  private shown = '';
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly ctx: Ctx,
  ) {
    this.disposables.push(vscode.window.registerWebviewPanelSerializer(HISTORY_VIEW_TYPE, this));
  }

  private get webviewRoot(): vscode.Uri {
    return vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview');
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    this.setUp(
      vscode.window.createWebviewPanel(HISTORY_VIEW_TYPE, 'Distill: Run History', vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [this.webviewRoot],
      }),
    );
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
    this.setUp(panel);
  }

  /** Sends the rows when they changed (called on every refresh of the runs). */
  update(): void {
    if (this.panel) this.post(false);
  }

  private post(always: boolean): void {
    const rows = historyRows(this.ctx);
    const text = JSON.stringify(rows);
    if (!always && text === this.shown) return;
    this.shown = text;
    const m: HistoryHostMessage = { type: 'rows', v: HISTORY_VERSION, rows };
    void this.panel?.webview.postMessage(m);
  }

  private setUp(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    panel.webview.options = { enableScripts: true, localResourceRoots: [this.webviewRoot] };
    panel.iconPath = vscode.Uri.joinPath(this.context.extensionUri, 'media', 'distill.svg');
    panel.webview.html = dashboardHtml({
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.webviewRoot, 'history.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.webviewRoot, 'history.css')).toString(),
      title: panel.title,
    });
    panel.webview.onDidReceiveMessage((raw) => void this.onMessage(raw));
    panel.onDidDispose(() => {
      if (this.panel === panel) this.panel = undefined;
      this.shown = '';
    });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const m = parseHistoryWebviewMessage(raw);
    if (!m) return; // malformed: ignored
    // A hidden webview is discarded and reloads when shown again: it asks for the rows anew.
    if (m.type === 'ready') return this.post(true);
    const known = new Set(this.ctx.allRuns().map((r) => r.dir));
    if (m.type === 'open') {
      const dirs = m.dirs.filter((d) => known.has(d));
      if (dirs.length > 0) this.ctx.dashboards.open(dirs);
    } else if (m.type === 'reveal' && known.has(m.dir))
      await vscode.commands.executeCommand('distill.revealRunFolder', vscode.Uri.file(path.resolve(m.dir)));
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
