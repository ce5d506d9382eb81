/** Bad data the user can fix: reported as one sentence naming the file (and line), no stack; CLI exit code 2. */
export class DataError extends Error {
  override name = 'DataError';
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly expected?: string,
    readonly line?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${problem}${expected ? `; expected ${expected}` : ''}`);
  }
}

/** Reads a whole file, turning fs errors into DataErrors that say what the file was for. */
export function readDataFile(file: string, what: string): Buffer {
  let buf: Buffer;
  try {
    buf = require('node:fs').readFileSync(file) as Buffer;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(file, `the ${what} does not exist`);
    if (code === 'EISDIR') throw new DataError(file, 'is a folder', `a ${what}`);
    if (code === 'EACCES' || code === 'EPERM') throw new DataError(file, `the ${what} cannot be read (permission denied)`);
    throw new DataError(file, `the ${what} cannot be read (${code ?? String(err)})`);
  }
  if (buf.length === 0) throw new DataError(file, 'is empty', `a ${what}`);
  return buf;
}
