/** CSV tables: numeric feature columns and one label column (integer class indices or class names). */
import { DataError, readDataFile } from './dataError.ts';

export interface CsvOptions {
  /**
   * Label column: header name, or 0-based index (negative counts from the end: -1 is the last
   * column); `null`: no label column (an unlabeled table: every column is a feature, labels are -1).
   */
  label: string | number | null;
  /** With a `label` column: drop it without reading its values (an unlabeled table whose labels are ignored); labels are -1. */
  ignoreLabel?: boolean;
  /** `'auto'`: the first row is a header when it holds text where the second row holds numbers. */
  header: boolean | 'auto';
  /** One character; default ",". */
  delimiter?: string;
}

export interface CsvTable {
  /** Row-major, `n * numFeatures` values, columns in file order without the label column. */
  features: Float32Array;
  labels: Int32Array;
  n: number;
  numFeatures: number;
  /** Header names, or "column <i>" (i = index in the file) without a header. */
  featureNames: string[];
  /** Present when labels were names: index i is the name of class i (names sorted). */
  classNames?: string[];
}

export interface Row {
  /** 1-based line on which the row starts. */
  line: number;
  cells: string[];
}

/** Splits CSV text into rows of cells (RFC 4180 quoting: "a, b" and "say ""hi"""), skipping blank lines. */
export function parseRows(file: string, text: string, delimiter: string): Row[] {
  const rows: Row[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let quoteLine = 0;
  let line = 1;
  let rowLine = 1;
  let rowHasContent = false;
  const endRow = () => {
    if (rowHasContent || cell.trim() !== '') rows.push({ line: rowLine, cells: [...cells, cell] });
    cells = [];
    cell = '';
    rowHasContent = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === '\n' || (ch === '\r' && text[i + 1] !== '\n')) line++;
        cell += ch;
      }
      continue;
    }
    if (ch === '"') {
      quoted = true;
      quoteLine = line;
      rowHasContent = true;
    } else if (ch === delimiter) {
      cells.push(cell);
      cell = '';
      rowHasContent = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      cell += ch;
      if (ch.trim() !== '') rowHasContent = true;
    }
  }
  if (quoted)
    throw new DataError(
      file,
      'has a quoted field that is never closed (no matching ")',
      'every opening " to have a closing " (write "" for a quote inside a quoted field)',
      {
        line: quoteLine,
        found: '"',
      },
    );
  endRow();
  return rows;
}

const isNumber = (s: string) => s.trim() !== '' && !Number.isNaN(Number(s));

/** The label column resolved against the row width; a name is looked up in `names`. */
function numericLabelIndex(file: string, label: number, width: number): number {
  if (!Number.isInteger(label))
    throw new DataError(file, `cannot use label column ${label}`, 'a whole-number column index, or a column name');
  const col = label < 0 ? width + label : label;
  if (col < 0 || col >= width)
    throw new DataError(
      file,
      `has ${width} column${width === 1 ? '' : 's'}, so label column ${label} does not exist`,
      `a column index from 0 to ${width - 1} (or -1 to -${width} from the end)`,
      {
        field: 'label',
        found: String(label),
      },
    );
  return col;
}

/**
 * 'auto' header detection: the first row is a header when one of its cells other than the label cell is not a number
 * and the second row's (non-label) cells are all numbers, or every such cell of the first row is text.
 */
function looksLikeHeader(rows: Row[], labelCol: number): boolean {
  const others = (row: Row) => row.cells.filter((_, i) => i !== labelCol);
  const first = others(rows[0]);
  const text = first.filter((c) => !isNumber(c)).length;
  if (text === 0) return false;
  if (rows.length === 1 || text === first.length) return true;
  return others(rows[1]).every(isNumber);
}

const quoteName = (s: string) => JSON.stringify(s);

