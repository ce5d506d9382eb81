/**
 * Distill Studio's VS Code layer: thin adapters around the engine (src/core) and the trainer
 * process. Activation errors are shown, not swallowed.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Ctx, trainerEnvOf } from './context.ts';
import { registerCommands } from './commands.ts';
import { ConfigDiagnostics, isConfig } from './diagnostics.ts';
import { ConfigCodeLens } from './codeLens.ts';
import { RunsTree } from './runsTree.ts';
import { RunStatusBar } from './statusBar.ts';
import { RunManager } from './runs/runManager.ts';
import { semanticProblems } from './trainerCli.ts';
import { DashboardHost } from './dashboard/host.ts';
import { ActiveRunView } from './dashboard/sidebar.ts';
import { BackendsDocument, BackendView } from './backends.ts';

export function activate(context: vscode.ExtensionContext): void {
  try {
    activateInner(context);
  } catch (err) {
    void vscode.window.showErrorMessage(`Distill Studio failed to start: ${(err as Error).message}`);
    throw err;
  }
}

function activateInner(context: vscode.ExtensionContext): void {
  const diagnostics = new ConfigDiagnostics();
  const initial = vscode.workspace.getConfiguration('distill');
  const runs = new RunManager({
    trainerPath: path.join(context.extensionPath, 'dist', 'trainer', 'cli.js'),
    nodePath: initial.get<string>('nodePath', '').trim() || process.execPath,
    maxConcurrentRuns: Math.max(1, initial.get<number>('maxConcurrentRuns', 1)),
    stopGraceMs: 15000,
    env: trainerEnvOf(context),
  });
  const ctx = new Ctx(context, runs, diagnostics);
  let backendView: BackendView | undefined;
  const tree = new RunsTree({
    runs: () => ctx.allRuns(),
    queued: () => runs.queued.map((q) => ({ configFile: q.configFile, name: q.name, queuedAt: q.queuedAt })),
    plan: () => backendView?.header(),
  });
  const runsView = vscode.window.createTreeView('distill.runs', { treeDataProvider: tree });
  const lens = new ConfigCodeLens(
    () => ctx.settings().codeLens,
    (file) => ctx.lastRunOf.get(file) ?? ctx.allRuns().find((r) => r.configFile === file)?.dir,
  );
  const status = new RunStatusBar();
  const dashboards = new DashboardHost(context, ctx);
  const activeRun = new ActiveRunView();
  ctx.dashboards = dashboards;
  backendView = new BackendView(ctx, {
    description: (text) => (runsView.description = text),
    status: (text, tooltip, warning) => status.showPlan(text, tooltip, warning),
    refreshTree: () => tree.refresh(),
  });
  ctx.backendView = backendView;
  const backendsDocument = new BackendsDocument(() => ctx.backends.report);
  ctx.backendsDocument = backendsDocument;
  ctx.backends.onChange(() => {
    backendView?.update();
    backendsDocument.refresh();
  });
  ctx.onRefresh(() => tree.refresh());
  ctx.onRefresh(() => lens.refresh());

  runs.on('event', (dir, e) => {
    status.update(dir, e);
    dashboards.push(dir, e);
    activeRun.update(dir, e);
    ctx.pumpLog(dir);
    if (e.type === 'epoch' || e.type === 'phase_started' || e.type === 'run_started') tree.refresh();
  });
  runs.on('changed', () => tree.refresh());
  runs.on('exited', (dir, code, message) => {
    ctx.pumpLog(dir);
    tree.refresh();
    const id = path.basename(dir);
    if (message && code === 2)
      void vscode.window.showErrorMessage(`The run did not start: ${message.replace(/^distill: /, '')}`);
    else if (code === 0) {
      void vscode.window
        .showInformationMessage(`Distill run ${id} finished.`, 'Open Dashboard', 'Show Log')
        .then((a) => {
          if (a === 'Open Dashboard') dashboards.open([dir]);
          if (a === 'Show Log') ctx.logChannel(dir).show(true);
        });
    } else if (code === 143 || code === 130)
      void vscode.window.showInformationMessage(`Distill run ${id} stopped; resume it from the Runs view.`);
    else
      void vscode.window
        .showErrorMessage(
          `Distill run ${id} failed${message ? `: ${message.replace(/^distill: /, '')}` : ''}`,
          'Show Log',
        )
        .then((a) => {
          if (a) ctx.logChannel(dir).show(true);
        });
  });

  // Runs that outlived the last window (a reload) are re-attached by their pid.
  for (const r of ctx.allRuns()) if (r.status === 'running') runs.attach(r.dir);

  const validateSemantics = async (doc: vscode.TextDocument) => {
    if (!isConfig(doc) || !vscode.workspace.isTrusted) return;
    if (diagnostics.checkSyntax(doc).length > 0) return;
    try {
      diagnostics.setSemantic(doc, await semanticProblems(ctx.trainer(), doc.uri.fsPath));
    } catch {
      // The trainer could not run (see its log when running); syntax diagnostics stay.
    }
  };

  context.subscriptions.push(
    diagnostics,
    tree,
    lens,
    status,
    dashboards,
    { dispose: () => runs.dispose() },
    runsView,
    backendsDocument,
    vscode.workspace.registerTextDocumentContentProvider(BackendsDocument.scheme, backendsDocument),
    vscode.window.registerWebviewViewProvider('distill.activeRun', activeRun),
    vscode.languages.registerCodeLensProvider({ pattern: '**/*.distill.json' }, lens),
    ...registerCommands(ctx),
    vscode.workspace.onDidOpenTextDocument((d) => {
      if (isConfig(d)) void validateSemantics(d);
    }),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (isConfig(e.document)) diagnostics.checkSyntax(e.document);
    }),
    vscode.workspace.onDidSaveTextDocument((d) => void validateSemantics(d)),
    vscode.workspace.onDidCloseTextDocument((d) => {
      if (isConfig(d)) diagnostics.clear(d.uri);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      for (const d of vscode.workspace.textDocuments) void validateSemantics(d);
      ctx.backends.refresh().catch(() => undefined);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('distill.maxConcurrentRuns'))
        runs.setMaxConcurrentRuns(ctx.settings().maxConcurrentRuns);
      if (e.affectsConfiguration('distill.nodePath'))
        ctx.backends.refresh().catch(() => undefined); // another Node: other backends
      else if (e.affectsConfiguration('distill')) backendView?.update();
      if (e.affectsConfiguration('distill')) ctx.refresh();
    }),
    // The next run's backend follows the config in view (its "backend" and whether it trains convolutions).
    vscode.window.onDidChangeActiveTextEditor(() => backendView?.update()),
    vscode.workspace.onDidSaveTextDocument((d) => {
      if (isConfig(d)) backendView?.update();
    }),
  );
  // What each backend does here, once per window (Check Backends and the native setup refresh it).
  if (vscode.workspace.isTrusted) ctx.backends.refresh().catch(() => undefined);
  for (const d of vscode.workspace.textDocuments)
    if (isConfig(d)) void validateSemantics(d).then(() => diagnostics.checkSyntax(d));
  // Runs started from a terminal show up too.
  const poll = setInterval(() => tree.refresh(), 5000);
  context.subscriptions.push({ dispose: () => clearInterval(poll) });
}

export function deactivate(): void {
  // Trainer processes keep running on purpose; the next window re-attaches them.
}
