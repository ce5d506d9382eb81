/** Bad data the user can fix: reported as one sentence naming the file (and line), no stack; CLI exit code 2. */
import * as fs from 'node:fs';

/** Where in the file the problem is and what was found there (for tools; the message says it all too). */
export interface DataErrorDetails {
  /** 1-based line (CSV). */
  line?: number;
  /** The column or header field concerned, e.g. `column 2 ("petal length")`. */
  field?: string;
  /** The offending text or value, as found. */
  found?: string;
}

/**
 * `<file>[:<line>]: <what is wrong>; expected <expected>`.
 * `problem` is written to follow the file name, e.g. "is empty" or "has 3 fields".
 */
export class DataError extends Error {
  override name = 'DataError';
  readonly line?: number;
  readonly field?: string;
  readonly found?: string;

  constructor(
    readonly file: string,
    readonly problem: string,
    readonly expected?: string,
    details: DataErrorDetails = {},
  ) {
    super(
      `${file}${details.line !== undefined ? `:${details.line}` : ''}: ${problem}${expected ? `; expected ${expected}` : ''}`,
    );
    this.line = details.line;
    this.field = details.field;
    this.found = details.found;
  }
}

/** "an IDX file", "a CSV file". */
const withArticle = (what: string) => `${/^[aeiou]/i.test(what) ? 'an' : 'a'} ${what}`;

/** Reads a whole file, turning fs errors into DataErrors that say what the file was for. Empty files are refused. */
export function readDataFile(file: string, what: string): Buffer {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new DataError(
        file,
        `the ${what} does not exist`,
        `${withArticle(what)} at this path (check the path and the folder it is relative to)`,
        { found: code },
      );
    if (code === 'EISDIR') throw new DataError(file, 'is a folder', withArticle(what), { found: code });
    if (code === 'ENOTDIR')
      throw new DataError(
        file,
        'does not exist (a part of the path is a file, not a folder)',
        `${withArticle(what)} at this path`,
        { found: code },
      );
    if (code === 'EACCES' || code === 'EPERM')
      throw new DataError(file, 'cannot be read: permission denied', `${withArticle(what)} that this user may read`, {
        found: code,
      });
    throw new DataError(file, `cannot be read (${code ?? (err as Error).message})`, `a readable ${what}`, {
      found: code,
    });
  }
  if (buf.length === 0) throw new DataError(file, 'is empty', withArticle(what), { found: '0 bytes' });
  return buf;
}