/** Reads a CSV of numeric features and one label column. Bad data raises DataError naming the file, line and column. */
export function readCsv(file: string, opts: CsvOptions): CsvTable {
  const delimiter = opts.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r')
    throw new DataError(
      file,
      `cannot be split with the delimiter ${quoteName(delimiter)}`,
      'a single character such as ",", ";" or "\\t" (not a quote or line break)',
      {
        field: 'delimiter',
        found: delimiter,
      },
    );
  const text = readDataFile(file, 'CSV file')
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  const rows = parseRows(file, text, delimiter);
  if (rows.length === 0)
    throw new DataError(file, 'has no rows, only blank lines', 'a header row (optional) and rows of numbers');
  const width = rows[0].cells.length;

  // The label column, as far as it can be known before deciding on the header.
  const labelName = typeof opts.label === 'string' ? opts.label.trim() : undefined;
  const labelCol =
    opts.label === null
      ? -1
      : labelName === undefined
        ? numericLabelIndex(file, opts.label as number, width)
        : rows[0].cells.findIndex((c) => c.trim() === labelName);
  const header =
    opts.header === 'auto'
      ? (labelName !== undefined && labelCol >= 0) || looksLikeHeader(rows, labelCol)
      : opts.header;
  const names = rows[0].cells.map((c, i) => (header && c.trim() !== '' ? c.trim() : `column ${i}`));

  if (labelName !== undefined) {
    if (!header)
      throw new DataError(
        file,
        `has no header row (line ${rows[0].line} is data), so the label column ${quoteName(labelName)} cannot be found by name`,
        'a first row naming the columns, or the label given as a column index (e.g. -1 for the last column)',
        { field: 'label', found: labelName },
      );
    if (labelCol < 0)
      throw new DataError(
        file,
        `has no column named ${quoteName(labelName)}`,
        `one of ${names.map(quoteName).join(', ')}`,
        { field: 'label', found: labelName },
      );
    const same = names.filter((n) => n === labelName).length;
    if (same > 1)
      throw new DataError(
        file,
        `has ${same} columns named ${quoteName(labelName)}, so the label column is ambiguous`,
        'unique column names, or the label given as a column index',
        {
          line: rows[0].line,
          field: 'label',
          found: labelName,
        },
      );
  }

  const body = header ? rows.slice(1) : rows;
  if (body.length === 0)
    throw new DataError(file, 'has a header but no data rows', 'at least one row of values after the header');
  const numFeatures = labelCol < 0 ? width : width - 1;
  if (numFeatures < 1) {
    const hint = [',', ';', '\t', '|'].find((d) => d !== delimiter && rows[0].cells[0].includes(d));
    throw new DataError(
      file,
      `has only one column${hint ? ` (split on ${quoteName(delimiter)}, but line ${rows[0].line} contains ${quoteName(hint)}: is that the delimiter?)` : ''}`,
      'feature columns besides the label column',
      { line: rows[0].line },
    );
  }

  const features = new Float32Array(body.length * numFeatures);
  const rawLabels: string[] = [];
  for (let r = 0; r < body.length; r++) {
    const row = body[r];
    if (row.cells.length !== width)
      throw new DataError(
        file,
        `has ${row.cells.length} field${row.cells.length === 1 ? '' : 's'}`,
        `${width} fields, as in line ${rows[0].line}`,
        {
          line: row.line,
          found: `${row.cells.length} fields`,
        },
      );
    let k = 0;
    for (let c = 0; c < width; c++) {
      const cell = row.cells[c];
      if (c === labelCol) {
        rawLabels.push(cell.trim());
        continue;
      }
      const v = Number(cell);
      if (cell.trim() === '' || !Number.isFinite(v)) {
        const what =
          cell.trim() === ''
            ? 'is empty'
            : `holds ${quoteName(cell)}${Number.isNaN(v) ? '' : ', which is not a finite number'}`;
        throw new DataError(file, `column ${c} (${quoteName(names[c])}) ${what}`, 'a finite number', {
          line: row.line,
          field: `column ${c} (${quoteName(names[c])})`,
          found: cell,
        });
      }
      features[r * numFeatures + k++] = v;
    }
  }

  if (labelCol < 0 || opts.ignoreLabel)
    return {
      features,
      labels: new Int32Array(body.length).fill(-1),
      n: body.length,
      numFeatures,
      featureNames: names.filter((_, i) => i !== labelCol),
    };
  const labelField = `column ${labelCol} (${quoteName(names[labelCol])})`;
  const empty = rawLabels.findIndex((l) => l === '');
  if (empty >= 0)
    throw new DataError(file, `the label, ${labelField}, is empty`, 'a class index (0, 1, 2, ...) or a class name', {
      line: body[empty].line,
      field: labelField,
      found: '',
    });
  const labels = new Int32Array(body.length);
  let classNames: string[] | undefined;
  const values = rawLabels.map(Number);
  const numeric = rawLabels.every(isNumber);
  if (numeric && values.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 31))
    values.forEach((v, i) => (labels[i] = v));
  else {
    if (numeric) {
      const bad = values.findIndex((v) => !Number.isInteger(v));
      if (bad >= 0)
        throw new DataError(
          file,
          `the label, ${labelField}, holds ${quoteName(rawLabels[bad])}, a fractional number`,
          'class indices (0, 1, 2, ...) or class names: is the label the right column?',
          {
            line: body[bad].line,
            field: labelField,
            found: rawLabels[bad],
          },
        );
    }
    // Names (or negative / huge integers, treated as names): sorted, numerically when they are all numbers.
    classNames = [...new Set(rawLabels)].sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
    const index = new Map(classNames.map((n, i) => [n, i]));
    rawLabels.forEach((l, i) => (labels[i] = index.get(l)!));
  }
  return {
    features,
    labels,
    n: body.length,
    numFeatures,
    featureNames: names.filter((_, i) => i !== labelCol),
    ...(classNames ? { classNames } : {}),
  };
}
