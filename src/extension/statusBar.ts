/**
 * The active run in the status bar: phase, epoch, loss and ETA; click opens its dashboard. Before
 * the window's first run starts: the backend the next run will use (click: Check Backends).
 */
import * as vscode from 'vscode';
import type { RunEvent } from '../protocol/events.ts';
import { foldRun, type RunState } from '../protocol/run.ts';

/** The status bar's text for a run's state: phase, epoch, loss, validation accuracy of the latest epoch and ETA. */
export function statusText(s: RunState): string {
  if (s.status === 'finished') return '$(pass) Distill: finished';
  if (s.status === 'failed') return '$(error) Distill: failed';
  if (s.status === 'stopped') return '$(debug-pause) Distill: stopped';
  const p = s.phase && s.byPhase[s.phase];
  if (!p || !p.startedAt) return `$(sync~spin) Distill: starting on ${s.backend?.name ?? '?'}`;
  const fromEpoch = p.fromEpoch ?? 1;
  // Epochs reported since the phase (re)started: before the first, the phase's start.
  if (!p.epochAt || p.epochAt < p.startedAt || p.epoch < fromEpoch) return `$(sync~spin) Distill: ${p.phase} 0/${p.epochs ?? '?'}`;
  const epochs = p.epochs ?? p.epoch;
  const perEpoch = (Date.parse(p.epochAt) - Date.parse(p.startedAt)) / (p.epoch - fromEpoch + 1);
  const eta = Math.max(0, Math.round((perEpoch * (epochs - p.epoch)) / 1000));
  const v = p.validation[p.epoch];
  const acc = v ? ` · val ${(v.accuracy * 100).toFixed(1)}%` : '';
  return `$(sync~spin) Distill: ${p.phase} ${p.epoch}/${epochs} · loss ${(p.trainLoss ?? 0).toFixed(3)}${acc} · ETA ${eta}s`;
}

export class RunStatusBar {
  private readonly item = vscode.window.createStatusBarItem('distill.activeRun', vscode.StatusBarAlignment.Left, 10);
  private dir: string | undefined;
  private state: RunState | undefined;

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
      this.state = undefined;
    }
    if (dir !== this.dir) return;
    this.state = foldRun([e], this.state);
    this.item.text = statusText(this.state);
    this.item.command = { command: 'distill.openDashboard', title: 'Open Dashboard', arguments: [vscode.Uri.file(dir)] };
    this.item.tooltip = `Run ${dir}\nClick to open its dashboard`;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
