/** The `distill.*` settings, read in one place. */
import * as vscode from 'vscode';

export interface Settings {
  nodePath: string;
  backend: '' | 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  maxConcurrentRuns: number;
  runsFolder: string;
  codeLens: boolean;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('distill');
  return {
    nodePath: c.get<string>('nodePath', '').trim(),
    backend: c.get<Settings['backend']>('backend', ''),
    maxConcurrentRuns: Math.max(1, c.get<number>('maxConcurrentRuns', 1)),
    runsFolder: c.get<string>('runsFolder', '.distill/runs'),
    codeLens: c.get<boolean>('codeLens.enabled', true),
  };
}
