/**
 * Which process a run's trainer is: its pid plus its start stamp, an opaque string that changes
 * when the pid is reused (by a later process, or after a reboot or a container restart). The
 * trainer writes its own stamp to run.json (`pidStart`); the editor re-reads the stamp of that pid
 * before it treats the run as running, re-attaches it, or signals it.
 *
 * - Linux: the boot id (/proc/sys/kernel/random/boot_id) and the start time in clock ticks since
 *   boot (/proc/<pid>/stat, field 22): two file reads, no process spawned.
 * - macOS and the other Unixes: `ps -o lstart= -p <pid>`, the start time to the second.
 * - Windows: the process's CreationDate (PowerShell's Get-Process StartTime, as FILETIME ticks).
 *
 * Free of tfjs and `vscode`: the trainer and the extension share it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export type StampMethod = 'proc' | 'ps' | 'powershell';

export function defaultStampMethod(platform: NodeJS.Platform = process.platform): StampMethod {
  if (platform === 'linux' && fs.existsSync('/proc/self/stat')) return 'proc';
  return platform === 'win32' ? 'powershell' : 'ps';
}

let bootId: string | undefined;

function procStamp(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (the command name) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTicks = fields[22 - 3];
  if (!startTicks) return undefined;
  bootId ??= fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return `proc:${bootId}:${startTicks}`;
}

function commandStamp(method: 'ps' | 'powershell', pid: number): string | undefined {
  const [file, args] =
    method === 'ps'
      ? ['ps', ['-o', 'lstart=', '-p', String(pid)]]
      : [
          'powershell.exe',
          [
            '-NoProfile',
            '-NonInteractive',
            '-Command',
            `(Get-Process -Id ${pid} -ErrorAction Stop).StartTime.ToFileTimeUtc()`,
          ],
        ];
  try {
    const out = execFileSync(file, args, {
      encoding: 'utf8',
      timeout: 10000,
      windowsHide: true,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, LC_ALL: 'C' },
    }).trim();
    return out ? `${method}:${out}` : undefined;
  } catch {
    return undefined; // no such process (ps and Get-Process exit non-zero), or no such tool
  }
}

/** The start stamp of process `pid`; undefined when there is no such process (or no way to tell here). */
export function processStamp(pid: number, method: StampMethod = defaultStampMethod()): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return method === 'proc' ? procStamp(pid) : commandStamp(method, pid);
}

/** A process that exists and that this process may see (EPERM: it exists, owned by someone else). */
export function pidExists(pid: number | undefined): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const METHODS: readonly StampMethod[] = ['proc', 'ps', 'powershell'];

function stampMethodOf(stamp: string): StampMethod | undefined {
  const method = stamp.slice(0, stamp.indexOf(':')) as StampMethod;
  return METHODS.includes(method) ? method : undefined;
}

/** What run.json records of the trainer process. */
export interface TrainerProcess {
  pid?: number;
  /** processStamp of `pid` as the trainer read it of itself; absent in run.json files written before it existed. */
  pidStart?: string;
}

/** Whether the identity is proven (a stamp recorded and matched), or only the pid is known. */
export type Liveness = 'alive' | 'gone' | 'pid-only';

// Spawning ps or PowerShell on every Runs view refresh is too slow: a match is trusted for a few
// seconds while the pid stays alive. Linux reads /proc every time.
const CACHE_MS = 5000;
const verified = new Map<string, number>();

/**
 * Is the process that run.json names still that trainer? `gone` when the pid is dead or belongs
 * to another process now (its stamp differs); `pid-only` for a record without a stamp (an older
 * trainer, or a system where no stamp could be read): alive by its pid, identity unproven.
 * `fresh` skips the cache (before a signal is sent).
 */
export function trainerLiveness(p: TrainerProcess, options: { fresh?: boolean } = {}): Liveness {
  if (!pidExists(p.pid)) {
    if (p.pid) verified.delete(`${p.pid}:${p.pidStart}`);
    return 'gone';
  }
  if (!p.pidStart) return 'pid-only';
  // Read the stamp the way the trainer did (its method is the stamp's prefix).
  const method = stampMethodOf(p.pidStart);
  if (!method) return 'gone';
  const key = `${p.pid}:${p.pidStart}`;
  const at = verified.get(key);
  if (method !== 'proc' && !options.fresh && at !== undefined && Date.now() - at < CACHE_MS) return 'alive';
  if (processStamp(p.pid!, method) !== p.pidStart) {
    verified.delete(key);
    return 'gone';
  }
  verified.set(key, Date.now());
  return 'alive';
}

/** The trainer is alive: proven by its stamp, or (for a record without one) by its pid. */
export function isTrainerAlive(p: TrainerProcess, options: { fresh?: boolean } = {}): boolean {
  return trainerLiveness(p, options) !== 'gone';
}
