import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCsv, type CsvOptions } from '../src/core/data/csv.ts';
import { DataError } from '../src/core/data/dataError.ts';
import { catchDataError } from './helpers/dataErrors.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-csv-test-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function csv(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Asserts a DataError whose message starts with `<file>:<line>: ` (or `<file>: `) and matches every pattern. */
function throwsData(fn: () => unknown, file: string, line: number | undefined, ...patterns: RegExp[]): DataError {
  const err = catchDataError(fn, file);
  assert.equal(err.line, line);
  const prefix = `${file}${line === undefined ? '' : `:${line}`}: `;
  assert.ok(err.message.startsWith(prefix), `message should start with ${JSON.stringify(prefix)}: ${err.message}`);
  for (const p of patterns) assert.match(err.message, p);
  return err;
}

const auto = (label: string | number): CsvOptions => ({ label, header: 'auto' });

test('label by name, by index and by -1 give the same table; features keep file order without the label', () => {
  const file = csv('iris.csv', 'sepal,petal,class\n5.1,1.4,0\n7.0,4.7,1\n6.3,6.0,2\n');
  const byName = readCsv(file, { label: 'class', header: true });
  assert.equal(byName.n, 3);
  assert.equal(byName.numFeatures, 2);
  assert.deepEqual(byName.featureNames, ['sepal', 'petal']);
  assert.deepEqual([...byName.features], [5.1, 1.4, 7.0, 4.7, 6.3, 6.0].map(Math.fround));
  assert.deepEqual([...byName.labels], [0, 1, 2]);
  assert.equal(byName.classNames, undefined);
  assert.ok(byName.features instanceof Float32Array && byName.labels instanceof Int32Array);
  assert.deepEqual(readCsv(file, { label: 2, header: true }), byName);
  assert.deepEqual(readCsv(file, auto(-1)), byName);

  // The label in the middle / first column.
  const mid = readCsv(csv('mid.csv', 'f1,kind,f2\n1,b,2\n3,a,4\n'), auto('kind'));
  assert.deepEqual(mid.featureNames, ['f1', 'f2']);
  assert.deepEqual([...mid.features], [1, 2, 3, 4]);
  assert.deepEqual([...mid.labels], [1, 0]);
  assert.deepEqual(readCsv(csv('mid.csv', 'f1,kind,f2\n1,b,2\n3,a,4\n'), auto(1)), mid);
  const first = readCsv(csv('first.csv', '1,0.5,2\n0,1.5,3\n'), auto(0));
  assert.deepEqual([...first.features], [0.5, 2, 1.5, 3]);
  assert.deepEqual([...first.labels], [1, 0]);
  const minus3 = readCsv(csv('first.csv', '1,0.5,2\n0,1.5,3\n'), auto(-3));
  assert.deepEqual(minus3, first);
});

test("header 'auto': a text first row over numbers is a header; an all-number first row is data", () => {
  const withHeader = readCsv(csv('h.csv', 'x1,x2,y\n1,2,0\n3,4,1\n'), auto(-1));
  assert.equal(withHeader.n, 2);
  assert.deepEqual(withHeader.featureNames, ['x1', 'x2']);
  assert.deepEqual([...withHeader.features], [1, 2, 3, 4]);

  const without = readCsv(csv('nh.csv', '1,2,0\n3,4,1\n'), auto(-1));
  assert.equal(without.n, 2);
  assert.deepEqual(without.featureNames, ['column 0', 'column 1']);
  assert.deepEqual([...without.features], [1, 2, 3, 4]);
  assert.deepEqual([...without.labels], [0, 1]);

  // No header, string labels: the label cell being text does not make the first row a header.
  const strLabels = readCsv(csv('nhs.csv', '1,2,cat\n3,4,dog\n5,6,cat\n'), auto(-1));
  assert.equal(strLabels.n, 3);
  assert.deepEqual(strLabels.classNames, ['cat', 'dog']);
  assert.deepEqual([...strLabels.labels], [0, 1, 0]);

  const oneRow = readCsv(csv('one-row.csv', '1,2,cat\n'), auto(-1));
  assert.equal(oneRow.n, 1);
  assert.deepEqual(oneRow.classNames, ['cat']);

  // A header over a bad row: the error is about the bad row (line 2), not about the header.
  const bad = csv('bad-row.csv', 'a,b,y\n1,x,0\n');
  throwsData(() => readCsv(bad, auto(-1)), bad, 2, /column 1 \("b"\) holds "x"/);

  // Some text in both rows: no header; the first row's bad cell is reported on line 1.
  const noHdr = csv('no-hdr.csv', '1,x,0\n2,y,1\n');
  throwsData(() => readCsv(noHdr, auto(-1)), noHdr, 1, /column 1 \("column 1"\) holds "x"/);

  // A label given by name that the first row holds makes that row the header, even over numeric names.
  const years = readCsv(csv('years.csv', '1990,2000,y\n3,4,0\n'), auto('y'));
  assert.deepEqual(years.featureNames, ['1990', '2000']);
  assert.equal(years.n, 1);

  // Forcing: header true takes the first row as names even when numeric; false keeps it as data (and then fails on text).
  const forced = readCsv(csv('forced.csv', '10,20,30\n1,2,0\n'), { label: -1, header: true });
  assert.deepEqual(forced.featureNames, ['10', '20']);
  assert.equal(forced.n, 1);
  const f = csv('nohdr.csv', 'a,b,y\n1,2,0\n');
  throwsData(
    () => readCsv(f, { label: -1, header: false }),
    f,
    1,
    /column 0 \("column 0"\) holds "a"; expected a finite number/,
  );
});

