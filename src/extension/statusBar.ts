/**
 * The active run in the status bar: phase, epoch, loss and ETA; click opens its dashboard. Before
 * the window's first run starts: the backend the next run will use (click: Check Backends).
 */
import * as vscode from 'vscode';
import type { RunEvent } from '../protocol/events.ts';
import { foldRun, type RunState } from '../protocol/run.ts';
import { statusText } from './dashboard/runText.ts';

export class RunStatusBar {
  private readonly item = vscode.window.createStatusBarItem('distill.activeRun', vscode.StatusBarAlignment.Left, 10);
  private dir: string | undefined;
  private state: RunState | undefined;

  /** `isStopping`: the run manager asked the run's trainer to stop (RunManager.isStopping). */
  constructor(private readonly isStopping: (dir: string) => boolean = () => false) {
    this.item.name = 'Distill: active run';
  }

  /** The backend the next run will use, shown until a run starts in this window. */
  showPlan(text: string, tooltip: string | vscode.MarkdownString, warning: boolean): void {
    if (this.dir) return;
    this.item.text = `${warning ? '$(warning)' : '$(server-environment)'} ${text}`;
    this.item.tooltip = tooltip;
    this.item.command = { command: 'distill.checkBackends', title: 'Check Backends' };
    this.item.show();
  }

  update(dir: string, e: RunEvent): void {
    if (e.type === 'run_started') {
      this.dir = dir;
      this.state = undefined;
    }
    if (dir !== this.dir) return;
    this.state = foldRun([e], this.state);
    this.render();
  }

  /** The run manager's state of a run changed (a stop was asked for: "stopping" while it writes its checkpoint). */
  changed(dir: string): void {
    if (dir === this.dir) this.render();
  }

  private render(): void {
    if (!this.dir || !this.state) return;
    const dir = this.dir;
    this.item.text =
      this.isStopping(dir) && this.state.status === 'running'
        ? '$(loading~spin) Distill: stopping (writing a checkpoint)'
        : statusText(this.state);
    this.item.command = {
      command: 'distill.openDashboard',
      title: 'Open Dashboard',
      arguments: [vscode.Uri.file(dir)],
    };
    this.item.tooltip = `Run ${dir}\nClick to open its dashboard`;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
