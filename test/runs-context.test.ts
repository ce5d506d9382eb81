// The context keys the Runs view sets: the palette and the item menus offer Stop, Resume, Export,
// Benchmark and Compare only where some run fits, and every key package.json reads is one it sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runsContext } from '../src/extension/runsContext.ts';
import type { RunView } from '../src/extension/runs/runStore.ts';
import { root } from './helpers/cli.ts';

const run = (id: string, status: string): RunView =>
  ({ dir: `/runs/${id}`, id, name: id, status, interrupted: false }) as RunView;

test('no runs: nothing to stop, resume, export, benchmark or compare', () => {
  assert.deepEqual(runsContext([], 0), {
    'distill.hasRuns': false,
    'distill.hasRunningRuns': false,
    'distill.hasQueuedRuns': false,
    'distill.hasStoppableRuns': false,
    'distill.hasResumableRuns': false,
    'distill.hasFinishedRuns': false,
    'distill.canCompareRuns': false,
  });
});

test('each key follows the runs that fit it', () => {
  const finishedOnly = runsContext([run('a', 'finished')], 0);
  assert.equal(finishedOnly['distill.hasFinishedRuns'], true);
  assert.equal(finishedOnly['distill.hasStoppableRuns'], false);
  assert.equal(finishedOnly['distill.hasResumableRuns'], false);
  assert.equal(finishedOnly['distill.canCompareRuns'], false, 'one run is nothing to compare');
  // A queued config is stoppable (taken off the queue) though no run is training.
  const queued = runsContext([run('a', 'finished')], 1);
  assert.equal(queued['distill.hasStoppableRuns'], true);
  assert.equal(queued['distill.hasRunningRuns'], false);
  const mixed = runsContext([run('a', 'running'), run('b', 'stopped'), run('c', 'failed')], 0);
  assert.equal(mixed['distill.hasRunningRuns'], true);
  assert.equal(mixed['distill.hasStoppableRuns'], true);
  assert.equal(mixed['distill.hasResumableRuns'], true);
  assert.equal(mixed['distill.hasFinishedRuns'], false);
  assert.equal(mixed['distill.canCompareRuns'], true, 'a running and a stopped run have curves to compare');
  // Failed runs have no results to overlay: two of them and one other do not make a comparison.
  assert.equal(
    runsContext([run('a', 'failed'), run('b', 'failed'), run('c', 'finished')], 0)['distill.canCompareRuns'],
    false,
  );
});

test('every distill.has*/can* key a when clause in package.json reads is one the Runs view sets', () => {
  const manifest = fs.readFileSync(path.join(root, 'package.json'), 'utf8');
  const read = new Set(
    [...manifest.matchAll(/"when": "([^"]*)"/g)].flatMap((m) =>
      [...m[1].matchAll(/distill\.(?:has|can)\w+/g)].map((k) => k[0]),
    ),
  );
  assert.ok(read.size >= 4, [...read].join(', '));
  const set = Object.keys(runsContext([], 0));
  assert.deepEqual(
    [...read].filter((k) => !set.includes(k)),
    [],
  );
});
