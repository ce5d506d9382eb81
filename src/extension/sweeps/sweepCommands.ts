/**
 * The sweep commands: Run Sweep (a `*.sweep.json`, or a config with `seeds` or `sweep`), Submit
 * Sweep to Slurm (where `sbatch` is on the PATH), Stop and Resume Sweep (the group's menu), Open
 * Sweep View. Each goes through the trainer CLI, spawned with an argument array, and none runs
 * in an untrusted workspace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import * as vscode from 'vscode';
import type { Ctx } from '../context.ts';
import { MultiStepInput } from '../multiStepInput.ts';
import { PendingTaskItem, SweepItem, SweepTaskItem } from '../runsTree.ts';
import {
  checkMaxParallel,
  checkPartition,
  checkSlurmTime,
  onPath,
  plannedFolderIn,
  type SlurmOptions,
} from './sweepRunner.ts';
import { isSweepLive, PLAN_FILE, unfinishedTasks, type SweepView } from './sweepStore.ts';

/** The context key the Submit Sweep to Slurm menus read. */
export const SBATCH_CONTEXT = 'distill.sbatchOnPath';

/** A file Run Sweep takes: a `*.sweep.json`, or a `*.distill.json` with `seeds` or `sweep` at its top level. */
export function isSweepSource(file: string, text?: string): boolean {
  if (file.endsWith('.sweep.json')) return true;
  if (!file.endsWith('.distill.json')) return false;
  try {
    const value = parseJsonc(text ?? fs.readFileSync(file, 'utf8')) as Record<string, unknown> | undefined;
    return !!value && typeof value === 'object' && ('seeds' in value || 'sweep' in value);
  } catch {
    return false;
  }
}

function requireTrust(): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window
    .showWarningMessage(
      'Running a sweep is disabled: Distill Studio runs the trainer and reads data and model files only in a trusted workspace.',
      'Manage Workspace Trust',
    )
    .then((a) => {
      if (a) void vscode.commands.executeCommand('workbench.trust.manage');
    });
  return false;
}

/** The sweep file or config a command is about: its argument, the active editor, or a pick among the workspace's. */
async function sweepSourceArg(arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri && isSweepSource(arg.fsPath)) return arg;
  const active = vscode.window.activeTextEditor?.document;
  if (active?.uri.scheme === 'file' && isSweepSource(active.uri.fsPath, active.getText())) return active.uri;
  const found = [
    ...(await vscode.workspace.findFiles('**/*.sweep.json', '**/node_modules/**', 50)),
    ...(await vscode.workspace.findFiles('**/*.distill.json', '**/node_modules/**', 50)).filter((u) =>
      isSweepSource(u.fsPath),
    ),
  ];
  if (found.length === 0) {
    void vscode.window.showInformationMessage(
      'No sweep here: a *.sweep.json, or a *.distill.json with "seeds" or "sweep", defines one.',
    );
    return undefined;
  }
  if (found.length === 1) return found[0];
  const chosen = await vscode.window.showQuickPick(
    found.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })),
    { placeHolder: 'Which sweep?' },
  );
  return chosen?.uri;
}

/** The sweep a command is about: a group or task row, a sweep folder URI, or a pick. */
async function sweepArg(ctx: Ctx, arg: unknown, filter: (v: SweepView) => boolean = () => true) {
  const dir =
    arg instanceof SweepItem
      ? arg.sweep.dir
      : arg instanceof SweepTaskItem || arg instanceof PendingTaskItem
        ? arg.sweepDir
        : arg instanceof vscode.Uri && fs.existsSync(path.join(arg.fsPath, PLAN_FILE))
          ? arg.fsPath
          : undefined;
  if (dir) {
    await ctx.sweeps.refresh();
    const view = ctx.sweeps.viewOf(dir);
    if (!view) void vscode.window.showErrorMessage(`${dir} holds no readable sweep.json.`);
    return view;
  }
  const views = ctx.sweeps.views.filter(filter);
  if (views.length === 0) {
    void vscode.window.showInformationMessage('No matching sweeps.');
    return undefined;
  }
  if (views.length === 1) return views[0];
  const chosen = await vscode.window.showQuickPick(
    views.map((v) => ({ label: v.plan.name, description: v.id, view: v })),
    { placeHolder: 'Which sweep?' },
  );
  return chosen?.view;
}

/** Asks partition, time limit and tasks at once (Back returns to the previous question); undefined on Escape. */
async function askSlurmOptions(): Promise<SlurmOptions | undefined> {
  const title = 'Submit Sweep to Slurm';
  const answers = { partition: '', time: '', maxParallel: '' };
  const finished = await MultiStepInput.run(async function partition(input) {
    answers.partition = await input.text({
      title,
      step: 1,
      totalSteps: 3,
      value: answers.partition,
      prompt: 'Partition (sbatch --partition); empty: the cluster default. `sinfo` lists them.',
      validate: checkPartition,
    });
    return async function time(input) {
      answers.time = await input.text({
        title,
        step: 2,
        totalSteps: 3,
        value: answers.time,
        prompt: 'Time limit per task (sbatch --time), e.g. 30, 2:00:00 or 1-00:00:00; empty: the partition default.',
        validate: checkSlurmTime,
      });
      return async function maxParallel(input) {
        answers.maxParallel = await input.text({
          title,
          step: 3,
          totalSteps: 3,
          value: answers.maxParallel,
          prompt: 'Tasks at once (--array=0-N%K); empty: as many as the cluster gives.',
          validate: checkMaxParallel,
        });
      };
    };
  });
  if (!finished) return undefined;
  return {
    ...(answers.partition ? { partition: answers.partition } : {}),
    ...(answers.time ? { time: answers.time } : {}),
    ...(answers.maxParallel ? { maxParallel: Number(answers.maxParallel) } : {}),
  };
}

