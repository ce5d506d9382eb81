/** One factory per command, each small: the work is in core, the run manager and the trainer. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadConfigFile } from '../core/config/load.ts';
import { ConfigError } from '../core/config/problems.ts';
import type { Ctx } from './context.ts';
import { newProjectFlow } from './newProject.ts';
import { QueuedItem, RunItem } from './runsTree.ts';
import { DequeuedError } from './runs/runManager.ts';
import { runTrainer, semanticProblems } from './trainerCli.ts';
import { isConfig } from './diagnostics.ts';
import { readRun, type RunView } from './runs/runStore.ts';
import { checkBackends, setUpNativeBackend } from './backends.ts';

const UNTRUSTED =
  'Distill Studio runs the trainer and reads data and model files only in a trusted workspace. Validation still works here.';

function requireTrust(): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(`Running is disabled: ${UNTRUSTED}`, 'Manage Workspace Trust').then((a) => {
    if (a) void vscode.commands.executeCommand('workbench.trust.manage');
  });
  return false;
}

/** The config a command is about: its argument, the active editor, or a pick among the workspace's. */
async function configArg(arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri && arg.fsPath.endsWith('.distill.json')) return arg;
  const active = vscode.window.activeTextEditor?.document;
  if (active && isConfig(active)) return active.uri;
  const found = await vscode.workspace.findFiles('**/*.distill.json', '**/node_modules/**', 50);
  if (found.length === 1) return found[0];
  const chosen = await vscode.window.showQuickPick(
    found.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })),
    { placeHolder: 'Which config?' },
  );
  return chosen?.uri;
}

/** The run a command is about: a tree item, a run folder URI, or a pick. A queued item is no run yet: undefined, said so. */
async function runArg(
  ctx: Ctx,
  arg: unknown,
  filter: (r: RunView) => boolean = () => true,
): Promise<RunView | undefined> {
  if (arg instanceof RunItem) return arg.run;
  if (arg instanceof QueuedItem) {
    void vscode.window.showInformationMessage(
      `${arg.queued.name} is queued (distill.maxConcurrentRuns): it has no run folder, log or dashboard until it starts.`,
    );
    return undefined;
  }
  if (arg instanceof vscode.Uri) return readRun(arg.fsPath);
  const runs = ctx.allRuns().filter(filter);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('No matching runs.');
    return undefined;
  }
  const chosen = await vscode.window.showQuickPick(
    runs.map((r) => ({
      label: r.id,
      description: `${r.status}${r.bestAccuracy !== undefined ? ` · ${(r.bestAccuracy * 100).toFixed(2)}%` : ''}`,
      run: r,
    })),
    { placeHolder: 'Which run?' },
  );
  return chosen?.run;
}

/** The runs of a multi-selection in the Runs view (the second argument of its menu commands); undefined when fewer than two. */
function runsOf(selection: unknown): RunView[] | undefined {
  if (!Array.isArray(selection)) return undefined;
  const runs = selection.filter((e): e is RunItem => e instanceof RunItem).map((e) => e.run);
  return runs.length >= 2 ? runs : undefined;
}

/** A run folder in the Explorer when the workspace holds it, else in the OS file manager (desktop, local), else its path. */
async function revealFolder(dir: string): Promise<void> {
  const uri = vscode.Uri.file(dir);
  if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
  else if (vscode.env.remoteName === undefined && vscode.env.uiKind === vscode.UIKind.Desktop)
    await vscode.commands.executeCommand('revealFileInOS', uri);
  else {
    const copy = await vscode.window.showInformationMessage(`Run folder: ${dir}`, 'Copy Path');
    if (copy) await vscode.env.clipboard.writeText(dir);
  }
}

/**
 * A trainer command under a cancellable progress notification: Cancel aborts it (the child is
 * killed). Resolves with its result, or undefined when cancelled.
 */
async function cancellable<T>(title: string, work: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  const abort = new AbortController();
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      (_progress, token) => {
        token.onCancellationRequested(() => abort.abort());
        return work(abort.signal);
      },
    );
  } catch (err) {
    if (abort.signal.aborted) return undefined;
    throw err;
  }
}

