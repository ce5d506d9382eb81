/**
 * File writes that never leave a half-written file behind, and survive a power loss once they
 * return: write a temp file, fsync it, rename it into place, fsync the folder (the rename is an
 * entry of the folder: without that fsync it may be lost, leaving the old file or none).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * fsync of a folder, which makes the entries renamed or created in it durable. Windows cannot
 * open a folder for fsync (NTFS journals renames itself): there it does nothing.
 */
export function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync of every file and folder under `dir`, `dir` included (contents before their folder). */
function fsyncTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(p);
    else if (entry.isFile()) {
      const fd = fs.openSync(p, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  fsyncDir(dir);
}

/** `data` may be several chunks, written in order (no concatenated copy of large payloads). */
export function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    const chunks = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks)
      for (let done = 0; done < chunk.length;) done += fs.writeSync(fd, chunk, done, chunk.length - done);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

export interface WriteDirOptions {
  /**
   * For a folder whose name determines its contents (a cache entry named by a hash of what it
   * holds): whether the folder found at `dir` is whole. Several processes may then write the same
   * folder at once (Slurm array tasks sharing a cache): the first rename wins, and a later writer
   * that finds the folder present and complete drops its own copy and succeeds. A folder present
   * but not complete (damaged) is replaced. Without it, an existing folder is always replaced.
   */
  isComplete?: (dir: string) => boolean;
}

/** Attempts at placing a shared folder when other writers keep moving it (each round trip is a rename). */
const SHARED_PLACE_ATTEMPTS = 8;

/** Errors of a rename onto a folder that exists and is not empty (EPERM on Windows). */
function isPresentError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST' || (process.platform === 'win32' && code === 'EPERM');
}

/** Puts the whole folder `tmp` at `dir`, or keeps a complete one another writer put there first. */
function placeShared(tmp: string, dir: string, isComplete: (dir: string) => boolean): void {
  const parent = path.dirname(dir);
  for (let attempt = 1; ; attempt++) {
    try {
      fs.renameSync(tmp, dir);
      fsyncDir(parent);
      return;
    } catch (err) {
      if (!isPresentError(err) || attempt >= SHARED_PLACE_ATTEMPTS) throw err;
    }
    if (isComplete(dir)) {
      fs.rmSync(tmp, { recursive: true, force: true });
      return;
    }
    // Present but damaged: move it aside (unless another writer just did) and try again.
    const old = `${tmp}.old-${attempt}`;
    try {
      fs.renameSync(dir, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      continue;
    }
    fs.rmSync(old, { recursive: true, force: true });
  }
}

/**
 * Fills a folder through `fill(tmpDir)` and renames it into place, so readers see either the
 * whole folder or none of it. An existing folder at `dir` is replaced, unless
 * `options.isComplete` says it is whole (see WriteDirOptions).
 */
export function writeDirAtomic(dir: string, fill: (tmpDir: string) => void, options: WriteDirOptions = {}): void {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}.tmp-`));
  fs.chmodSync(tmp, 0o777 & ~process.umask()); // mkdtemp makes it private; the result is an ordinary folder
  try {
    fill(tmp);
    fsyncTree(tmp); // the folder's contents are on disk before it appears under its name
    if (options.isComplete) placeShared(tmp, dir, options.isComplete);
    else if (fs.existsSync(dir)) {
      const old = `${tmp}.old`;
      fs.renameSync(dir, old);
      fs.renameSync(tmp, dir);
      fsyncDir(parent);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, dir);
      fsyncDir(parent);
    }
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