/** Plans a sweep file into its folder under a progress notification; undefined (said so) when the trainer refuses it. */
async function planSweep(ctx: Ctx, uri: vscode.Uri): Promise<string | undefined> {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === uri.fsPath);
  if (doc?.isDirty) await doc.save();
  try {
    const dir = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Planning ${path.basename(uri.fsPath)}` },
      () => ctx.sweepRunner.plan(uri.fsPath),
    );
    ctx.rememberRunsDir(path.dirname(dir));
    return dir;
  } catch (err) {
    void vscode.window.showErrorMessage(`Cannot plan ${path.basename(uri.fsPath)}: ${(err as Error).message}`);
    return undefined;
  }
}

export function registerSweepCommands(ctx: Ctx): vscode.Disposable[] {
  const c = (id: string, fn: (...args: unknown[]) => unknown) => vscode.commands.registerCommand(id, fn);
  void vscode.commands.executeCommand('setContext', SBATCH_CONTEXT, onPath('sbatch'));
  return [
    c('distill.runSweep', async (arg) => {
      const uri = await sweepSourceArg(arg);
      if (!uri || !requireTrust()) return;
      const dir = await planSweep(ctx, uri);
      if (!dir) return;
      try {
        ctx.sweepRunner.run(dir);
      } catch (err) {
        void vscode.window.showErrorMessage(`Cannot run the sweep: ${(err as Error).message}`);
        return;
      }
      ctx.refresh();
      const view = ctx.sweeps.viewOf(dir);
      void vscode.window
        .showInformationMessage(
          `Sweep ${path.basename(dir)} started${view ? ` (${view.plan.tasks.length} tasks)` : ''}: the Runs view lists its tasks.`,
          'Open Sweep View',
        )
        .then((a) => {
          if (a) ctx.sweepPanels.open(dir);
        });
    }),

    c('distill.submitSweep', async (arg) => {
      if (!requireTrust()) return;
      if (!onPath('sbatch')) {
        void vscode.window.showErrorMessage(
          'Submit Sweep to Slurm needs sbatch on the PATH (on a Slurm login node, e.g. through Remote-SSH).',
        );
        return;
      }
      // A sweep of the Runs view (its unfinished tasks), or a file: the trainer plans it and
      // submits in one go, and removes the folder it planned when Slurm refuses the script.
      let target: string | undefined;
      if (arg instanceof SweepItem || arg instanceof SweepTaskItem || arg instanceof PendingTaskItem)
        target = (await sweepArg(ctx, arg))?.dir;
      else {
        const uri = await sweepSourceArg(arg);
        const doc = uri && vscode.workspace.textDocuments.find((d) => d.uri.fsPath === uri.fsPath);
        if (doc?.isDirty) await doc.save();
        target = uri?.fsPath;
      }
      if (!target) return;
      const options = await askSlurmOptions();
      if (options) await submit(ctx, target, options);
    }),

    c('distill.stopSweep', async (arg) => {
      if (!requireTrust()) return;
      const view = await sweepArg(ctx, arg, isSweepLive);
      if (!view) return;
      const asked = ctx.sweepRunner.stop(view);
      void vscode.window.showInformationMessage(
        asked > 0
          ? `Stopping sweep ${view.plan.name}: ${asked} running task${asked > 1 ? 's' : ''} write a checkpoint and stop, and no further task starts. Resume Sweep continues it.`
          : `Sweep ${view.plan.name}: no task is running; no further task starts.`,
      );
      ctx.refresh();
    }),

    c('distill.resumeSweep', async (arg) => {
      if (!requireTrust()) return;
      const view = await sweepArg(ctx, arg, (v) => !isSweepLive(v) && unfinishedTasks(v).length > 0);
      if (!view) return;
      if (unfinishedTasks(view).length === 0) {
        void vscode.window.showInformationMessage(`Every task of ${view.plan.name} has finished.`);
        return;
      }
      if (isSweepLive(view) || ctx.sweepRunner.runningDirs.includes(view.dir)) {
        void vscode.window.showInformationMessage(`Sweep ${view.plan.name} is running.`);
        return;
      }
      try {
        ctx.sweepRunner.run(view.dir);
      } catch (err) {
        void vscode.window.showErrorMessage(`Cannot resume the sweep: ${(err as Error).message}`);
      }
      ctx.refresh();
    }),

    c('distill.openSweepView', async (arg) => {
      const view = await sweepArg(ctx, arg);
      if (view) ctx.sweepPanels.open(view.dir);
    }),
  ];
}

async function submit(ctx: Ctx, target: string, options: SlurmOptions): Promise<void> {
  const r = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Submitting ${path.basename(target)} to Slurm` },
    () => ctx.sweepRunner.submit(target, options),
  );
  const planned = plannedFolderIn(r.stdout);
  if (planned) ctx.rememberRunsDir(path.dirname(planned));
  ctx.refresh();
  // The submission line (`submitted job array 12 (tasks 0-3%2) with ...`), or why nothing was.
  const said = r.stdout
    .trim()
    .split('\n')
    .find((l) => /^(submitted|nothing to submit)/.test(l));
  if (r.code === 0)
    void vscode.window.showInformationMessage(said ? `Slurm: ${said}` : `Submitted ${path.basename(target)} to Slurm.`);
  else
    void vscode.window.showErrorMessage(
      `Slurm submission failed: ${r.stderr
        .trim()
        .split('\n')
        .map((l) => l.replace(/^distill: /, ''))
        .join(' ')}`,
    );
}
