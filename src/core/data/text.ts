/**
 * Labeled texts (`data.source: "text"`): a CSV, TSV or JSONL file with a text and a label field per
 * row, or a folder with one subfolder of .txt files per class. Every problem names the file and the
 * line (or the .txt file) and says what was expected; nothing here tokenises.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseRows, type Row } from './csv.ts';
import { DataError, readDataFile } from './dataError.ts';

export type TextFormat = 'csv' | 'tsv' | 'jsonl' | 'folders';

export interface TextReadOptions {
  format: TextFormat | 'auto';
  /** Header name / JSONL key, or a 0-based column index (CSV, TSV). */
  text: string | number;
  label: string | number;
}

/** One file's (or folder's) texts and their raw labels, with where each came from. */
export interface TextTable {
  texts: string[];
  /** The label as found: a class name, or an integer written as text. */
  labels: string[];
  /** "file:line" or the .txt file, per row: for messages about a row. */
  origins: Array<{ file: string; line?: number }>;
  format: TextFormat;
}

const quote = (s: string) => JSON.stringify(s);

export function textFormatOf(file: string, format: TextReadOptions['format']): TextFormat {
  if (format !== 'auto') return format;
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new DataError(file, 'does not exist', 'a .csv, .tsv or .jsonl file, or a folder of class subfolders');
  }
  if (stat.isDirectory()) return 'folders';
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new DataError(
    file,
    `has the extension "${ext || '(none)'}", from which the format cannot be told`,
    'a .csv, .tsv, .jsonl or .ndjson file, or data.format set to "csv", "tsv" or "jsonl"',
  );
}

/** A text that is only whitespace is refused: it would tokenise to nothing but padding. */
function checkText(text: string, where: { file: string; line?: number }, field: string): string {
  if (text.trim() === '')
    throw new DataError(where.file, `has an empty text (${field})`, 'some text in every row', {
      line: where.line,
      field,
    });
  return text;
}

function checkLabel(label: string, where: { file: string; line?: number }, field: string): string {
  if (label.trim() === '')
    throw new DataError(where.file, `has an empty label (${field})`, 'a class name or an integer label in every row', {
      line: where.line,
      field,
    });
  return label.trim();
}

/** CSV (RFC 4180 quoting) or TSV (no quoting: a tab never occurs inside a field). Columns by name need a header row. */
function readDelimited(file: string, format: 'csv' | 'tsv', options: TextReadOptions): TextTable {
  const content = readDataFile(file, `${format.toUpperCase()} file`)
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  const rows: Row[] =
    format === 'csv'
      ? parseRows(file, content, ',')
      : content
          .split(/\r?\n/)
          .map((l, i) => ({ line: i + 1, cells: l.split('\t') }))
          .filter((r) => r.cells.some((c) => c.trim() !== ''));
  if (rows.length === 0) throw new DataError(file, 'has no rows, only blank lines', 'a header row and rows of texts');
  const byName = typeof options.text === 'string' || typeof options.label === 'string';
  const header = byName ? rows[0] : undefined;
  const names = header?.cells.map((c) => c.trim());
  const column = (want: string | number, role: 'text' | 'label'): number => {
    if (typeof want === 'number') {
      if (want >= rows[0].cells.length)
        throw new DataError(
          file,
          `has ${rows[0].cells.length} columns, so the ${role} column index ${want} (data.${role}) is out of range`,
          `an index from 0 to ${rows[0].cells.length - 1}`,
          { line: rows[0].line, field: role },
        );
      return want;
    }
    const i = names!.indexOf(want);
    if (i < 0)
      throw new DataError(
        file,
        `has no ${role} column named ${quote(want)} (data.${role}) in its header row`,
        `one of ${names!.map(quote).join(', ')}, or data.${role} set to a column index`,
        { line: rows[0].line, field: role, found: names!.join(', ') },
      );
    return i;
  };
  const textCol = column(options.text, 'text');
  const labelCol = column(options.label, 'label');
  const table: TextTable = { texts: [], labels: [], origins: [], format };
  for (const row of header ? rows.slice(1) : rows) {
    const where = { file, line: row.line };
    if (row.cells.length !== rows[0].cells.length)
      throw new DataError(
        file,
        `has ${row.cells.length} fields on this row`,
        `${rows[0].cells.length}, as on line ${rows[0].line}${format === 'csv' ? ' (quote a text that holds a comma: "a, b")' : ''}`,
        { line: row.line, found: String(row.cells.length) },
      );
    table.texts.push(checkText(row.cells[textCol], where, `column ${quote(names?.[textCol] ?? String(textCol))}`));
    table.labels.push(checkLabel(row.cells[labelCol], where, `column ${quote(names?.[labelCol] ?? String(labelCol))}`));
    table.origins.push(where);
  }
  if (table.texts.length === 0)
    throw new DataError(file, 'has a header row but no texts', 'rows of texts after the header', {
      line: rows[0].line,
    });
  return table;
}

