/** One-shot trainer commands (validate --json, export, bench) run as child processes. Free of `vscode`. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { ConfigProblem } from '../core/config/problems.ts';

export interface TrainerCommand {
  trainerPath: string;
  nodePath: string;
  /** Added to the trainer's environment (the extension passes DISTILL_NATIVE_DIR). */
  env?: NodeJS.ProcessEnv;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `distill <args>` with an argument array (never a shell) and collects its output. */
export function runTrainer(t: TrainerCommand, args: string[], signal?: AbortSignal): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(t.nodePath, [t.trainerPath, ...args], {
      cwd: path.dirname(t.trainerPath),
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', ...t.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true, // no console window on Windows
      signal,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Semantic validation by the trainer itself (data shapes, teacher fit): the problems, located. */
export async function semanticProblems(
  t: TrainerCommand,
  configFile: string,
  signal?: AbortSignal,
): Promise<ConfigProblem[]> {
  const r = await runTrainer(t, ['validate', configFile, '--json'], signal);
  if (r.code !== 0) throw new Error(r.stderr.trim() || `the trainer exited with code ${r.code}`);
  const line = r.stdout.trim().split('\n').at(-1) ?? '{}';
  return (JSON.parse(line) as { problems: ConfigProblem[] }).problems;
}