test('string labels map to sorted class indices; classNames lists them; integer labels stay as indices', () => {
  const file = csv('s.csv', 'x,"kind, of"\n1,zebra\n2,"ant"\n3,zebra\n4,moth\n');
  const t = readCsv(file, auto('kind, of'));
  assert.deepEqual(t.classNames, ['ant', 'moth', 'zebra']);
  assert.deepEqual([...t.labels], [2, 0, 2, 1]);
  assert.deepEqual(t.featureNames, ['x']);

  const ints = readCsv(csv('ints.csv', 'x,y\n1,7\n2,0\n3, 3 \n'), auto('y'));
  assert.deepEqual([...ints.labels], [7, 0, 3]);
  assert.equal(ints.classNames, undefined);

  // Negative integers cannot be indices: they are names, sorted by value.
  const neg = readCsv(csv('neg.csv', 'x,y\n1,1\n2,-1\n3,10\n'), auto('y'));
  assert.deepEqual(neg.classNames, ['-1', '1', '10']);
  assert.deepEqual([...neg.labels], [1, 0, 2]);

  // Integers too large for class indices are names too.
  const big = readCsv(csv('big.csv', 'x,y\n1,3000000000\n2,0\n'), auto('y'));
  assert.deepEqual(big.classNames, ['0', '3000000000']);
  assert.deepEqual([...big.labels], [1, 0]);

  const frac = csv('frac.csv', 'x,y\n1,0\n2,0.5\n');
  throwsData(() => readCsv(frac, auto('y')), frac, 3, /the label, column 1 \("y"\), holds "0\.5", a fractional number/);
  const emptyLabel = csv('el.csv', 'x,y\n1,a\n2,\n');
  throwsData(() => readCsv(emptyLabel, auto('y')), emptyLabel, 3, /the label, column 1 \("y"\), is empty/);
});

test('quoting (RFC 4180), CRLF, BOM, blank lines, a missing final newline, other delimiters', () => {
  const quoted = readCsv(csv('q.csv', '"a ""big"" one","b,c",label\n"1.5","2",x\n3,"4","y, z"\n'), auto('label'));
  assert.deepEqual(quoted.featureNames, ['a "big" one', 'b,c']);
  assert.deepEqual([...quoted.features], [1.5, 2, 3, 4]);
  assert.deepEqual(quoted.classNames, ['x', 'y, z']);

  const lf = readCsv(csv('lf.csv', 'a,b,y\n1,2,0\n3,4,1\n'), auto(-1));
  const crlf = readCsv(csv('crlf.csv', '\uFEFFa,b,y\r\n1,2,0\r\n\r\n3,4,1'), auto(-1));
  assert.deepEqual(crlf, lf);
  assert.deepEqual(crlf.featureNames, ['a', 'b'], 'the BOM is not part of the first name');

  assert.deepEqual(
    readCsv(csv('semi.csv', 'a;b;y\n1.5;2;0\n3;4;1\n'), { label: 'y', header: 'auto', delimiter: ';' }).featureNames,
    ['a', 'b'],
  );
  assert.throws(
    () => readCsv(csv('semi2.csv', 'a;b;y\n1,5;2;0\n'), { label: 'y', header: 'auto', delimiter: ';' }),
    /column 0 \("a"\) holds "1,5"/,
  );
  assert.deepEqual(
    [...readCsv(csv('tab.tsv', 'a\tb\ty\n1\t2\t0\n'), { label: -1, header: 'auto', delimiter: '\t' }).features],
    [1, 2],
  );

  // A quoted line break counts: the error after it is reported on the right line.
  const multi = csv('multi.csv', 'a,note,y\n1,"two\nlines",0\n1,x,1\n');
  throwsData(() => readCsv(multi, { label: 'y', header: true }), multi, 2, /column 1 \("note"\) holds "two\\nlines"/);
  const multi2 = csv('multi2.csv', 'a,y\n"1\n",0\nbad,1\n');
  throwsData(() => readCsv(multi2, { label: 'y', header: true }), multi2, 4, /column 0 \("a"\) holds "bad"/);

  const open = csv('open.csv', 'a,y\n1,0\n"2,1\n3,0\n');
  throwsData(() => readCsv(open, auto('y')), open, 3, /quoted field that is never closed/);
});

