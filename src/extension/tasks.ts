/**
 * The `distill` task type: Validate, Export and Benchmark as VS Code tasks (Terminal > Run Task,
 * tasks.json, dependsOn), each the trainer run by ProcessExecution with an argument array.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from './context.ts';
import { TASK_TYPE, TaskDefinitionError, taskArgs, taskName, type DistillTaskDefinition } from './taskArgs.ts';

const t = vscode.l10n.t;

export class DistillTaskProvider implements vscode.TaskProvider {
  constructor(private readonly ctx: Ctx) {}

  /** Validate for every config, Export and Benchmark for the newest finished run of each. */
  async provideTasks(): Promise<vscode.Task[]> {
    const tasks: vscode.Task[] = [];
    const configs = await vscode.workspace.findFiles('**/*.distill.json', '**/node_modules/**', 200);
    for (const uri of configs) {
      const folder = vscode.workspace.getWorkspaceFolder(uri);
      if (!folder) continue;
      const rel = path.relative(folder.uri.fsPath, uri.fsPath).split(path.sep).join('/');
      tasks.push(this.task({ type: TASK_TYPE, command: 'validate', config: rel }, folder));
    }
    const newest = new Map<string, { dir: string; startedAt: string }>();
    for (const r of this.ctx.allRuns()) {
      if (r.status !== 'finished') continue;
      const key = r.configFile ?? r.dir;
      const seen = newest.get(key);
      if (!seen || (r.startedAt ?? '') > seen.startedAt) newest.set(key, { dir: r.dir, startedAt: r.startedAt ?? '' });
    }
    for (const { dir } of newest.values()) {
      const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(dir));
      if (!folder) continue;
      const rel = path.relative(folder.uri.fsPath, dir).split(path.sep).join('/');
      tasks.push(
        this.task({ type: TASK_TYPE, command: 'export', run: rel, format: 'onnx' }, folder),
        this.task({ type: TASK_TYPE, command: 'bench', run: rel }, folder),
      );
    }
    return tasks;
  }

  /** A task written in tasks.json: its definition gets its execution here. */
  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const def = task.definition as DistillTaskDefinition;
    const folder = typeof task.scope === 'object' ? task.scope : (vscode.workspace.workspaceFolders?.[0] ?? undefined);
    if (!folder) return undefined;
    return this.task(def, folder, task);
  }

  private task(def: DistillTaskDefinition, folder: vscode.WorkspaceFolder, from?: vscode.Task): vscode.Task {
    const trainer = this.ctx.trainer();
    let execution: vscode.ProcessExecution | vscode.CustomExecution;
    try {
      execution = new vscode.ProcessExecution(
        trainer.nodePath,
        [trainer.trainerPath, ...taskArgs(def, folder.uri.fsPath)],
        {
          cwd: folder.uri.fsPath,
          env: { TF_CPP_MIN_LOG_LEVEL: '3', ...(trainer.env as Record<string, string>), ELECTRON_RUN_AS_NODE: '1' },
        },
      );
    } catch (err) {
      if (!(err instanceof TaskDefinitionError)) throw err;
      // The message goes to the task's terminal, naming the tasks.json field; nothing runs.
      const message = t('distill task "{0}": {1}', from?.name ?? taskName(def), err.message);
      execution = new vscode.CustomExecution(async () => failedTerminal(message));
    }
    const task = new vscode.Task(
      def,
      folder,
      from?.name ?? taskName(def),
      'distill',
      execution,
      def.command === 'validate' ? ['$distill'] : [],
    );
    task.detail =
      def.command === 'validate'
        ? t('Check the config, its data and its teacher without training')
        : def.command === 'export'
          ? t('Export a model of the run')
          : t('Time teacher and student (onnxruntime CPU and the tfjs backend)');
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, clear: true };
    return task;
  }
}

/** A task terminal that prints one problem and exits with code 2, as the CLI does for bad input. */
function failedTerminal(message: string): vscode.Pseudoterminal {
  const write = new vscode.EventEmitter<string>();
  const close = new vscode.EventEmitter<number>();
  return {
    onDidWrite: write.event,
    onDidClose: close.event,
    open: () => {
      write.fire(`${message}\r\n`);
      close.fire(2);
    },
    close: () => undefined,
  };
}

export function registerTasks(ctx: Ctx): vscode.Disposable {
  return vscode.tasks.registerTaskProvider(TASK_TYPE, new DistillTaskProvider(ctx));
}
