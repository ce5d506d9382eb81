import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { taskArgs, TaskDefinitionError, TASK_COMMANDS, type DistillTaskDefinition } from '../src/extension/taskArgs.ts';
import { runTrainer } from '../src/extension/trainerCli.ts';
import { cliPath, root, runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

const trainer = { trainerPath: cliPath, nodePath: process.execPath };
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

test('the contributed task type is the one the provider maps', () => {
  const [def] = manifest.contributes.taskDefinitions;
  assert.equal(def.type, 'distill');
  assert.deepEqual(def.properties.command.enum, [...TASK_COMMANDS]);
  for (const key of ['config', 'run', 'format', 'model', 'out', 'batchSizes', 'threads', 'seconds'])
    assert.ok(def.properties[key], key);
  assert.ok(manifest.contributes.problemMatchers.some((m: { name: string }) => m.name === 'distill'));
});

test('validate, export and bench tasks run the real trainer with their argument arrays', async () => {
  const dir = tempDir('tasks');
  const config = writeConfig(
    dir,
    'tiny',
    smallConfig({
      data: { source: 'demo', trainLimit: 200, batchSize: 64 },
      train: { epochs: 1 },
      bench: { enabled: false },
      export: { onnx: false },
    }),
  );
  const validate = await runTrainer(
    trainer,
    taskArgs({ type: 'distill', command: 'validate', config: path.basename(config) }, dir),
  );
  assert.equal(validate.code, 0, validate.stderr);
  assert.match(validate.stdout, /valid/);
  assert.equal(runCli(['train', config], dir).code, 0);
  const [run] = runFolders(dir);
  const rel = path.relative(dir, run);
  const exported = await runTrainer(
    trainer,
    taskArgs({ type: 'distill', command: 'export', run: rel, format: 'onnx', out: 'student.onnx' }, dir),
  );
  assert.equal(exported.code, 0, exported.stderr);
  assert.ok(fs.statSync(path.join(dir, 'student.onnx')).size > 1000);
  const bench = await runTrainer(
    trainer,
    taskArgs({ type: 'distill', command: 'bench', run: rel, batchSizes: [1], seconds: 0.05, threads: 1 }, dir),
  );
  assert.equal(bench.code, 0, bench.stderr);
  assert.ok(fs.existsSync(path.join(run, 'bench.json')));
});

test('a task definition the trainer cannot take: one message naming the tasks.json field', () => {
  const bad = (def: Partial<DistillTaskDefinition>, field: RegExp) =>
    assert.throws(
      () => taskArgs({ type: 'distill', ...def } as DistillTaskDefinition, '/w'),
      (e: unknown) => e instanceof TaskDefinitionError && field.test(e.message),
    );
  bad({ command: 'validate' }, /^"config" is required for "command": "validate"/);
  bad({ command: 'export' }, /^"run" is required/);
  bad({ command: 'export', run: 'r', format: 'pt' as never }, /^"format" is "pt"; expected one of onnx, tfjs/);
  bad({ command: 'bench', run: 'r', batchSizes: [0] }, /^"batchSizes" is \[0\]; expected positive integers/);
  bad({ command: 'train' as never }, /^"command" is "train"; expected one of validate, export, bench/);
  assert.deepEqual(taskArgs({ type: 'distill', command: 'validate', config: '/abs/a.distill.json' }, '/w'), [
    'validate',
    '/abs/a.distill.json',
  ]);
});
