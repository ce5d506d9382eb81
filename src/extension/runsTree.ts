/** The Runs view: every run with its status icon, progress and best accuracy. */
import * as vscode from 'vscode';
import type { RunView } from './runs/runStore.ts';

export interface RunsSource {
  runs(): RunView[];
  queued(): Array<{ configFile: string; name: string; queuedAt: string }>;
}

const ICONS: Record<RunView['status'] | 'queued', [string, string | undefined]> = {
  queued: ['clock', undefined],
  running: ['sync~spin', 'charts.blue'],
  finished: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  stopped: ['debug-pause', 'charts.yellow'],
};

export class RunItem extends vscode.TreeItem {
  constructor(readonly run: RunView) {
    super(run.id, vscode.TreeItemCollapsibleState.None);
    const [icon, color] = ICONS[run.status];
    this.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    const parts: string[] = [];
    if (run.status === 'running' && run.phase) parts.push(`${run.phase} ${run.epoch ?? 0}/${run.epochs ?? '?'}`);
    if (run.progress !== undefined && run.status === 'running') parts.push(`${Math.round(run.progress * 100)}%`);
    if (run.bestAccuracy !== undefined) parts.push(`acc ${(run.bestAccuracy * 100).toFixed(2)}%`);
    if (run.interrupted) parts.push('interrupted');
    this.description = parts.join(' · ');
    this.tooltip = new vscode.MarkdownString(
      [`**${run.name}** — ${run.status}${run.interrupted ? ' (the trainer is gone: resume it)' : ''}`, `folder: \`${run.dir}\``, run.configFile ? `config: \`${run.configFile}\`` : '', run.error ? `error: ${run.error}` : '']
        .filter(Boolean)
        .join('\n\n'),
    );
    // Context values drive which actions the item's menu shows.
    this.contextValue = `run.${run.status}`;
    this.command = { command: 'distill.openDashboard', title: 'Open Dashboard', arguments: [this] };
  }
}

class QueuedItem extends vscode.TreeItem {
  constructor(q: { configFile: string; name: string; queuedAt: string }) {
    super(`${q.name} (queued)`, vscode.TreeItemCollapsibleState.None);
    this.iconPath = new vscode.ThemeIcon('clock');
    this.description = 'waiting for a free slot (distill.maxConcurrentRuns)';
    this.tooltip = q.configFile;
    this.contextValue = 'run.queued';
  }
}

export class RunsTree implements vscode.TreeDataProvider<vscode.TreeItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly source: RunsSource) {}

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(item: vscode.TreeItem): vscode.TreeItem {
    return item;
  }

  getChildren(): vscode.TreeItem[] {
    // An empty array lets the view's welcome content (viewsWelcome) show.
    return [...this.source.queued().map((q) => new QueuedItem(q)), ...this.source.runs().map((r) => new RunItem(r))];
  }

  dispose(): void {
    this.changed.dispose();
  }
}
