/**
 * Dashboard panels: one per set of runs, restored after a reload (serializer + saved state),
 * rebuilt from events.jsonl, and fed live events in batches so a fast run cannot flood them.
 * Messages from the webview are validated before anything is done with them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseEvents, type RunEvent } from '../../protocol/events.ts';
import { MESSAGES_VERSION, parseWebviewMessage, type HostMessage, type RunPayload } from '../../protocol/messages.ts';
import type { Ctx } from '../context.ts';
import { dashboardHtml } from './html.ts';

const VIEW_TYPE = 'distill.dashboard';
const BATCH_MS = 250;

function payload(dir: string): RunPayload {
  let events: RunEvent[] = [];
  try {
    events = parseEvents(fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8'));
  } catch {
    // A run with no events yet: the dashboard fills as they come.
  }
  return { dir, id: path.basename(dir), events };
}

class Dashboard {
  private pending = new Map<string, RunEvent[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly dirs: string[],
    onDispose: () => void,
  ) {
    panel.onDidDispose(() => {
      if (this.timer) clearTimeout(this.timer);
      onDispose();
    });
  }

  post(m: HostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  init(): void {
    this.post({ type: 'init', v: MESSAGES_VERSION, runs: this.dirs.map(payload) });
  }

  push(dir: string, e: RunEvent): void {
    if (!this.dirs.includes(dir)) return;
    const list = this.pending.get(dir) ?? [];
    list.push(e);
    this.pending.set(dir, list);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      for (const [d, events] of this.pending) this.post({ type: 'events', v: MESSAGES_VERSION, dir: d, events });
      this.pending = new Map();
    }, BATCH_MS);
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
    const d = new Dashboard(panel, dirs, () => this.open_.delete(key));
    panel.webview.onDidReceiveMessage((raw) => this.onMessage(d, raw));
    this.open_.set(key, d);
    return d;
  }

  private async onMessage(d: Dashboard, raw: unknown): Promise<void> {
    const m = parseWebviewMessage(raw);
    if (!m) return; // malformed: ignored
    if (m.type === 'ready') d.init();
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
      retainContextWhenHidden: false,
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

  push(dir: string, e: RunEvent): void {
    for (const d of this.open_.values()) d.push(dir, e);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