export function registerCommands(ctx: Ctx): vscode.Disposable[] {
  const c = (id: string, fn: (...args: unknown[]) => unknown) => vscode.commands.registerCommand(id, fn);
  return [
    c('distill.newProject', async () => {
      try {
        const file = await newProjectFlow();
        if (file) await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file));
      } catch (err) {
        void vscode.window.showErrorMessage(vscode.l10n.t('New Distillation Project: {0}', (err as Error).message));
      }
    }),

    c('distill.validateConfig', async (arg) => {
      const uri = await configArg(arg);
      if (!uri) return;
      const doc = await vscode.workspace.openTextDocument(uri);
      const problems = ctx.diagnostics.checkSyntax(doc);
      if (problems.length === 0 && vscode.workspace.isTrusted)
        ctx.diagnostics.setSemantic(doc, await semanticProblems(ctx.trainer(), uri.fsPath));
      const all = ctx.diagnostics.problems(uri);
      if (all.length === 0)
        void vscode.window.showInformationMessage(
          `${path.basename(uri.fsPath)} is valid${vscode.workspace.isTrusted ? '' : ' (schema and files; data and teacher checks need a trusted workspace)'}.`,
        );
      else
        void vscode.window.showErrorMessage(
          `${path.basename(uri.fsPath)}: ${all.length} problem${all.length > 1 ? 's' : ''}, first: line ${all[0].range.start.line + 1}: ${all[0].message}`,
        );
    }),

    c('distill.startRun', async (arg) => {
      const uri = await configArg(arg);
      if (!uri || !requireTrust()) return;
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === uri.fsPath);
      if (doc?.isDirty) await doc.save();
      let config;
      try {
        config = loadConfigFile(uri.fsPath).config;
      } catch (err) {
        if (err instanceof ConfigError) {
          if (doc) ctx.diagnostics.checkSyntax(doc);
          const p = err.problems[0];
          void vscode.window.showErrorMessage(
            `Cannot start ${path.basename(uri.fsPath)}: line ${p.line}: ${p.path.join('.')}: ${p.message}${err.problems.length > 1 ? ` (and ${err.problems.length - 1} more in the Problems panel)` : ''}`,
          );
          return;
        }
        throw err;
      }
      // A config with `seeds` or `sweep` is several runs: it goes through the sweep runner.
      if (config.seeds !== undefined || config.sweep !== undefined) {
        await vscode.commands.executeCommand('distill.runSweep', uri);
        return;
      }
      ctx.rememberRunsDir(config.output.dir);
      ctx.backendView?.started(uri.fsPath);
      const backend = ctx.settings().backend;
      try {
        const dir = await ctx.runs.start({
          configFile: uri.fsPath,
          runsDir: config.output.dir,
          name: config.name,
          args: backend ? ['--backend', backend] : [],
        });
        ctx.lastRunOf.set(uri.fsPath, dir);
        ctx.refresh();
      } catch (err) {
        if (err instanceof DequeuedError) return; // the user took it off the queue
        void vscode.window.showErrorMessage(`Cannot start the run: ${(err as Error).message}`);
      }
    }),

    c('distill.stopRun', async (arg) => {
      if (!requireTrust()) return;
      // A queued item: take it off the queue (never a running run in its place).
      if (arg instanceof QueuedItem) {
        ctx.runs.dequeue(arg.queued.id);
        return;
      }
      const run = await runArg(ctx, arg, (r) => r.status === 'running' || r.status === 'stopping');
      if (!run) return;
      const result = ctx.runs.stop(run.dir);
      if (result === 'already-stopping') {
        // A second Stop does not cut the checkpoint short: killing is a choice of its own.
        const kill = await vscode.window.showWarningMessage(
          `Run ${run.id} is already stopping: it writes a checkpoint after the current step, then exits. Kill it now instead? The steps since its last checkpoint are lost.`,
          'Kill Now',
        );
        if (kill === 'Kill Now' && !ctx.runs.kill(run.dir))
          void vscode.window.showErrorMessage(
            `Run ${run.id} was not killed: its process is gone, or it cannot be proven to be the run's trainer (a pid with another start time).`,
          );
      } else if (result === 'not-running') void vscode.window.showInformationMessage(`Run ${run.id} is not running.`);
      ctx.refresh();
    }),

    c('distill.resumeRun', async (arg) => {
      const run = await runArg(ctx, arg, (r) => r.status === 'stopped' || r.status === 'failed');
      if (!run || !requireTrust()) return;
      try {
        // Through the queue, as a new run (distill.maxConcurrentRuns): it may wait for a slot.
        await ctx.runs.resume(run.dir);
      } catch (err) {
        if (!(err instanceof DequeuedError))
          void vscode.window.showErrorMessage(`Cannot resume: ${(err as Error).message}`);
      }
    }),

    c('distill.openDashboard', async (arg) => {
      const run = await runArg(ctx, arg);
      if (run) ctx.dashboards.open([run.dir]);
    }),

    // From the Runs view: the clicked item and the selection; from its title bar or the palette: the view's selection.
    c('distill.compareRuns', async (arg, selection) => {
      const selected = runsOf(selection) ?? (arg instanceof RunItem ? [arg.run] : (ctx.runsTree?.selectedRuns() ?? []));
      if (selected.length >= 2) {
        ctx.dashboards.open(selected.map((r) => r.dir));
        return;
      }
      const picked = new Set(selected.map((r) => r.dir));
      const runs = ctx.allRuns().filter((r) => r.status !== 'failed' || picked.has(r.dir));
      const chosen = await vscode.window.showQuickPick(
        runs.map((r) => ({ label: r.id, description: r.status, picked: picked.has(r.dir), run: r })),
        {
          canPickMany: true,
          placeHolder: 'Runs to compare (two or more; select them in the Runs view with Ctrl/Cmd+click)',
        },
      );
      if (chosen && chosen.length > 0) ctx.dashboards.open(chosen.map((c) => c.run.dir));
    }),

    c('distill.revealRunFolder', async (arg) => {
      const run = await runArg(ctx, arg);
      if (run) await revealFolder(run.dir);
    }),

    c('distill.showRunHistory', () => ctx.history?.show()),

    c('distill.exportStudent', async (arg) => {
      const run = await runArg(ctx, arg, (r) => r.status === 'finished');
      if (!run || !requireTrust()) return;
      const format = await vscode.window.showQuickPick(['onnx', 'tfjs'], { placeHolder: 'Export format' });
      if (!format) return;
      // The run already holds artifacts/student.onnx: suggest a copy beside the user's files instead.
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? path.dirname(run.dir);
      const out = await vscode.window.showSaveDialog({
        defaultUri: vscode.Uri.file(
          path.join(folder, format === 'onnx' ? `${run.id}-student.onnx` : `${run.id}-student-tfjs`),
        ),
        saveLabel: 'Export',
      });
      if (!out) return;
      const r = await cancellable(`Exporting the student of ${run.id}`, (signal) =>
        runTrainer(ctx.trainer(), ['export', run.dir, '--format', format, '--out', out.fsPath], signal),
      );
      if (!r) {
        void vscode.window.showInformationMessage(
          `Export of ${run.id} cancelled; nothing was written to ${out.fsPath}.`,
        );
        return;
      }
      if (r.code === 0) void vscode.window.showInformationMessage(r.stdout.trim().split('\n').at(-1) ?? 'exported');
      else void vscode.window.showErrorMessage(`Export failed: ${r.stderr.trim()}`);
    }),

    c('distill.benchmarkRun', async (arg) => {
      const run = await runArg(ctx, arg, (r) => r.status === 'finished');
      if (!run || !requireTrust()) return;
      const channel = ctx.logChannel(run.dir);
      const r = await cancellable(`Timing teacher and student of ${run.id}`, (signal) =>
        runTrainer(ctx.trainer(), ['bench', run.dir], signal),
      );
      if (!r) {
        void vscode.window.showInformationMessage(`Benchmark of ${run.id} cancelled; bench.json was left as it was.`);
        return;
      }
      channel.append(r.stdout + r.stderr);
      channel.show(true);
      if (r.code === 0)
        void vscode.window.showInformationMessage(`Benchmark written to ${path.join(run.dir, 'bench.json')}`);
      else void vscode.window.showErrorMessage(`Benchmark failed: ${r.stderr.trim()}`);
    }),

    c('distill.deleteRun', async (arg) => {
      const run = await runArg(ctx, arg, (r) => r.status !== 'running' && r.status !== 'stopping');
      if (!run) return;
      if (run.status === 'running' || run.status === 'stopping') {
        void vscode.window.showWarningMessage('Stop the run before deleting it.');
        return;
      }
      const answer = await vscode.window.showWarningMessage(
        `Delete run ${run.id} and all its checkpoints and artifacts?`,
        { modal: true },
        'Delete',
      );
      if (answer !== 'Delete') return;
      fs.rmSync(run.dir, { recursive: true, force: true });
      ctx.refresh();
    }),

    c('distill.showLog', async (arg) => {
      const run = await runArg(ctx, arg);
      if (run) ctx.logChannel(run.dir).show(true);
    }),

    c('distill.checkBackends', async () => {
      if (requireTrust()) await checkBackends(ctx);
    }),

    c('distill.setUpNativeBackend', async () => {
      if (requireTrust()) await setUpNativeBackend(ctx);
    }),

    c('distill.refreshRuns', () => ctx.refresh()),
  ];
}
