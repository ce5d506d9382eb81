/** Run, Validate and Open last run above every *.distill.json. */
import * as vscode from 'vscode';

export class ConfigCodeLens implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(
    private readonly enabled: () => boolean,
    private readonly lastRun: (configFile: string) => string | undefined,
  ) {}

  refresh(): void {
    this.changed.fire();
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!this.enabled()) return [];
    const top = new vscode.Range(0, 0, 0, 0);
    const lenses = [
      new vscode.CodeLens(top, { title: '$(play) Run', command: 'distill.startRun', arguments: [doc.uri] }),
      new vscode.CodeLens(top, { title: '$(check) Validate', command: 'distill.validateConfig', arguments: [doc.uri] }),
    ];
    const last = this.lastRun(doc.uri.fsPath);
    if (last)
      lenses.push(
        new vscode.CodeLens(top, {
          title: '$(graph) Open last run',
          command: 'distill.openDashboard',
          arguments: [vscode.Uri.file(last)],
        }),
      );
    return lenses;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
