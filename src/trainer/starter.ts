/** The config `distill init` writes: the embedded demo, documented through the schema's descriptions. */
import * as path from 'node:path';
import { schemaPath } from '../core/paths.ts';
import type { DistillConfigInput } from '../core/config/schema.ts';

export function starterConfig(targetFile: string): DistillConfigInput {
  const rel = path
    .relative(path.dirname(path.resolve(targetFile)), schemaPath())
    .split(path.sep)
    .join('/');
  return {
    $schema: rel.startsWith('.') ? rel : `./${rel}`,
    name:
      path
        .basename(targetFile)
        .replace(/\.distill\.json$/, '')
        .replace(/[^A-Za-z0-9._-]/g, '-')
        .replace(/^[^A-Za-z0-9]+/, '') || 'run',
    data: { source: 'demo', trainLimit: 2000, batchSize: 128 },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp', hidden: [64] } },
    distill: { method: 'kd', temperature: 2, alpha: 0.1 },
    train: { epochs: 60, optimizer: { type: 'adam', learningRate: 0.001 }, seed: 0 },
    baseline: true,
    output: { dir: '.distill/runs' },
  };
}
