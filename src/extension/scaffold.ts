/** What "New Distillation Project" writes: a config from the user's answers. Free of `vscode`. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DistillConfigInput } from '../core/config/schema.ts';
import { validateConfigText } from '../core/config/load.ts';
import { writeFileAtomic } from '../core/fsutil.ts';

export interface ScaffoldAnswers {
  name: string;
  data: { source: 'demo' } | { source: 'idx'; dir: string } | { source: 'csv'; train: string; label: string | number };
  teacher:
    | { source: 'demo' }
    | { source: 'tfjs'; path: string }
    | { source: 'onnx'; path: string }
    | { source: 'train'; preset: 'cnn' | 'mlp'; width: number };
  student: { preset: 'mlp' | 'cnn'; width: number };
  method: 'kd' | 'none';
  temperature: number;
  alpha: number;
  epochs: number;
}

/** Paths in the config are written relative to the config's folder, as a user would. */
function rel(folder: string, p: string): string {
  const r = path.relative(folder, p).split(path.sep).join('/');
  return r.startsWith('.') ? r : `./${r}`;
}

export function scaffoldConfig(folder: string, a: ScaffoldAnswers): DistillConfigInput {
  const data: DistillConfigInput['data'] =
    a.data.source === 'demo'
      ? { source: 'demo', trainLimit: 2000 }
      : a.data.source === 'idx'
        ? { source: 'idx', dir: rel(folder, a.data.dir) }
        : { source: 'csv', train: rel(folder, a.data.train), label: a.data.label };
  let teacher: DistillConfigInput['teacher'];
  if (a.teacher.source === 'demo') teacher = { source: 'demo' };
  else if (a.teacher.source === 'tfjs') teacher = { source: 'tfjs', path: rel(folder, a.teacher.path) };
  else if (a.teacher.source === 'onnx') teacher = { source: 'onnx', path: rel(folder, a.teacher.path) };
  else
    teacher = {
      source: 'train',
      architecture:
        a.teacher.preset === 'cnn'
          ? { type: 'cnn', channels: [a.teacher.width, a.teacher.width * 2], dense: [128] }
          : { type: 'mlp', hidden: [a.teacher.width, a.teacher.width] },
    };
  const student = {
    architecture:
      a.student.preset === 'cnn'
        ? { type: 'cnn' as const, channels: [a.student.width], dense: [] }
        : { type: 'mlp' as const, hidden: [a.student.width] },
  };
  // No $schema: the extension binds *.distill.json to its schema (contributes.jsonValidation).
  return {
    name: a.name,
    data,
    teacher,
    student,
    distill: a.method === 'kd' ? { method: 'kd', temperature: a.temperature, alpha: a.alpha } : { method: 'none' },
    train: { epochs: a.epochs, optimizer: { type: 'adam', learningRate: 0.001 }, seed: 0 },
    baseline: true,
    output: { dir: '.distill/runs' },
  };
}

export class ScaffoldError extends Error {
  override name = 'ScaffoldError';
}

/** Writes `<folder>/<name>.distill.json`; refuses to overwrite; returns the file. */
export function writeScaffold(folder: string, a: ScaffoldAnswers): string {
  const file = path.join(folder, `${a.name}.distill.json`);
  if (fs.existsSync(file)) throw new ScaffoldError(`${file} already exists`);
  const text = `${JSON.stringify(scaffoldConfig(folder, a), null, 2)}\n`;
  // The same validator the trainer uses: never write a config the trainer would refuse.
  const { problems } = validateConfigText(text, file);
  if (problems.length) throw new ScaffoldError(problems.map((p) => p.message).join('; '));
  writeFileAtomic(file, text);
  return file;
}
