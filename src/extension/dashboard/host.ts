/**
 * Dashboard panels: one per set of runs, restored after a reload (serializer + the webview's saved
 * view state), fed by a DashboardFeed (an own tail per run: every event once, in order, a few
 * batches a second, nothing while hidden). Messages from the webview are validated before
 * anything is done with them.
 *
 * retainContextWhenHidden is on: a dashboard's runs, charts and zoom live in the webview, and
 * rebuilding them on every tab switch costs more (the whole events file re-sent and re-folded,
 * every chart re-created) than the memory a hidden panel keeps (a few MB; dashboards are few).
 * The view state (x axis, log scale, zoom, scroll) is saved with the webview state API as well,
 * for a window reload, where the webview does start afresh.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseWebviewMessage } from '../../protocol/messages.ts';
import type { Ctx } from '../context.ts';
import { DashboardFeed } from './feed.ts';
import { dashboardHtml } from './html.ts';

const VIEW_TYPE = 'distill.dashboard';

class Dashboard {
  readonly feed: DashboardFeed;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly dirs: string[],
    ctx: Ctx,
    onDispose: () => void,
  ) {
    this.feed = new DashboardFeed({
      dirs,
      post: (m) => void panel.webview.postMessage(m),
      isLive: (dir) => ctx.runs.runningDirs.includes(dir),
      onProblems: (dir, problems) => {
        if (ctx.store.noteProblems(dir, problems)) ctx.refresh();
      },
    });
    this.feed.setVisible(panel.visible);
    panel.onDidChangeViewState(() => this.feed.setVisible(panel.visible));
    panel.onDidDispose(() => {
      this.feed.dispose();
      onDispose();
    });
  }
}

export class DashboardHost implements vscode.WebviewPanelSerializer {
  private readonly open_ = new Map<string, Dashboard>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly ctx: Ctx,
  ) {
    this.disposables.push(vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, this));
  }

  private get webviewRoot(): vscode.Uri {
    return vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview');
  }

  private setUp(panel: vscode.WebviewPanel, dirs: string[]): Dashboard {
    const key = dirs.join('\n');
    panel.webview.options = { enableScripts: true, localResourceRoots: [this.webviewRoot] };
    panel.webview.html = dashboardHtml({
      cspSource: panel.webview.cspSource,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.webviewRoot, 'main.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(this.webviewRoot, 'main.css')).toString(),
      title: panel.title,
    });
    const d = new Dashboard(panel, dirs, this.ctx, () => this.open_.delete(key));
    panel.webview.onDidReceiveMessage((raw) => this.onMessage(d, raw));
    this.open_.set(key, d);
    return d;
  }

  private async onMessage(d: Dashboard, raw: unknown): Promise<void> {
    const m = parseWebviewMessage(raw);
    if (!m) return; // malformed: ignored
    if (m.type === 'ready') await d.feed.init();
    else if (m.type === 'saveFile') {
      const target = await vscode.window.showSaveDialog({
        defaultUri: vscode.Uri.file(path.join(d.dirs[0], m.suggestedName)),
        filters: m.kind === 'csv' ? { CSV: ['csv'] } : { PNG: ['png'] },
      });
      if (!target) return;
      const data =
        m.kind === 'csv'
          ? Buffer.from(m.data, 'utf8')
          : Buffer.from(m.data.replace(/^data:image\/png;base64,/, ''), 'base64');
      await vscode.workspace.fs.writeFile(target, data);
      void vscode.window.showInformationMessage(`Saved ${target.fsPath}`);
    } else if (m.type === 'openFolder' && d.dirs.includes(m.dir))
      await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(m.dir));
  }

  open(dirs: string[]): void {
    const key = dirs.join('\n');
    const existing = this.open_.get(key);
    if (existing) {
      existing.panel.reveal();
      return;
    }
    const title = dirs.length === 1 ? `Distill: ${path.basename(dirs[0])}` : `Distill: compare ${dirs.length} runs`;
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true, // see the module comment
      localResourceRoots: [this.webviewRoot],
    });
    this.setUp(panel, dirs);
    for (const dir of dirs) this.ctx.runs.attach(dir);
  }

  /** Restores a panel after a window reload from the state the webview saved. */
  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const dirs = (state as { dirs?: unknown })?.dirs;
    const valid = Array.isArray(dirs)
      ? dirs.filter((d): d is string => typeof d === 'string' && fs.existsSync(path.join(d, 'run.json')))
      : [];
    if (valid.length === 0) {
      panel.dispose();
      return;
    }
    this.setUp(panel, valid);
    for (const dir of valid) this.ctx.runs.attach(dir);
  }

  /** `dir` has new events (or its process started or ended): the dashboards showing it read what follows. */
  notify(dir: string): void {
    for (const d of this.open_.values()) d.feed.notify(dir);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
