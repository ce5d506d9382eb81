// The editor's semantic validation of configs (trainer `validate --json` in a child process):
// debounced, the stale child killed, results that arrive late dropped, failures reported; and the
// extension's activation events. The real trainer, through the extension's own trainerCli.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ValidationQueue } from '../src/extension/validationQueue.ts';
import { semanticProblems } from '../src/extension/trainerCli.ts';
import type { ConfigProblem } from '../src/core/config/problems.ts';
import { cliPath, root, tempDir, writeConfig, smallConfig } from './helpers/cli.ts';

const trainer = { trainerPath: cliPath, nodePath: process.execPath, env: { TF_CPP_MIN_LOG_LEVEL: '3' } };

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

test('requests in a row run the trainer once; a newer request kills the child under way', async () => {
  const dir = tempDir('vq');
  const file = writeConfig(dir, 'vq', smallConfig({ backend: 'wasm' }));
  const started: AbortSignal[] = [];
  const outcomes: Array<'resolved' | 'aborted' | 'failed'> = [];
  const results: Array<[string, ConfigProblem[]]> = [];
  const failures: unknown[] = [];
  const done = deferred<void>();
  const q = new ValidationQueue<ConfigProblem[]>(
    {
      run: async (f, signal) => {
        started.push(signal);
        try {
          const r = await semanticProblems(trainer, f, signal);
          outcomes.push('resolved');
          return r;
        } catch (err) {
          outcomes.push((err as Error).name === 'AbortError' ? 'aborted' : 'failed');
          throw err;
        }
      },
      result: (f, r) => {
        results.push([f, r]);
        done.resolve();
      },
      failed: (_f, err) => failures.push(err),
    },
    50,
  );
  // An open and two saves at once: one validation.
  q.request(file);
  q.request(file);
  q.request(file);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(started.length, 1);
  // A save while it runs: the running child is aborted (killed) and a new one starts.
  q.request(file);
  assert.equal(started[0].aborted, true);
  await done.promise;
  assert.equal(started.length, 2);
  assert.deepEqual(outcomes, ['aborted', 'resolved'], 'the first child was killed, not waited for');
  assert.deepEqual(results, [[file, []]], 'one result: the newest');
  assert.deepEqual(failures, []);
  q.dispose();
});

test('a result that arrives after a newer request is dropped; a failure is reported, not swallowed', async () => {
  const runs: Array<ReturnType<typeof deferred<string>>> = [];
  const results: string[] = [];
  const failures: string[] = [];
  const q = new ValidationQueue<string>(
    {
      // Ignores its signal, as a child that takes a while to die would: its result must still be dropped.
      run: () => {
        const d = deferred<string>();
        runs.push(d);
        return d.promise;
      },
      result: (_f, r) => results.push(r),
      failed: (_f, err) => failures.push((err as Error).message),
    },
    1,
  );
  q.request('/a.distill.json');
  await new Promise((r) => setTimeout(r, 20));
  q.request('/a.distill.json');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(runs.length, 2);
  runs[1].resolve('new');
  runs[0].resolve('old'); // out of order
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(results, ['new']);

  // The trainer failing (here: a config file it cannot read) reaches the failure handler with its message.
  const real = new ValidationQueue<ConfigProblem[]>(
    {
      run: (f, signal) => semanticProblems({ ...trainer, nodePath: path.join(root, 'no-such-node') }, f, signal),
      result: () => failures.push('unexpected result'),
      failed: (_f, err) => failures.push((err as Error).message),
    },
    1,
  );
  real.request('/nowhere.distill.json');
  for (let i = 0; i < 100 && failures.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(failures[0], /ENOENT/);
  // A closed file: a validation under way is cancelled and its result never arrives.
  q.request('/b.distill.json');
  await new Promise((r) => setTimeout(r, 20));
  q.cancel('/b.distill.json');
  runs.at(-1)!.resolve('closed');
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(results, ['new']);
});

test('activation: a workspace with a *.distill.json, the dashboard webview; not every JSON file', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { activationEvents: string[] };
  assert.ok(!pkg.activationEvents.some((e) => e.startsWith('onLanguage:')), pkg.activationEvents.join(', '));
  assert.ok(pkg.activationEvents.includes('workspaceContains:**/*.distill.json'));
  assert.ok(pkg.activationEvents.includes('onWebviewPanel:distill.dashboard'));
});