/** One JSON object per line; blank lines are skipped. */
function readJsonl(file: string, options: TextReadOptions): TextTable {
  const lines = readDataFile(file, 'JSONL file')
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/);
  const table: TextTable = { texts: [], labels: [], origins: [], format: 'jsonl' };
  for (const key of [options.text, options.label])
    if (typeof key === 'number')
      throw new DataError(
        file,
        `is JSONL, whose fields have names, not indices (found ${key})`,
        'data.text and data.label set to keys of the objects',
        {
          field: key === options.text ? 'text' : 'label',
        },
      );
  const textKey = options.text as string;
  const labelKey = options.label as string;
  lines.forEach((content, i) => {
    if (content.trim() === '') return;
    const line = i + 1;
    let row: unknown;
    try {
      row = JSON.parse(content);
    } catch (err) {
      throw new DataError(
        file,
        `holds a line that is not JSON (${(err as Error).message})`,
        'one JSON object per line',
        {
          line,
        },
      );
    }
    if (!row || typeof row !== 'object' || Array.isArray(row))
      throw new DataError(
        file,
        'holds a line that is not a JSON object',
        `objects such as {"${textKey}": "...", "${labelKey}": "..."}`,
        {
          line,
        },
      );
    const record = row as Record<string, unknown>;
    const where = { file, line };
    const field = (key: string, role: 'text' | 'label'): string => {
      const v = record[key];
      if (v === undefined)
        throw new DataError(
          file,
          `has no ${quote(key)} key (data.${role}) on this line`,
          `a ${role} under ${quote(key)} in every object (keys here: ${Object.keys(record).map(quote).join(', ') || 'none'})`,
          { line, field: role },
        );
      if (role === 'label' && typeof v === 'number' && Number.isInteger(v) && v >= 0) return String(v);
      if (typeof v !== 'string')
        throw new DataError(
          file,
          `has a ${role} ${quote(key)} that is ${v === null ? 'null' : typeof v}`,
          role === 'text' ? 'a string' : 'a class name (string) or a non-negative integer',
          { line, field: role },
        );
      return v;
    };
    table.texts.push(checkText(field(textKey, 'text'), where, `key ${quote(textKey)}`));
    table.labels.push(checkLabel(field(labelKey, 'label'), where, `key ${quote(labelKey)}`));
    table.origins.push(where);
  });
  if (table.texts.length === 0) throw new DataError(file, 'has only blank lines', 'one JSON object per line');
  return table;
}

/** `<dir>/<class>/*.txt`, one text per file; the class is the subfolder's name. */
function readFolders(dir: string): TextTable {
  let classes: string[];
  try {
    classes = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    throw new DataError(
      dir,
      `cannot be read as a folder (${(err as NodeJS.ErrnoException).code})`,
      'a folder of class subfolders',
    );
  }
  if (classes.length === 0)
    throw new DataError(
      dir,
      'has no subfolders',
      'one subfolder of .txt files per class (<folder>/<class>/<text>.txt)',
    );
  const table: TextTable = { texts: [], labels: [], origins: [], format: 'folders' };
  for (const name of classes) {
    const sub = path.join(dir, name);
    const files = fs
      .readdirSync(sub)
      .filter((f) => f.toLowerCase().endsWith('.txt'))
      .sort();
    if (files.length === 0) throw new DataError(sub, 'holds no .txt files', 'one .txt file per text of this class');
    for (const f of files) {
      const file = path.join(sub, f);
      const text = readDataFile(file, 'text file')
        .toString('utf8')
        .replace(/^\uFEFF/, '');
      table.texts.push(checkText(text, { file }, 'the whole file'));
      table.labels.push(name);
      table.origins.push({ file });
    }
  }
  return table;
}

export function readTexts(file: string, options: TextReadOptions): TextTable {
  const format = textFormatOf(file, options.format);
  if (format === 'folders') return readFolders(file);
  if (format === 'jsonl') return readJsonl(file, options);
  return readDelimited(file, format, options);
}

/** Class order: `classes` when given; else integer labels by value (0..max) or names sorted. */
export function textClasses(tables: TextTable[], classes: string[] | undefined): { names: string[]; integer: boolean } {
  if (classes) return { names: classes, integer: false };
  const all = new Set(tables.flatMap((t) => t.labels));
  const integer = [...all].every((l) => /^\d+$/.test(l));
  if (integer) {
    const max = Math.max(...[...all].map(Number));
    return { names: Array.from({ length: max + 1 }, (_, i) => String(i)), integer };
  }
  return { names: [...all].sort(), integer };
}

/** Each row's class index; a label outside `names` is an error at its row. */
export function labelIndices(table: TextTable, names: string[], integer: boolean, source: string): Int32Array {
  const index = new Map(names.map((n, i) => [n, i]));
  return Int32Array.from(table.labels, (l, i) => {
    const k = integer ? (/^\d+$/.test(l) ? Number(l) : -1) : index.get(l);
    if (k === undefined || k < 0 || k >= names.length) {
      const where = table.origins[i];
      throw new DataError(
        where.file,
        `has label ${quote(l)}, which ${source}`,
        `one of ${names.slice(0, 12).map(quote).join(', ')}${names.length > 12 ? ', ...' : ''}`,
        { line: where.line, field: 'label', found: l },
      );
    }
    return k;
  });
}
