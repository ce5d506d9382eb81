/** The `distill.*` settings, read in one place. */
import * as vscode from 'vscode';
import { backendSetting, type BackendSetting } from './backendPlan.ts';

export interface Settings {
  nodePath: string;
  backend: BackendSetting;
  maxConcurrentRuns: number;
  runsFolder: string;
  codeLens: boolean;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('distill');
  return {
    nodePath: c.get<string>('nodePath', '').trim(),
    backend: backendSetting(c.get<string>('backend', '')),
    maxConcurrentRuns: Math.max(1, c.get<number>('maxConcurrentRuns', 1)),
    runsFolder: c.get<string>('runsFolder', '.distill/runs'),
    codeLens: c.get<boolean>('codeLens.enabled', true),
  };
}
