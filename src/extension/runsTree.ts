/**
 * The Runs view: every run with its status icon, progress and best accuracy.
 *
 * Its elements are kept by id (the run folder, or the queued config) from one refresh to the
 * next, and each tree item carries that id, so a refresh keeps the selection, the focus and the
 * scroll position; only the items whose row changed are redrawn. The view selects many (Compare
 * Runs takes the selection), shows the number of running runs as the activity-bar badge and sets
 * the context keys that the palette and the menus read.
 */
import * as vscode from 'vscode';
import { phaseModelName } from '../protocol/events.ts';
import type { RunView } from './runs/runStore.ts';
import { runsContext, type RunsContext } from './runsContext.ts';
import type { SweepTaskView, SweepView } from './sweeps/sweepStore.ts';
import { sweepRow, taskExtra, taskLabel } from './sweeps/sweepRows.ts';

export interface QueuedRun {
  /** The run manager's id of the queue entry: what Stop dequeues. */
  id: string;
  configFile: string;
  name: string;
  queuedAt: string;
}

export interface RunsSource {
  runs(): RunView[];
  queued(): QueuedRun[];
  /** The sweeps (a folder with sweep.json): one group each, its tasks as children. */
  sweeps?(): readonly SweepView[];
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

/** Every status a row can show (the run manager's `stopping` included), with its icon and colour. */
type RowStatus = RunView['status'] | 'queued' | 'stopping';
const ICONS: Record<RowStatus, [string, string | undefined]> = {
  queued: ['clock', undefined],
  running: ['sync~spin', 'charts.blue'],
  stopping: ['loading~spin', 'charts.yellow'],
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

/** A run in the view: the element the tree keeps (and the commands receive) for one run folder. */
export class RunItem {
  constructor(public run: RunView) {}

  get id(): string {
    return `run:${this.run.dir}`;
  }
}

/** A task of a sweep whose run folder exists: a run (every run command applies) shown with its setting and seed. */
export class SweepTaskItem extends RunItem {
  constructor(
    run: RunView,
    public taskView: SweepTaskView,
    public sweepDir: string,
  ) {
    super(run);
  }
}

/** A task of a sweep that has not started: nothing to open yet. */
export class PendingTaskItem {
  constructor(
    public taskView: SweepTaskView,
    public sweepDir: string,
  ) {}

  get id(): string {
    return `task:${this.taskView.dir}`;
  }
}

/** A sweep: the group of its tasks. */
export class SweepItem {
  constructor(public sweep: SweepView) {}

  get id(): string {
    return `sweep:${this.sweep.dir}`;
  }
}

/** A config waiting for a free slot (distill.maxConcurrentRuns). */
export class QueuedItem {
  constructor(public queued: QueuedRun) {}

  get id(): string {
    return `queued:${this.queued.id}`;
  }
}

/** The first row (when the view lists runs; an empty view keeps its welcome text): the next run's backend. */
export class BackendHeaderItem {
  readonly id = 'backendPlan';
  constructor(public header: BackendHeader) {}
}

export type RunsElement = RunItem | QueuedItem | BackendHeaderItem | SweepItem | PendingTaskItem;

/** The row of a run: label, icon, description, tooltip and the context value its menus read. */
export function runTreeItem(element: RunItem): vscode.TreeItem {
  const run = element.run;
  const item = new vscode.TreeItem(run.id, vscode.TreeItemCollapsibleState.None);
  item.id = element.id;
  const status = run.status as RowStatus;
  const [icon, color] = ICONS[status] ?? ICONS.running;
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  const parts: string[] = [];
  const live = status === 'running' || status === 'stopping';
  if (status === 'stopping') parts.push('stopping: writing a checkpoint');
  if (live && run.phase) parts.push(`${run.phase} ${run.epoch ?? 0}/${run.epochs ?? '?'}`);
  if (run.progress !== undefined && live) parts.push(`${Math.round(run.progress * 100)}%`);
  if (run.bestAccuracy !== undefined) parts.push(`acc ${(run.bestAccuracy * 100).toFixed(2)}%`);
  if (run.interrupted) parts.push('interrupted');
  if (run.problems?.length) parts.push(`${run.problems.length} unreadable line${run.problems.length > 1 ? 's' : ''}`);
  item.description = parts.join(' · ');
  item.tooltip = new vscode.MarkdownString(
    [
      `**${run.name}** — ${run.status}${run.interrupted ? ' (the trainer is gone: resume it)' : ''}`,
      `folder: \`${run.dir}\``,
      run.configFile ? `config: \`${run.configFile}\`` : '',
      accuracyLine(run),
      run.error ? `error: ${run.error}` : '',
      ...(run.problems ?? []).slice(0, 3).map((p) => `events.jsonl line ${p.line}: ${p.message}`),
    ]
      .filter(Boolean)
      .join('\n\n'),
  );
  // Context values drive which actions the item's menus show (package.json `viewItem` clauses).
  item.contextValue = `run.${status}`;
  item.command = { command: 'distill.openDashboard', title: 'Open Dashboard', arguments: [element] };
  if (element instanceof SweepTaskItem) {
    item.label = taskLabel(element.taskView);
    item.description = [taskExtra(element.taskView), item.description].filter(Boolean).join(' · ');
  }
  return item;
}

const SWEEP_ICONS: Record<ReturnType<typeof sweepRow>['status'], [string, string | undefined]> = {
  running: ['sync~spin', 'charts.blue'],
  unfinished: ['circle-large-outline', 'charts.yellow'],
  finished: ['pass-filled', 'testing.iconPassed'],
};

function sweepTreeItem(element: SweepItem): vscode.TreeItem {
  const row = sweepRow(element.sweep);
  const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = element.id;
  item.description = row.description;
  item.tooltip = new vscode.MarkdownString(row.tooltip.join('\n\n'));
  const [icon, color] = SWEEP_ICONS[row.status];
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  item.contextValue = row.contextValue;
  return item;
}

function pendingTreeItem(element: PendingTaskItem): vscode.TreeItem {
  const t = element.taskView;
  const item = new vscode.TreeItem(taskLabel(t), vscode.TreeItemCollapsibleState.None);
  item.id = element.id;
  item.description = taskExtra(t);
  item.iconPath = new vscode.ThemeIcon(t.slurmJob ? 'clock' : 'circle-outline');
  item.tooltip = new vscode.MarkdownString(
    [
      `**task ${t.task.index}** of the sweep — ${t.slurmJob ? `submitted to Slurm as ${t.slurmJob}${t.slurmState ? ` (${t.slurmState})` : ''}` : 'not started'}`,
      `setting: ${t.setting}`,
      `seed: ${t.task.seed}`,
      `folder (once it starts): \`${t.dir}\``,
    ].join('\n\n'),
  );
  item.contextValue = 'sweepTask.pending';
  return item;
}

function queuedTreeItem(q: QueuedRun, id: string): vscode.TreeItem {
  const item = new vscode.TreeItem(`${q.name} (queued)`, vscode.TreeItemCollapsibleState.None);
  item.id = id;
  item.iconPath = new vscode.ThemeIcon(ICONS.queued[0]);
  item.description = 'waiting for a free slot (distill.maxConcurrentRuns)';
  item.tooltip = q.configFile;
  item.contextValue = 'run.queued';
  return item;
}

function headerTreeItem(h: BackendHeader): vscode.TreeItem {
  const item = new vscode.TreeItem(h.label, vscode.TreeItemCollapsibleState.None);
  item.id = 'backendPlan';
  item.description = h.description;
  item.tooltip = h.tooltip;
  item.iconPath = new vscode.ThemeIcon(
    h.warning ? 'warning' : 'server-environment',
    h.warning ? new vscode.ThemeColor('problemsWarningIcon.foreground') : undefined,
  );
  item.contextValue = 'backendPlan';
  item.command = { command: 'distill.checkBackends', title: 'Check Backends' };
  return item;
}

/** What a row shows, as a string: equal strings, no redraw. */
function signature(e: RunsElement): string {
  if (e instanceof SweepTaskItem) return JSON.stringify([e.run, e.taskView.slurmJob, e.taskView.slurmState]);
  if (e instanceof RunItem) return JSON.stringify(e.run);
  if (e instanceof SweepItem) return JSON.stringify(sweepRow(e.sweep));
  if (e instanceof PendingTaskItem) return JSON.stringify(e.taskView);
  if (e instanceof QueuedItem) return JSON.stringify(e.queued);
  return JSON.stringify({ ...e.header, tooltip: e.header.tooltip.value });
}

export class RunsTree implements vscode.TreeDataProvider<RunsElement> {
  private readonly changed = new vscode.EventEmitter<RunsElement | RunsElement[] | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** The elements shown, in order, with the signature of their row (a sweep's children follow it, under their parent). */
  private shown: Array<{ element: RunsElement; signature: string; parent?: SweepItem }> = [];
  private context: Partial<Record<keyof RunsContext, boolean>> = {};
  private view: vscode.TreeView<RunsElement> | undefined;

  constructor(private readonly source: RunsSource) {
    this.shown = this.read();
  }

  /** Creates the view (multi-select) and keeps its badge and the context keys up to date. */
  createView(id: string): vscode.TreeView<RunsElement> {
    this.view = vscode.window.createTreeView(id, {
      treeDataProvider: this,
      canSelectMany: true,
      showCollapseAll: false,
    });
    this.updateView();
    return this.view;
  }

  /** The runs selected in the view (for the title bar's Compare Runs). */
  selectedRuns(): RunView[] {
    return (this.view?.selection ?? []).filter((e): e is RunItem => e instanceof RunItem).map((e) => e.run);
  }

  /** The sweep items shown (for the e2e and the commands that name a sweep by folder). */
  sweepItem(dir: string): SweepItem | undefined {
    return this.shown.find(
      (s): s is { element: SweepItem; signature: string } =>
        s.element instanceof SweepItem && s.element.sweep.dir === dir,
    )?.element;
  }

  /** The elements as the source has them now, reusing those already shown (the same object per id). */
  private read(): Array<{ element: RunsElement; signature: string; parent?: SweepItem }> {
    const previous = new Map(this.shown.map((s) => [s.element.id, s.element]));
    const reuse = <T extends RunsElement>(fresh: T, update: (old: T) => void): T => {
      const old = previous.get(fresh.id);
      if (!old || old.constructor !== fresh.constructor) return fresh;
      update(old as T);
      return old as T;
    };
    const items: RunsElement[] = [
      ...this.source.queued().map((q) => reuse(new QueuedItem(q), (old) => (old.queued = q))),
      ...(this.source.sweeps?.() ?? []).map((v) => reuse(new SweepItem(v), (old) => (old.sweep = v))),
      ...this.source.runs().map((r) => reuse(new RunItem(r), (old) => (old.run = r))),
    ];
    const plan = this.source.plan?.();
    const top =
      items.length === 0 || !plan
        ? items
        : [reuse(new BackendHeaderItem(plan), (old) => (old.header = plan)), ...items];
    return top.flatMap((element) => {
      const row = { element, signature: signature(element) };
      if (!(element instanceof SweepItem)) return [row];
      const children = element.sweep.tasks.map((t): RunsElement => {
        if (!t.run) return reuse(new PendingTaskItem(t, element.sweep.dir), (old) => (old.taskView = t));
        const run = t.run;
        return reuse(new SweepTaskItem(run, t, element.sweep.dir), (old) => {
          old.run = run;
          old.taskView = t;
        });
      });
      return [row, ...children.map((c) => ({ element: c, signature: signature(c), parent: element }))];
    });
  }

  /**
   * Re-reads the source. A changed list (a run added, removed or moved) redraws the view, whose
   * items keep their ids; otherwise only the rows whose content changed are redrawn.
   */
  refresh(): void {
    const before = this.shown;
    this.shown = this.read();
    this.updateView();
    const sameList = before.length === this.shown.length && before.every((b, i) => b.element === this.shown[i].element);
    if (!sameList) {
      this.changed.fire(undefined);
      return;
    }
    const changed = this.shown.filter((s, i) => s.signature !== before[i].signature).map((s) => s.element);
    // A task's row changed: its sweep's row (counts) changed with it, and is redrawn with its children.
    if (changed.length > 0) this.changed.fire(changed);
  }

  private updateView(): void {
    const runs = this.shown.flatMap((s) => (s.element instanceof RunItem ? [s.element.run] : []));
    const queued = this.shown.filter((s) => s.element instanceof QueuedItem).length;
    const running = runs.filter((r) => r.status === 'running' || (r.status as RowStatus) === 'stopping').length;
    if (this.view)
      this.view.badge =
        running > 0 ? { value: running, tooltip: `${running} run${running > 1 ? 's' : ''} training` } : undefined;
    const context = runsContext(runs, queued);
    for (const [key, value] of Object.entries(context) as Array<[keyof RunsContext, boolean]>) {
      if (this.context[key] === value) continue;
      this.context[key] = value;
      void vscode.commands.executeCommand('setContext', key, value);
    }
  }

  getTreeItem(element: RunsElement): vscode.TreeItem {
    if (element instanceof RunItem) return runTreeItem(element);
    if (element instanceof SweepItem) return sweepTreeItem(element);
    if (element instanceof PendingTaskItem) return pendingTreeItem(element);
    if (element instanceof QueuedItem) return queuedTreeItem(element.queued, element.id);
    return headerTreeItem(element.header);
  }

  getChildren(element?: RunsElement): RunsElement[] {
    // An empty array lets the view's welcome content (viewsWelcome) show.
    if (!element) return this.shown.filter((s) => !s.parent).map((s) => s.element);
    return element instanceof SweepItem ? this.shown.filter((s) => s.parent === element).map((s) => s.element) : [];
  }

  /** Lets `reveal` find an element's parent: a sweep's task has its sweep, everything else is top-level. */
  getParent(element: RunsElement): SweepItem | undefined {
    return this.shown.find((s) => s.element === element)?.parent;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