test('rows of the wrong width are reported with their line, the width found and the width expected', () => {
  const short = csv('w.csv', 'a,b,y\n1,2,0\n\n1,2\n');
  const e = throwsData(() => readCsv(short, auto('y')), short, 4, /has 2 fields; expected 3 fields, as in line 1$/);
  assert.equal(e.found, '2 fields');
  const long = csv('w2.csv', 'a,b,y\r\n1,2,0\r\n1,2,3,4\r\n');
  throwsData(() => readCsv(long, auto(-1)), long, 3, /has 4 fields; expected 3 fields/);
  const headerless = csv('w3.csv', '1,2,0\n1,2,0,5\n');
  throwsData(() => readCsv(headerless, auto(-1)), headerless, 2, /has 4 fields; expected 3 fields, as in line 1/);
});

test('feature cells must be finite numbers: text, NaN, Infinity, empty cells name line, column and cell', () => {
  const text = csv('n.csv', 'a,b,y\n1,2,0\n1,abc,1\n');
  const e = throwsData(
    () => readCsv(text, { label: 'y', header: true }),
    text,
    3,
    /column 1 \("b"\) holds "abc"; expected a finite number$/,
  );
  assert.equal(e.found, 'abc');
  assert.equal(e.field, 'column 1 ("b")');
  const nan = csv('nan.csv', 'a,y\n1,0\nNaN,1\n');
  throwsData(() => readCsv(nan, auto('y')), nan, 3, /column 0 \("a"\) holds "NaN"; expected a finite number/);
  const inf = csv('inf.csv', 'a,b,y\n1,Infinity,0\n');
  throwsData(() => readCsv(inf, auto('y')), inf, 2, /column 1 \("b"\) holds "Infinity", which is not a finite number/);
  const ninf = csv('ninf.csv', 'a,y\n-Infinity,0\n');
  throwsData(() => readCsv(ninf, { label: 1, header: true }), ninf, 2, /holds "-Infinity"/);
  const huge = csv('huge.csv', 'a,y\n1e999,0\n');
  throwsData(() => readCsv(huge, auto('y')), huge, 2, /holds "1e999", which is not a finite number/);
  const blank = csv('blank.csv', 'a,b,y\n1,,0\n');
  throwsData(() => readCsv(blank, auto('y')), blank, 2, /column 1 \("b"\) is empty; expected a finite number/);
});

test('empty, blank and header-only files; unknown, ambiguous and out-of-range label columns', () => {
  const empty = csv('e.csv', '');
  throwsData(() => readCsv(empty, auto(-1)), empty, undefined, /: is empty; expected a CSV file$/);
  const blank = csv('blank-lines.csv', '\n\r\n  \n');
  throwsData(() => readCsv(blank, auto(-1)), blank, undefined, /has no rows, only blank lines/);
  const headerOnly = csv('ho.csv', 'a,b,y\n');
  throwsData(() => readCsv(headerOnly, auto('y')), headerOnly, undefined, /has a header but no data rows/);
  throwsData(
    () => readCsv(headerOnly, { label: -1, header: 'auto' }),
    headerOnly,
    undefined,
    /has a header but no data rows/,
  );

  const cols = csv('u.csv', 'a,b,y\n1,2,0\n');
  const e = throwsData(
    () => readCsv(cols, { label: 'label', header: true }),
    cols,
    undefined,
    /has no column named "label"; expected one of "a", "b", "y"$/,
  );
  assert.equal(e.found, 'label');
  throwsData(
    () => readCsv(cols, auto('label')),
    cols,
    undefined,
    /has no column named "label"; expected one of "a", "b", "y"/,
  );
  const noHeader = csv('nh.csv', '1,2,0\n3,4,1\n');
  throwsData(
    () => readCsv(noHeader, auto('y')),
    noHeader,
    undefined,
    /has no header row \(line 1 is data\), so the label column "y" cannot be found by name/,
  );
  const dup = csv('dup.csv', 'y,a,y\n1,2,0\n');
  throwsData(() => readCsv(dup, auto('y')), dup, 1, /has 2 columns named "y"/);
  throwsData(
    () => readCsv(cols, auto(3)),
    cols,
    undefined,
    /has 3 columns, so label column 3 does not exist; expected a column index from 0 to 2/,
  );
  throwsData(() => readCsv(cols, auto(-4)), cols, undefined, /label column -4 does not exist/);
  const one = csv('one.csv', 'a;b;y\n1;2;0\n');
  throwsData(
    () => readCsv(one, auto(-1)),
    one,
    1,
    /has only one column \(split on ",", but line 1 contains ";": is that the delimiter\?\)/,
  );
  throwsData(() => readCsv(cols, { label: -1, header: 'auto', delimiter: '::' }), cols, undefined, /delimiter "::"/);
});

test('a missing file and a folder are DataErrors naming the path', () => {
  const missing = path.join(dir, 'missing.csv');
  throwsData(() => readCsv(missing, auto(-1)), missing, undefined, /the CSV file does not exist/);
  throwsData(() => readCsv(dir, auto(-1)), dir, undefined, /is a folder; expected a CSV file/);
});
