/** The Runs view: every run with its status icon, progress and best accuracy. */
import * as vscode from 'vscode';
import { phaseModelName } from '../protocol/events.ts';
import type { RunView } from './runs/runStore.ts';

export interface RunsSource {
  runs(): RunView[];
  queued(): Array<{ configFile: string; name: string; queuedAt: string }>;
  /** The backend the next run will use, for the header row; undefined before the first check. */
  plan?(): BackendHeader | undefined;
}

export interface BackendHeader {
  /** "Next run: wasm (CPU)". */
  label: string;
  /** Who chose it: "auto", "distill.backend setting", ... */
  description: string;
  tooltip: vscode.MarkdownString;
  warning: boolean;
}

const ICONS: Record<RunView['status'] | 'queued', [string, string | undefined]> = {
  queued: ['clock', undefined],
  running: ['sync~spin', 'charts.blue'],
  finished: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  stopped: ['debug-pause', 'charts.yellow'],
};

/** What the description's "acc" is: the final student's test accuracy, or (before its test) the best validation accuracy so far. */
function accuracyLine(run: RunView): string {
  const a = run.accuracyOf;
  if (!a) return '';
  const model = phaseModelName(a.phase);
  return a.split === 'test' ? `acc: test accuracy of ${model}` : `acc: best validation accuracy so far (${model})`;
}

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
      [
        `**${run.name}** — ${run.status}${run.interrupted ? ' (the trainer is gone: resume it)' : ''}`,
        `folder: \`${run.dir}\``,
        run.configFile ? `config: \`${run.configFile}\`` : '',
        accuracyLine(run),
        run.error ? `error: ${run.error}` : '',
      ]
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

/** The first row (when the view lists runs; an empty view keeps its welcome text): the next run's backend. Click: Check Backends. */
export class BackendHeaderItem extends vscode.TreeItem {
  constructor(h: BackendHeader) {
    super(h.label, vscode.TreeItemCollapsibleState.None);
    this.description = h.description;
    this.tooltip = h.tooltip;
    this.iconPath = new vscode.ThemeIcon(
      h.warning ? 'warning' : 'server-environment',
      h.warning ? new vscode.ThemeColor('problemsWarningIcon.foreground') : undefined,
    );
    this.contextValue = 'backendPlan';
    this.command = { command: 'distill.checkBackends', title: 'Check Backends' };
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
    const items: vscode.TreeItem[] = [
      ...this.source.queued().map((q) => new QueuedItem(q)),
      ...this.source.runs().map((r) => new RunItem(r)),
    ];
    const plan = this.source.plan?.();
    return items.length > 0 && plan ? [new BackendHeaderItem(plan), ...items] : items;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
