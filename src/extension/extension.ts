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
import { ValidationQueue } from './validationQueue.ts';
import { DashboardHost } from './dashboard/host.ts';
import { RunHistoryPanel } from './history/historyPanel.ts';
import { ActiveRunView } from './dashboard/sidebar.ts';
import { BackendsDocument, BackendView } from './backends.ts';
import { registerTasks } from './tasks.ts';
import { registerSweepCommands } from './sweeps/sweepCommands.ts';
import { SweepPanels } from './sweeps/sweepPanel.ts';

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
    // distill.nodePath: each trainer launched uses the value current at its launch (setNodePath below).
    nodePath: initial.get<string>('nodePath', '').trim() || process.execPath,
    maxConcurrentRuns: Math.max(1, initial.get<number>('maxConcurrentRuns', 1)),
    env: trainerEnvOf(context),
  });
  const ctx = new Ctx(context, runs, diagnostics);
  let backendView: BackendView | undefined;
  const tree = new RunsTree({
    runs: () => ctx.topRuns(),
    queued: () => [...runs.queued],
    sweeps: () => ctx.sweeps.views,
    plan: () => backendView?.header(),
  });
  const runsView = tree.createView('distill.runs');
  ctx.runsTree = tree;
  const lens = new ConfigCodeLens(
    () => ctx.settings().codeLens,
    (file) => ctx.lastRunOf.get(file) ?? ctx.allRuns().find((r) => r.configFile === file)?.dir,
  );
  const status = new RunStatusBar((dir) => runs.isStopping(dir));
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
  const history = new RunHistoryPanel(context, ctx);
  ctx.history = history;
  ctx.onRefresh(() => history.update());
  ctx.onRefresh(() => lens.refresh());
  const sweepPanels = new SweepPanels(context, ctx);
  ctx.sweepPanels = sweepPanels;
  ctx.onRefresh(() => sweepPanels.update());

  runs.on('event', (dir, e) => {
    status.update(dir, e);
    dashboards.notify(dir);
    activeRun.update(dir, e);
    ctx.pumpLog(dir);
    // The trainer rewrites run.json with each of these: the tree re-reads that file alone.
    if (e.type === 'epoch' || e.type === 'phase_started' || e.type === 'run_started') ctx.refreshIfChanged();
  });
  runs.on('problems', (dir, problems) => {
    if (ctx.store.noteProblems(dir, problems)) tree.refresh();
    for (const p of problems) ctx.log().warn(`${path.join(dir, 'events.jsonl')}: ${p.message}`);
  });
  // Runs started from a terminal show up through their run.json; while runs are live, a 5 s poll
  // also notices a trainer that died without a word. Nothing runs: no poll.
  let poll: NodeJS.Timeout | undefined;
  // A sweep's tasks are started by its runner, not by the run manager: the poll runs while one is live.
  const sweepLive = () =>
    ctx.sweepRunner.runningDirs.length > 0 ||
    ctx.sweeps.views.some((v) => v.counts.running + v.counts.stopping > 0) ||
    ctx.sweeps.submittedUnfinished.length > 0;
  const updatePoll = () => {
    if (runs.runningDirs.length > 0 || sweepLive()) poll ??= setInterval(() => ctx.refreshIfChanged(), 5000);
    else if (poll) {
      clearInterval(poll);
      poll = undefined;
    }
  };
  context.subscriptions.push({ dispose: () => poll && clearInterval(poll) });
  ctx.onRefresh(() => updatePoll());
  // Submitted sweeps: Slurm's view of their tasks (queued, running, ended by Slurm) through
  // `distill sweep status --json`, asynchronously, one query at a time, at most every 15 s.
  let slurmQuery: Promise<void> | undefined;
  let slurmQueriedAt = 0;
  ctx.onRefresh(() => {
    const due = ctx.sweeps.submittedUnfinished;
    if (slurmQuery || due.length === 0 || !vscode.workspace.isTrusted || Date.now() - slurmQueriedAt < 15_000) return;
    slurmQueriedAt = Date.now();
    slurmQuery = (async () => {
      let changed = false;
      for (const v of due) {
        try {
          changed = ctx.sweeps.setSlurmStatuses(v.dir, await ctx.sweepRunner.status(v.dir)) || changed;
        } catch (err) {
          ctx.log().warn(`distill sweep status ${v.dir} failed:`, err);
        }
      }
      if (changed) {
        tree.refresh();
        sweepPanels.update();
      }
    })().finally(() => (slurmQuery = undefined));
  });
  ctx.sweepRunner.on('changed', () => {
    updatePoll();
    ctx.refresh();
  });
  ctx.sweepRunner.on('exited', (dir, code, tail) => {
    const id = path.basename(dir);
    // The runner's exit codes (src/trainer/sweepCli.ts): 0 all finished, 130/143 stopped by a signal.
    if (code === 0)
      void vscode.window
        .showInformationMessage(`Distill sweep ${id} finished and was aggregated.`, 'Open Sweep View')
        .then((a) => a && sweepPanels.open(dir));
    else if (code === 130 || code === 143)
      void vscode.window.showInformationMessage(
        `Distill sweep ${id} stopped: its running tasks wrote a checkpoint. Resume Sweep continues it.`,
      );
    else
      void vscode.window
        .showErrorMessage(
          `Distill sweep ${id} ended with code ${code ?? 'unknown'}: ${tail.split('\n').at(-1) ?? ''}`,
          'Show Log',
        )
        .then((a) => {
          if (a) void vscode.commands.executeCommand('vscode.open', vscode.Uri.file(path.join(dir, 'sweep.log')));
        });
  });
  runs.on('changed', (dir) => {
    if (dir) status.changed(dir);
    updatePoll();
    ctx.refresh();
    if (dir) dashboards.notify(dir); // started or ended: the dashboards learn whether it is live
  });
  // How a run ended, from what its run folder records (runManager.ts), not from an exit code.
  runs.on('exited', (dir, _code, message, outcome) => {
    ctx.pumpLog(dir);
    ctx.refresh();
    const id = path.basename(dir);
    const why = message ? `: ${message.replace(/^distill: /, '')}` : '';
    const showLog = (a: string | undefined) => {
      if (a === 'Show Log') ctx.logChannel(dir).show(true);
    };
    switch (outcome) {
      case 'refused':
        void vscode.window.showErrorMessage(`The run did not start${why}`);
        break;
      case 'finished':
        void vscode.window
          .showInformationMessage(`Distill run ${id} finished.`, 'Open Dashboard', 'Show Log')
          .then((a) => {
            if (a === 'Open Dashboard') dashboards.open([dir]);
            showLog(a);
          });
        break;
      case 'stopped':
        void vscode.window.showInformationMessage(
          `Distill run ${id} stopped with a checkpoint; resume it from the Runs view.`,
        );
        break;
      case 'killed':
        void vscode.window.showWarningMessage(
          `Distill run ${id} was killed; Resume continues it from its last checkpoint, if it wrote one.`,
        );
        break;
      case 'interrupted':
        void vscode.window
          .showWarningMessage(
            `Distill run ${id} ended without recording how (killed or crashed)${why}; Resume continues it from its last checkpoint.`,
            'Show Log',
          )
          .then(showLog);
        break;
      case 'failed':
        void vscode.window.showErrorMessage(`Distill run ${id} failed${why}`, 'Show Log').then(showLog);
        break;
    }
  });

  // Runs that outlived the last window (a reload) are re-attached once the runs are read: the
  // same trainer (pid and start stamp), and only in a trusted workspace (otherwise on trust).
  const reattach = () => {
    if (!vscode.workspace.isTrusted) return;
    for (const r of ctx.topRuns()) if (r.status === 'running') runs.attach(r.dir);
  };
  void Promise.all([ctx.store.refresh(), ctx.sweeps.refresh()]).then(
    () => {
      reattach();
      updatePoll();
      tree.refresh();
      lens.refresh();
    },
    (err: unknown) => ctx.log().error('reading the runs folders failed', err),
  );
  const runJsonWatcher = vscode.workspace.createFileSystemWatcher('**/run.json');
  runJsonWatcher.onDidCreate(() => ctx.refreshIfChanged());
  runJsonWatcher.onDidChange(() => ctx.refreshIfChanged());
  runJsonWatcher.onDidDelete(() => ctx.refreshIfChanged());
  // File events can be missed (watcher limits, folders excluded from watching, remote file systems):
  // the view also looks again when it is shown and when the window gets focus; both are cheap (run.json only).
  const refreshWhenSeen = [
    runsView.onDidChangeVisibility((e) => {
      if (e.visible) ctx.refreshIfChanged();
    }),
    vscode.window.onDidChangeWindowState((e) => {
      if (e.focused) ctx.refreshIfChanged();
    }),
  ];

  // The trainer's semantic validation: debounced, the stale child killed, late results dropped, failures logged.
  const documentOf = (file: string) => vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file);
  const semantic = new ValidationQueue({
    run: (file, signal) => semanticProblems(ctx.trainer(), file, signal),
    result: (file, problems) => {
      const doc = documentOf(file);
      if (doc) diagnostics.setSemantic(doc, problems);
    },
    failed: (file, err) =>
      ctx.log().error(`validating ${file} with the trainer failed (schema diagnostics still apply):`, err),
  });
  const validateSemantics = (doc: vscode.TextDocument) => {
    if (!isConfig(doc) || !vscode.workspace.isTrusted) return;
    if (diagnostics.checkSyntax(doc).length > 0) return;
    semantic.request(doc.uri.fsPath);
  };

  // One policy for distill.nodePath: what starts from now on (runs, queued runs, resumes,
  // validation, export, benchmark) uses the new value; trainers already running keep theirs.
  const nodePathChanged = () => {
    const node = ctx.settings().nodePath || process.execPath;
    runs.setNodePath(node);
    const running = runs.runningDirs.length;
    if (running > 0)
      void vscode.window.showInformationMessage(
        `distill.nodePath changed: new runs, resumes, validation, export and benchmarks use ${node}; the ${running} run${running > 1 ? 's' : ''} already training keep${running > 1 ? '' : 's'} the Node ${running > 1 ? 'they' : 'it'} started with.`,
      );
  };

  context.subscriptions.push(
    diagnostics,
    tree,
    lens,
    status,
    dashboards,
    history,
    sweepPanels,
    { dispose: () => ctx.sweepRunner.dispose() },
    { dispose: () => runs.dispose() },
    runsView,
    runJsonWatcher,
    ...refreshWhenSeen,
    semantic,
    backendsDocument,
    vscode.workspace.registerTextDocumentContentProvider(BackendsDocument.scheme, backendsDocument),
    vscode.window.registerWebviewViewProvider('distill.activeRun', activeRun),
    vscode.languages.registerCodeLensProvider({ pattern: '**/*.distill.json' }, lens),
    ...registerCommands(ctx),
    ...registerSweepCommands(ctx),
    registerTasks(ctx),
    vscode.workspace.onDidOpenTextDocument((d) => {
      if (isConfig(d)) validateSemantics(d);
    }),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (isConfig(e.document)) diagnostics.checkSyntax(e.document);
    }),
    vscode.workspace.onDidSaveTextDocument((d) => validateSemantics(d)),
    vscode.workspace.onDidCloseTextDocument((d) => {
      if (!isConfig(d)) return;
      semantic.cancel(d.uri.fsPath);
      diagnostics.clear(d.uri);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      reattach();
      for (const d of vscode.workspace.textDocuments) validateSemantics(d);
      ctx.backends.refresh().catch(() => undefined);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('distill.maxConcurrentRuns'))
        runs.setMaxConcurrentRuns(ctx.settings().maxConcurrentRuns);
      if (e.affectsConfiguration('distill.nodePath')) {
        nodePathChanged();
        ctx.backends.refresh().catch(() => undefined); // another Node: other backends
      } else if (e.affectsConfiguration('distill')) backendView?.update();
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
    if (isConfig(d)) {
      diagnostics.checkSyntax(d);
      validateSemantics(d);
    }
}

export function deactivate(): void {
  // Trainer processes keep running on purpose; the next window re-attaches them.
}
