/**
 * The sweep folder (layout in src/protocol/sweep.ts): created whole or not at all, read back as a
 * plan, and each task's state from its run folder (run.json and the liveness of the trainer it
 * names) and its claim (which process runs the task now). Free of tfjs: the extension reads it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../config/problems.ts';
import { fsyncDir, writeFileAtomic, writeJsonAtomic } from '../fsutil.ts';
import { isTrainerAlive, processStamp, type TrainerProcess } from '../run/processIdentity.ts';
import { readRunRecord, type RunRecord } from '../run/runFolder.ts';
import { SWEEP_VERSION, type SweepPlan, type SweepTask, type SweepTaskStatus } from '../../protocol/sweep.ts';
import type { PlannedSweep } from './plan.ts';

export const SWEEP_FILE = 'sweep.json';

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * Writes the sweep folder under `outputDir`: sweep.json, every task's config and its empty run
 * folder. They are written into a temporary folder that is renamed into place last, so a reader
 * (or a crash) never sees half a plan. The name is reserved first with mkdir, so two sweeps
 * planned in the same second get distinct folders.
 */
export function createSweepFolder(
  planned: PlannedSweep,
  outputDir = planned.outputDir,
  now = new Date(),
): { dir: string; plan: SweepPlan } {
  fs.mkdirSync(outputDir, { recursive: true });
  const base = `${planned.plan.name}-sweep-${stamp(now)}`;
  let dir = '';
  for (let i = 1; !dir; i++) {
    const candidate = path.join(outputDir, i === 1 ? base : `${base}-${i}`);
    try {
      fs.mkdirSync(candidate);
      dir = candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const plan: SweepPlan = { ...planned.plan, sweepId: path.basename(dir), createdAt: now.toISOString() };
  const tmp = fs.mkdtempSync(path.join(outputDir, `.${path.basename(dir)}.tmp-`));
  try {
    fs.chmodSync(tmp, 0o777 & ~process.umask());
    for (const sub of ['configs', 'tasks', 'logs', 'claims']) fs.mkdirSync(path.join(tmp, sub));
    for (const task of plan.tasks) {
      fs.mkdirSync(path.join(tmp, task.dir));
      writeFileAtomic(path.join(tmp, task.config), `${JSON.stringify(planned.configs[task.index], null, 2)}\n`);
    }
    fsyncDir(path.join(tmp, 'tasks'));
    writeJsonAtomic(path.join(tmp, SWEEP_FILE), plan);
    // Replaces the empty folder that reserved the name (rename(2) replaces an empty folder).
    if (process.platform === 'win32') fs.rmdirSync(dir);
    fs.renameSync(tmp, dir);
    fsyncDir(outputDir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, plan };
}

function notASweep(dir: string, why: string): ConfigError {
  return new ConfigError([{ file: dir, path: [], line: 0, column: 0, offset: 0, length: 0, message: why }]);
}

export function isSweepFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, SWEEP_FILE));
}

/** `sweep.json` of a sweep folder; a ConfigError (a user error) when `dir` is not one. */
export function readSweepPlan(dir: string): SweepPlan {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, SWEEP_FILE), 'utf8');
  } catch {
    throw notASweep(dir, `is not a sweep folder (no ${SWEEP_FILE}); expected a folder made by distill sweep plan`);
  }
  let plan: SweepPlan;
  try {
    plan = JSON.parse(text) as SweepPlan;
  } catch {
    throw notASweep(path.join(dir, SWEEP_FILE), 'is not valid JSON (the sweep folder is damaged)');
  }
  if (plan.v !== SWEEP_VERSION || !Array.isArray(plan.tasks))
    throw notASweep(
      path.join(dir, SWEEP_FILE),
      `is a sweep plan of version ${String(plan.v)}; this distill reads version ${SWEEP_VERSION}`,
    );
  return plan;
}

// ---- claims: which process runs a task now ----

interface Claim extends TrainerProcess {
  at: string;
}

const claimFile = (dir: string, index: number) => path.join(dir, 'claims', String(index));

function readClaim(dir: string, index: number): Claim | undefined {
  try {
    return JSON.parse(fs.readFileSync(claimFile(dir, index), 'utf8')) as Claim;
  } catch {
    return undefined;
  }
}

/** The process that claimed the task is alive (so the task is being run). */
export function claimHeld(dir: string, index: number): boolean {
  const claim = readClaim(dir, index);
  return claim !== undefined && isTrainerAlive(claim, { fresh: true });
}

/**
 * Claims task `index` for this process (O_EXCL create); false when a live process holds it. A
 * claim whose process is gone (killed) is taken over.
 */
export function claimTask(dir: string, index: number): boolean {
  fs.mkdirSync(path.join(dir, 'claims'), { recursive: true });
  const file = claimFile(dir, index);
  const claim: Claim = { pid: process.pid, pidStart: processStamp(process.pid), at: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, `${JSON.stringify(claim)}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (claimHeld(dir, index)) return false;
    fs.rmSync(file, { force: true }); // a dead process's claim
  }
  return false;
}

export function releaseClaim(dir: string, index: number): void {
  if (readClaim(dir, index)?.pid === process.pid) fs.rmSync(claimFile(dir, index), { force: true });
}

// ---- task states ----

function readRecord(runDir: string): RunRecord | 'absent' | 'damaged' {
  if (!fs.existsSync(path.join(runDir, 'run.json'))) return 'absent';
  try {
    return readRunRecord(runDir);
  } catch {
    return 'damaged';
  }
}

/** One task's state: from its run.json, the trainer it names, and its claim. */
export function taskStatus(dir: string, task: SweepTask): SweepTaskStatus {
  const base = { index: task.index, setting: task.setting, seed: task.seed };
  const record = readRecord(path.join(dir, task.dir));
  const claimed = claimHeld(dir, task.index);
  if (record === 'absent') return { ...base, state: claimed ? 'running' : 'pending' };
  if (record === 'damaged')
    return { ...base, state: 'failed', error: `${path.join(dir, task.dir, 'run.json')} cannot be read` };
  const runId = record.runId;
  switch (record.status) {
    case 'finished':
      return { ...base, runId, state: 'finished' };
    case 'failed':
      return {
        ...base,
        runId,
        state: claimed ? 'running' : 'failed',
        ...(record.error ? { error: record.error } : {}),
      };
    case 'stopped':
      return { ...base, runId, state: claimed ? 'running' : 'stopped' };
    case 'running':
      if (claimed || isTrainerAlive(record)) return { ...base, runId, state: 'running' };
      return {
        ...base,
        runId,
        state: 'stopped',
        error:
          'the trainer ended without recording an outcome (killed or crashed); distill sweep run resumes it from its last checkpoint',
      };
  }
}

export function taskStatuses(dir: string, plan: SweepPlan): SweepTaskStatus[] {
  return plan.tasks.map((task) => taskStatus(dir, task));
}
