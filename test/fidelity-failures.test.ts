/**
 * One classification of failures (src/core/failure.ts) for the run's record and the CLI: a
 * damaged checkpoint, an incompatible one, or an ONNX teacher whose outputs change shape after it
 * was opened is the user's to fix: run_failed kind `user`, exit 2, one line, no stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { parseEvents } from '../src/protocol/events.ts';
import { runCli, runFolders, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

const quick = (overrides: Record<string, unknown> = {}) =>
  smallConfig({
    backend: 'wasm',
    baseline: false,
    bench: { enabled: false },
    export: { onnx: false },
    data: { source: 'demo', trainLimit: 129, batchSize: 64 },
    train: { epochs: 2 },
    ...overrides,
  });

/** The failure as the run recorded it and as the CLI reported it. */
function assertUserFailure(r: { code: number; stdout: string; stderr: string }, run: string, message: RegExp): void {
  assert.equal(r.code, 2, r.stdout + r.stderr);
  // Dawn (onnxruntime's webgpu provider, when it is tried) prints its own "Warning: ..." lines.
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('Warning: '));
  assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
  assert.match(lines[0], message);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  const failed = parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8')).at(-1)!;
  assert.ok(failed.type === 'run_failed' && failed.kind === 'user', JSON.stringify(failed));
  assert.equal(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status, 'failed');
}

let finished: string;

test('a finished run (the one the checkpoints below are damaged in)', () => {
  const dir = tempDir('damaged');
  const r = runCli(['train', writeConfig(dir, 'base', quick())], dir);
  assert.equal(r.code, 0, r.stderr);
  finished = runFolders(dir)[0];
});

/** A copy of the finished run with `damage` done to its distill checkpoints. */
function damagedCopy(name: string, damage: (ckpts: string) => void): string {
  const run = path.join(tempDir(name), path.basename(finished));
  fs.cpSync(finished, run, { recursive: true });
  damage(path.join(run, 'checkpoints', 'distill'));
  return run;
}

const truncate = (file: string, bytes: number) => fs.writeFileSync(file, fs.readFileSync(file).subarray(0, bytes));

test('--resume with a truncated state.json: exit 2, one line naming the file, recorded as a user error', () => {
  const run = damagedCopy('state', (c) => truncate(path.join(c, 'final', 'state.json'), 50));
  assertUserFailure(
    runCli(['train', '--resume', run]),
    run,
    /checkpoints\/distill\/final\/state\.json: is not valid JSON; the checkpoint is damaged/,
  );
});

test('--resume with truncated weights: exit 2, recorded as a user error (was: internal)', () => {
  const run = damagedCopy('weights', (c) => truncate(path.join(c, 'final', 'model', 'weights.bin'), 100));
  assertUserFailure(
    runCli(['train', '--resume', run]),
    run,
    /final\/model\/model\.json: its weights files hold 100 bytes but the manifest describes \d+/,
  );
});

test('--resume from a mid-phase checkpoint with a truncated optimizer state: exit 2, one line', () => {
  const run = damagedCopy('optimizer', (c) => {
    fs.rmSync(path.join(c, 'final'), { recursive: true });
    truncate(path.join(c, 'epoch-0001', 'optimizer.bin'), 100);
  });
  assertUserFailure(
    runCli(['train', '--resume', run]),
    run,
    /epoch-0001\/optimizer\.bin: 100 bytes hold no complete header; the checkpoint is damaged|epoch-0001\/optimizer\.bin: .*the checkpoint is damaged/,
  );
});

test('--resume of a checkpoint of another version: exit 2, one line, no stack', () => {
  const run = damagedCopy('version', (c) => {
    const state = path.join(c, 'final', 'state.json');
    fs.writeFileSync(state, JSON.stringify({ ...JSON.parse(fs.readFileSync(state, 'utf8')), version: 1 }));
  });
  assertUserFailure(
    runCli(['train', '--resume', run]),
    run,
    /checkpoint version 1, but this Distill Studio resumes version 2 only/,
  );
});

/**
 * An ONNX teacher whose logits are [1, 10] whatever the batch (a mean over the batch axis): it
 * passes the one-example check when it is opened, and fails on the first real batch, mid-run.
 */
function batchMeanTeacher(dir: string): string {
  const vi = (name: string, dims: Array<number | string>): onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: 1,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
  const weights = Float32Array.from({ length: 784 * 10 }, (_, i) => Math.sin(i) * 0.01);
  const file = path.join(dir, 'batch-mean.onnx');
  fs.writeFileSync(
    file,
    onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'batch_mean',
        initializer: [{ name: 'w', dims: [784, 10], dataType: 1, rawData: new Uint8Array(weights.buffer) }],
        node: [
          { opType: 'MatMul', input: ['x', 'w'], output: ['z'], name: 'matmul' },
          {
            opType: 'ReduceMean',
            input: ['z'],
            output: ['logits'],
            name: 'mean',
            attribute: [
              { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [0] },
              { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
            ],
          },
        ],
        input: [vi('x', ['N', 784])],
        output: [vi('logits', [1, 10])],
      },
    }).finish(),
  );
  return file;
}

test('an ONNX teacher whose logits change shape after it was opened: exit 2, recorded as a user error (was: internal)', () => {
  const dir = tempDir('onnx-shape');
  const teacher = batchMeanTeacher(dir);
  const r = runCli(
    [
      'train',
      writeConfig(dir, 'onnx', quick({ teacher: { source: 'onnx', path: teacher }, cache: { teacherOutputs: false } })),
    ],
    dir,
  );
  const [run] = runFolders(dir);
  assert.ok(run, `the failure comes after the run folder exists:\n${r.stderr}`);
  assertUserFailure(
    r,
    run,
    /batch-mean\.onnx: logits output "logits" has shape \[1, 10\] for a batch of \d+; expected \[\d+, 10\]/,
  );
});
