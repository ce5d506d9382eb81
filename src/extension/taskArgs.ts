/**
 * The `distill` task type (tasks.json): a definition becomes the trainer's argument array, never a
 * shell string. Free of `vscode` so that the mapping is tested with the real trainer.
 */
import * as path from 'node:path';

export const TASK_TYPE = 'distill';
export const TASK_COMMANDS = ['validate', 'export', 'bench'] as const;
export type TaskCommand = (typeof TASK_COMMANDS)[number];

/** What a tasks.json entry of `"type": "distill"` holds (contributes.taskDefinitions). */
export interface DistillTaskDefinition {
  type: typeof TASK_TYPE;
  command: TaskCommand;
  /** validate: the *.distill.json. */
  config?: string;
  /** export, bench: the run folder. */
  run?: string;
  format?: 'onnx' | 'tfjs';
  model?: 'student' | 'teacher' | 'scratch';
  out?: string;
  batchSizes?: number[];
  threads?: number;
  seconds?: number;
}

/** A definition the trainer cannot take: the field (as in tasks.json) and what was expected. */
export class TaskDefinitionError extends Error {
  override name = 'TaskDefinitionError';
}

function need(def: DistillTaskDefinition, key: 'config' | 'run'): string {
  const v = def[key];
  if (typeof v !== 'string' || v.trim() === '')
    throw new TaskDefinitionError(
      `"${key}" is required for "command": "${def.command}"; expected ${key === 'config' ? 'the path of a *.distill.json' : 'the path of a run folder'}`,
    );
  return v;
}

function oneOf<T extends string>(def: DistillTaskDefinition, key: keyof DistillTaskDefinition, values: readonly T[]) {
  const v = def[key];
  if (v !== undefined && !values.includes(v as T))
    throw new TaskDefinitionError(`"${key}" is ${JSON.stringify(v)}; expected one of ${values.join(', ')}`);
  return v as T | undefined;
}

/** The trainer's arguments; relative paths resolve from `folder` (the task's workspace folder). */
export function taskArgs(def: DistillTaskDefinition, folder: string): string[] {
  const abs = (p: string) => path.resolve(folder, p);
  switch (def.command) {
    case 'validate':
      return ['validate', abs(need(def, 'config'))];
    case 'export': {
      const format = oneOf(def, 'format', ['onnx', 'tfjs'] as const) ?? 'onnx';
      const model = oneOf(def, 'model', ['student', 'teacher', 'scratch'] as const);
      return [
        'export',
        abs(need(def, 'run')),
        '--format',
        format,
        ...(model ? ['--model', model] : []),
        ...(def.out ? ['--out', abs(def.out)] : []),
      ];
    }
    case 'bench': {
      const sizes = def.batchSizes;
      if (sizes !== undefined && (!Array.isArray(sizes) || sizes.some((n) => !Number.isInteger(n) || n <= 0)))
        throw new TaskDefinitionError(`"batchSizes" is ${JSON.stringify(sizes)}; expected positive integers`);
      return [
        'bench',
        abs(need(def, 'run')),
        ...(sizes?.length ? ['--batch', sizes.join(',')] : []),
        ...(def.threads !== undefined ? ['--threads', String(def.threads)] : []),
        ...(def.seconds !== undefined ? ['--seconds', String(def.seconds)] : []),
      ];
    }
    default:
      throw new TaskDefinitionError(
        `"command" is ${JSON.stringify((def as { command: unknown }).command)}; expected one of ${TASK_COMMANDS.join(', ')}`,
      );
  }
}

/** A short name for the task list: `validate kd.distill.json`, `export <run id> (onnx)`. */
export function taskName(def: DistillTaskDefinition): string {
  const base = (p?: string) => (p ? path.basename(p) : '');
  if (def.command === 'validate') return `validate ${base(def.config)}`;
  if (def.command === 'export') return `export ${base(def.run)} (${def.format ?? 'onnx'})`;
  return `bench ${base(def.run)}`;
}
