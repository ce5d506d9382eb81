/** One factory per command, each small: the work is in core, the run manager and the trainer. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadConfigFile } from '../core/config/load.ts';
import { ConfigError } from '../core/config/problems.ts';
import type { Ctx } from './context.ts';
import { newProjectFlow } from './newProject.ts';
import { RunItem } from './runsTree.ts';
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

/** The run a command is about: a tree item, a run folder URI, or a pick. */
async function runArg(
  ctx: Ctx,
  arg: unknown,
  filter: (r: RunView) => boolean = () => true,
): Promise<RunView | undefined> {
  if (arg instanceof RunItem) return arg.run;
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

export function registerCommands(ctx: Ctx): vscode.Disposable[] {
  const c = (id: string, fn: (...args: unknown[]) => unknown) => vscode.commands.registerCommand(id, fn);
  return [
    c('distill.newProject', async () => {
      try {
        const file = await newProjectFlow();
        if (file) await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file));
      } catch (err) {
        void vscode.window.showErrorMessage(`New Distillation Project: ${(err as Error).message}`);
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
        void vscode.window.showErrorMessage(`Cannot start the run: ${(err as Error).message}`);
      }
    }),

    c('distill.stopRun', async (arg) => {
      if (!requireTrust()) return;
      const run = await runArg(ctx, arg, (r) => r.status === 'running');
      if (run) ctx.runs.stop(run.dir);
    }),

    c('distill.resumeRun', async (arg) => {
      const run = await runArg(ctx, arg, (r) => r.status === 'stopped' || r.status === 'failed');
      if (!run || !requireTrust()) return;
      try {
        ctx.runs.resume(run.dir);
      } catch (err) {
        void vscode.window.showErrorMessage(`Cannot resume: ${(err as Error).message}`);
      }
    }),

    c('distill.openDashboard', async (arg) => {
      const run = await runArg(ctx, arg);
      if (run) ctx.dashboards.open([run.dir]);
    }),

    c('distill.compareRuns', async () => {
      const runs = ctx
        .allRuns()
        .filter((r) => r.status === 'finished' || r.status === 'running' || r.status === 'stopped');
      const chosen = await vscode.window.showQuickPick(
        runs.map((r) => ({ label: r.id, description: r.status, run: r })),
        { canPickMany: true, placeHolder: 'Runs to compare (two or more)' },
      );
      if (chosen && chosen.length > 0) ctx.dashboards.open(chosen.map((c) => c.run.dir));
    }),

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
      const r = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Exporting the student of ${run.id}` },
        () => runTrainer(ctx.trainer(), ['export', run.dir, '--format', format, '--out', out.fsPath]),
      );
      if (r.code === 0) void vscode.window.showInformationMessage(r.stdout.trim().split('\n').at(-1) ?? 'exported');
      else void vscode.window.showErrorMessage(`Export failed: ${r.stderr.trim()}`);
    }),

    c('distill.benchmarkRun', async (arg) => {
      const run = await runArg(ctx, arg, (r) => r.status === 'finished');
      if (!run || !requireTrust()) return;
      const channel = ctx.logChannel(run.dir);
      const r = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Timing teacher and student of ${run.id}` },
        () => runTrainer(ctx.trainer(), ['bench', run.dir]),
      );
      channel.append(r.stdout + r.stderr);
      channel.show(true);
      if (r.code === 0)
        void vscode.window.showInformationMessage(`Benchmark written to ${path.join(run.dir, 'bench.json')}`);
      else void vscode.window.showErrorMessage(`Benchmark failed: ${r.stderr.trim()}`);
    }),

    c('distill.deleteRun', async (arg) => {
      const run = await runArg(ctx, arg, (r) => r.status !== 'running');
      if (!run) return;
      if (run.status === 'running') {
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
