/**
 * The active run in the status bar: phase, epoch, loss and ETA; click opens its dashboard. Before
 * the window's first run starts: the backend the next run will use (click: Check Backends).
 */
import * as vscode from 'vscode';
import type { RunEvent } from '../protocol/events.ts';

export class RunStatusBar {
  private readonly item = vscode.window.createStatusBarItem('distill.activeRun', vscode.StatusBarAlignment.Left, 10);
  private dir: string | undefined;
  private phaseStart = 0;
  private epochs = 0;

  constructor() {
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
      this.item.text = `$(sync~spin) Distill: starting on ${e.backend.name}`;
    }
    if (dir !== this.dir) return;
    this.item.command = { command: 'distill.openDashboard', title: 'Open Dashboard', arguments: [vscode.Uri.file(dir)] };
    if (e.type === 'phase_started') {
      this.phaseStart = Date.parse(e.t);
      this.epochs = e.epochs;
      this.item.text = `$(sync~spin) Distill: ${e.phase} 0/${e.epochs}`;
    } else if (e.type === 'epoch') {
      const perEpoch = (Date.parse(e.t) - this.phaseStart) / e.epoch;
      const eta = Math.max(0, Math.round((perEpoch * (this.epochs - e.epoch)) / 1000));
      const acc = e.validation ? ` · val ${(e.validation.accuracy * 100).toFixed(1)}%` : '';
      this.item.text = `$(sync~spin) Distill: ${e.phase} ${e.epoch}/${e.epochs} · loss ${e.train.loss.total.toFixed(3)}${acc} · ETA ${eta}s`;
    } else if (e.type === 'run_finished') this.item.text = '$(pass) Distill: finished';
    else if (e.type === 'run_failed') this.item.text = '$(error) Distill: failed';
    else if (e.type === 'run_stopped') this.item.text = '$(debug-pause) Distill: stopped';
    this.item.tooltip = `Run ${dir}\nClick to open its dashboard`;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
