/** CSV tables: numeric feature columns and one label column (integer class indices or names). */
import { DataError, readDataFile } from './dataError.ts';

export interface CsvOptions {
  /** Label column: header name, or 0-based index (negative counts from the end). */
  label: string | number;
  header: boolean | 'auto';
  delimiter?: string;
}

export interface CsvTable {
  features: Float32Array;
  labels: Int32Array;
  n: number;
  numFeatures: number;
  featureNames: string[];
  /** Present when labels were names: index i is the name of class i (sorted). */
  classNames?: string[];
}

/** Splits CSV text into rows of cells (RFC 4180 quoting), remembering each row's line number. */
function parseRows(text: string, delimiter: string): Array<{ line: number; cells: string[] }> {
  const rows: Array<{ line: number; cells: string[] }> = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let rowHasContent = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        cell += ch;
      }
      continue;
    }
    if (ch === '"') {
      quoted = true;
      rowHasContent = true;
    } else if (ch === delimiter) {
      cells.push(cell);
      cell = '';
      rowHasContent = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      if (rowHasContent || cell.trim() !== '') rows.push({ line: rowLine, cells: [...cells, cell] });
      cells = [];
      cell = '';
      rowHasContent = false;
      line++;
      rowLine = line;
    } else {
      cell += ch;
      if (ch.trim() !== '') rowHasContent = true;
    }
  }
  if (rowHasContent || cell.trim() !== '') rows.push({ line: rowLine, cells: [...cells, cell] });
  return rows;
}

const isNumber = (s: string) => s.trim() !== '' && !Number.isNaN(Number(s));

export function readCsv(file: string, opts: CsvOptions): CsvTable {
  const text = readDataFile(file, 'CSV file').toString('utf8').replace(/^\uFEFF/, '');
  const rows = parseRows(text, opts.delimiter ?? ',');
  if (rows.length === 0) throw new DataError(file, 'has no rows', 'a header (optional) and rows of numbers');
  const width = rows[0].cells.length;
  let header = opts.header === true;
  if (opts.header === 'auto') header = rows[0].cells.some((c) => !isNumber(c)) && rows.length > 1 && rows[1].cells.filter((c) => isNumber(c)).length >= rows[1].cells.length - 1;
  const names = header ? rows[0].cells.map((c) => c.trim()) : rows[0].cells.map((_, i) => `column ${i}`);
  const body = header ? rows.slice(1) : rows;
  if (body.length === 0) throw new DataError(file, 'has a header but no data rows', 'at least one row of values');
  let labelCol: number;
  if (typeof opts.label === 'string') {
    labelCol = header ? names.indexOf(opts.label) : -1;
    if (labelCol < 0)
      throw new DataError(file, header ? `has no column named "${opts.label}"` : `has no header, so the label column "${opts.label}" cannot be found by name`, header ? `one of ${names.map((n) => `"${n}"`).join(', ')}` : 'a column index');
  } else {
    labelCol = opts.label < 0 ? width + opts.label : opts.label;
    if (labelCol < 0 || labelCol >= width) throw new DataError(file, `has ${width} columns, so label column ${opts.label} does not exist`, `an index from ${-width} to ${width - 1}`);
  }
  const numFeatures = width - 1;
  if (numFeatures < 1) throw new DataError(file, 'has only the label column', 'at least one feature column');
  const features = new Float32Array(body.length * numFeatures);
  const rawLabels: string[] = [];
  body.forEach((row, r) => {
    if (row.cells.length !== width) throw new DataError(file, `has ${row.cells.length} fields`, `${width} fields, as in the first row`, row.line);
    let k = 0;
    row.cells.forEach((cell, c) => {
      if (c === labelCol) {
        rawLabels.push(cell.trim());
        return;
      }
      const v = Number(cell);
      if (cell.trim() === '' || !Number.isFinite(v))
        throw new DataError(file, `column ${c} ("${names[c]}") holds ${JSON.stringify(cell)}`, 'a finite number', row.line);
      features[r * numFeatures + k++] = v;
    });
  });
  const labels = new Int32Array(body.length);
  let classNames: string[] | undefined;
  const integers = rawLabels.every((l) => /^\d+$/.test(l));
  if (integers) rawLabels.forEach((l, i) => (labels[i] = Number(l)));
  else {
    const empty = rawLabels.findIndex((l) => l === '');
    if (empty >= 0) throw new DataError(file, `the label ("${names[labelCol]}") is empty`, 'a class index or name', body[empty].line);
    classNames = [...new Set(rawLabels)].sort();
    const index = new Map(classNames.map((n, i) => [n, i]));
    rawLabels.forEach((l, i) => (labels[i] = index.get(l)!));
  }
  return { features, labels, n: body.length, numFeatures, featureNames: names.filter((_, i) => i !== labelCol), classNames };
}
