import assert from 'node:assert/strict';
import { DataError } from '../../src/core/data/dataError.ts';

/** Runs `fn`, asserts it threw a DataError for `file`, and returns it for further checks. */
export function catchDataError(fn: () => unknown, file: string): DataError {
  let caught: unknown;
  assert.throws(fn, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof DataError, `expected a DataError, got ${String(caught)}`);
  assert.equal(caught.file, file);
  return caught;
}
