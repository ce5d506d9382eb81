/**
 * Problems-panel entries for *.distill.json: the schema and file checks in-process as the user
 * types, and on save the trainer's own semantic validation (data shapes, teacher fit) in a child
 * process, skipped in untrusted workspaces since it reads data and model files.
 */
import * as vscode from 'vscode';
import { validateConfigText } from '../core/config/load.ts';
import type { ConfigProblem } from '../core/config/problems.ts';

export function toDiagnostic(doc: vscode.TextDocument, p: ConfigProblem): vscode.Diagnostic {
  const start = doc.positionAt(p.offset);
  const end = doc.positionAt(p.offset + Math.max(1, p.length));
  const d = new vscode.Diagnostic(new vscode.Range(start, end), p.message, vscode.DiagnosticSeverity.Error);
  d.source = 'distill';
  d.code = p.path.length ? p.path.map(String).join('.') : undefined;
  return d;
}

export const isConfig = (doc: vscode.TextDocument) =>
  doc.uri.scheme === 'file' && doc.uri.fsPath.endsWith('.distill.json');

export class ConfigDiagnostics {
  readonly collection = vscode.languages.createDiagnosticCollection('distill');
  private readonly semantic = new Map<string, ConfigProblem[]>();

  /** Schema and file checks; fast, run on every change. */
  checkSyntax(doc: vscode.TextDocument): ConfigProblem[] {
    const { problems } = validateConfigText(doc.getText(), doc.uri.fsPath);
    const extra = problems.length === 0 ? (this.semantic.get(doc.uri.fsPath) ?? []) : [];
    this.collection.set(
      doc.uri,
      [...problems, ...extra].map((p) => toDiagnostic(doc, p)),
    );
    return problems;
  }

  /** Adds the trainer's semantic problems (computed by the caller) to the document's diagnostics. */
  setSemantic(doc: vscode.TextDocument, problems: ConfigProblem[]): void {
    this.semantic.set(doc.uri.fsPath, problems);
    this.checkSyntax(doc);
  }

  problems(uri: vscode.Uri): readonly vscode.Diagnostic[] {
    return this.collection.get(uri) ?? [];
  }

  clear(uri: vscode.Uri): void {
    this.semantic.delete(uri.fsPath);
    this.collection.delete(uri);
  }

  dispose(): void {
    this.collection.dispose();
  }
}
