/** Reading and validating a `*.distill.json`: every problem at once, each with its position. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import type { z } from 'zod';
import { configSchema, type DistillConfig } from './schema.ts';
import { ConfigError, LineIndex, problemAt, type ConfigProblem, type ConfigSource, type JsonPath } from './problems.ts';
import { closest } from './suggest.ts';

export interface LoadedConfig {
  /** Validated, with defaults filled in and every path made absolute. */
  config: DistillConfig;
  source: ConfigSource;
}

/** Reads, parses, validates and resolves a config file; throws ConfigError with all problems. */
export function loadConfigFile(file: string): LoadedConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    if (fs.statSync(abs).isDirectory())
      throw new ConfigError([fileProblem(abs, 'is a folder; expected a *.distill.json file')]);
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([fileProblem(abs, describeFsError(err, 'config file'))]);
  }
  return parseConfigText(text, abs);
}

/** Validates config text as if it were at `file` (relative paths resolve from its folder). */
export function parseConfigText(text: string, file: string): LoadedConfig {
  const result = validateConfigText(text, file);
  if (!result.config) throw new ConfigError(result.problems);
  return { config: result.config, source: result.source };
}

export interface ValidationResult {
  config?: DistillConfig;
  source: ConfigSource;
  problems: ConfigProblem[];
}

/** Never throws for bad input: returns the problems (the editor shows them as diagnostics). */
export function validateConfigText(
  text: string,
  file: string,
  options: { checkFiles?: boolean } = {},
): ValidationResult {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  const source: ConfigSource = { file, text, tree, lines: new LineIndex(text) };
  if (errors.length > 0 || !tree) {
    const problems = errors.map((e) => {
      const { line, column } = source.lines.position(e.offset);
      return {
        file,
        path: [],
        line,
        column,
        offset: e.offset,
        length: e.length,
        message: `invalid JSON: ${describeParseError(e)}`,
      };
    });
    if (problems.length === 0)
      problems.push({
        file,
        path: [],
        line: 1,
        column: 1,
        offset: 0,
        length: 0,
        message: 'the file is empty; expected a JSON object',
      });
    return { source, problems };
  }
  const raw: unknown = JSON.parse(text);
  const problems: ConfigProblem[] = [];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) for (const issue of parsed.error.issues) problems.push(...issueProblems(issue, raw, source));
  const dir = path.dirname(file);
  if (options.checkFiles !== false) problems.push(...checkFiles(raw, dir, source));
  problems.sort((a, b) => a.offset - b.offset);
  if (!parsed.success || problems.length > 0) return { source, problems };
  return { config: resolvePaths(parsed.data, dir), source, problems };
}

/**
 * Validates JSON text against another schema of this zod source (a `*.sweep.json`), with the
 * config's located messages; never throws for bad input.
 */
export function validateJsonText<T extends z.ZodType>(
  text: string,
  file: string,
  schema: T,
): { value?: z.output<T>; source: ConfigSource; problems: ConfigProblem[] } {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  const source: ConfigSource = { file, text, tree, lines: new LineIndex(text) };
  if (errors.length > 0 || !tree) {
    const problems = errors.map((e) => ({
      ...problemAt({ ...source, tree: undefined }, [], `invalid JSON: ${describeParseError(e)}`),
      ...source.lines.position(e.offset),
      offset: e.offset,
      length: e.length,
    }));
    if (problems.length === 0)
      problems.push({ ...fileProblem(file, 'the file is empty; expected a JSON object'), line: 1, column: 1 });
    return { source, problems };
  }
  const raw: unknown = JSON.parse(text);
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { value: parsed.data as z.output<T>, source, problems: [] };
  const problems = parsed.error.issues.flatMap((issue) => issueProblems(issue, raw, source, schema));
  problems.sort((a, b) => a.offset - b.offset);
  return { source, problems };
}

function fileProblem(file: string, message: string): ConfigProblem {
  return { file, path: [], line: 0, column: 0, offset: 0, length: 0, message };
}

function describeParseError(e: ParseError): string {
  const code = printParseErrorCode(e.error);
  const words: Record<string, string> = {
    InvalidSymbol: 'unexpected character',
    InvalidNumberFormat: 'malformed number',
    PropertyNameExpected: 'expected a property name in double quotes',
    ValueExpected: 'expected a value',
    ColonExpected: 'expected ":"',
    CommaExpected: 'expected ","',
    CloseBraceExpected: 'expected "}"',
    CloseBracketExpected: 'expected "]"',
    EndOfFileExpected: 'expected the end of the file',
    InvalidCommentToken: 'comments are not allowed in JSON',
    UnexpectedEndOfComment: 'unterminated comment',
    UnexpectedEndOfString: 'unterminated string',
    UnexpectedEndOfNumber: 'unterminated number',
    InvalidUnicode: 'invalid unicode escape',
    InvalidEscapeCharacter: 'invalid escape character',
    InvalidCharacter: 'invalid character in string',
  };
  return words[code] ?? code;
}

export function describeFsError(err: unknown, what: string): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return `the ${what} does not exist`;
  if (code === 'EACCES' || code === 'EPERM') return `the ${what} cannot be read (permission denied)`;
  if (code === 'EISDIR') return `is a folder; expected a ${what}`;
  return `the ${what} cannot be read (${code ?? String(err)})`;
}

function valueAt(root: unknown, p: JsonPath): unknown {
  let v: unknown = root;
  for (const key of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function typeWord(t: string): string {
  const words: Record<string, string> = {
    int: 'an integer',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    object: 'an object',
    array: 'an array',
  };
  return words[t] ?? t;
}

type Issue = z.core.$ZodIssue;

function issueProblems(
  issue: Issue,
  raw: unknown,
  source: ConfigSource,
  schema: z.ZodType = configSchema,
): ConfigProblem[] {
  const p = issue.path as JsonPath;
  const found = valueAt(raw, p);
  switch (issue.code) {
    case 'invalid_type':
      if (found === undefined) return [problemAt(source, p, `is required; expected ${typeWord(issue.expected)}`)];
      return [problemAt(source, p, `expected ${typeWord(issue.expected)}, found ${describeValue(found)}`)];
    case 'too_small':
    case 'too_big': {
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const what =
        issue.origin === 'array'
          ? 'an array with length'
          : issue.origin === 'string'
            ? 'a string with length'
            : issue.origin === 'int'
              ? 'an integer'
              : 'a number';
      const shown =
        issue.origin === 'array' && Array.isArray(found) ? `an array of ${found.length}` : describeValue(found);
      return [problemAt(source, p, `expected ${what} ${op} ${String(bound)}, found ${shown}`)];
    }
    case 'invalid_value': {
      const options = issue.values.map((v) => JSON.stringify(v));
      const guess = typeof found === 'string' ? closest(found, issue.values.map(String)) : undefined;
      return [
        problemAt(
          source,
          p,
          `expected one of ${options.join(', ')}, found ${describeValue(found)}${guess ? ` (did you mean "${guess}"?)` : ''}`,
        ),
      ];
    }
    case 'unrecognized_keys': {
      const known = knownKeysAt(raw, p, schema);
      return issue.keys.map((key) => {
        const guess = closest(key, known);
        const hint = guess ? `did you mean "${guess}"?` : `expected one of ${known.map((k) => `"${k}"`).join(', ')}`;
        return problemAt(source, [...p, key], `unknown key "${key}"; ${hint}`, true);
      });
    }
    case 'invalid_union': {
      const disc = (issue as { discriminator?: string }).discriminator;
      if (disc !== undefined) {
        const discPath = p[p.length - 1] === disc ? p : [...p, disc];
        const options = ((issue as { options?: unknown[] }).options ?? []).map(String);
        const value = valueAt(raw, discPath);
        const guess = typeof value === 'string' ? closest(value, options) : undefined;
        const expected = `expected one of ${options.map((o) => `"${o}"`).join(', ')}`;
        if (value === undefined) return [problemAt(source, discPath, `is required; ${expected}`)];
        return [
          problemAt(
            source,
            discPath,
            `${expected}, found ${describeValue(value)}${guess ? ` (did you mean "${guess}"?)` : ''}`,
          ),
        ];
      }
      return [problemAt(source, p, `${issue.message}, found ${describeValue(found)}`)];
    }
    case 'invalid_format':
      if (p[p.length - 1] === 'name')
        return [
          problemAt(
            source,
            p,
            `expected letters, digits, ".", "_" or "-" (starting with a letter or digit), found ${describeValue(found)}`,
          ),
        ];
      return [problemAt(source, p, `${issue.message}, found ${describeValue(found)}`)];
    default:
      return [problemAt(source, p, `${issue.message}, found ${describeValue(found)}`)];
  }
}

/** The keys an object at `p` may have, found by walking the schema along the data. */
function knownKeysAt(raw: unknown, p: JsonPath, root: z.ZodType): string[] {
  let schema: unknown = root;
  for (let i = 0; i <= p.length; i++) {
    schema = unwrap(schema, valueAt(raw, p.slice(0, i)));
    if (i === p.length) break;
    const def = (schema as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'object') schema = (def.shape as Record<string, unknown>)[p[i] as string];
    else if (def.type === 'array') schema = def.element;
    else return [];
    if (!schema) return [];
  }
  const def = (schema as { _zod: { def: Record<string, unknown> } })._zod.def;
  return def.type === 'object' ? Object.keys(def.shape as object) : [];
}

function unwrap(schema: unknown, value: unknown): unknown {
  for (;;) {
    const def = (schema as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'prefault' || def.type === 'nullable')
      schema = def.innerType;
    else if (def.type === 'union' && typeof def.discriminator === 'string') {
      const tag =
        value && typeof value === 'object' ? (value as Record<string, unknown>)[def.discriminator] : undefined;
      const options = def.options as Array<{
        _zod: { def: { shape: Record<string, { _zod: { def: { values?: unknown[] } } }> } };
      }>;
      const match = options.find((o) => o._zod.def.shape[def.discriminator as string]?._zod.def.values?.includes(tag));
      if (!match) return schema;
      schema = match;
    } else return schema;
  }
}

interface FileField {
  path: JsonPath;
  kind: 'file' | 'dir';
  what: string;
}

/** Paths in the raw config that must exist, checked even when other fields are invalid. */
function fileFields(raw: unknown): FileField[] {
  const fields: FileField[] = [];
  const data = valueAt(raw, ['data']) as Record<string, unknown> | undefined;
  if (data?.source === 'idx') {
    if (typeof data.dir === 'string') fields.push({ path: ['data', 'dir'], kind: 'dir', what: 'data folder' });
    for (const split of ['train', 'test'])
      for (const key of ['images', 'labels'])
        if (typeof valueAt(data, [split, key]) === 'string')
          fields.push({ path: ['data', split, key], kind: 'file', what: `${split} ${key} file` });
  }
  if (data?.source === 'csv') {
    for (const split of ['train', 'test'])
      if (typeof data[split] === 'string')
        fields.push({ path: ['data', split], kind: 'file', what: `${split} CSV file` });
  }
  if (data?.source === 'images') {
    for (const split of ['train', 'test'])
      if (typeof data[split] === 'string')
        fields.push({ path: ['data', split], kind: 'dir', what: `${split} image folder` });
  }
  if (data?.source === 'npy') {
    for (const split of ['train', 'test'])
      for (const key of ['x', 'y'])
        if (typeof valueAt(data, [split, key]) === 'string')
          fields.push({ path: ['data', split, key], kind: 'file', what: `${split} ${key} NumPy file` });
  }
  const unlabeled = valueAt(raw, ['data', 'unlabeled']) as Record<string, unknown> | undefined;
  const unlabeledField = unlabeled && UNLABELED_LOCATION[String(unlabeled.source)];
  if (unlabeledField && typeof unlabeled[unlabeledField.key] === 'string')
    fields.push({
      path: ['data', 'unlabeled', unlabeledField.key],
      kind: unlabeledField.kind,
      what: unlabeledField.what,
    });
  const teacherSource = valueAt(raw, ['teacher', 'source']);
  if ((teacherSource === 'tfjs' || teacherSource === 'onnx') && typeof valueAt(raw, ['teacher', 'path']) === 'string')
    fields.push({ path: ['teacher', 'path'], kind: 'file', what: 'teacher model file' });
  return fields;
}

/** The location field of each `data.unlabeled` source. */
const UNLABELED_LOCATION: Record<string, { key: string; kind: FileField['kind']; what: string }> = {
  idx: { key: 'images', kind: 'file', what: 'unlabeled IDX images file' },
  csv: { key: 'file', kind: 'file', what: 'unlabeled CSV file' },
  npy: { key: 'x', kind: 'file', what: 'unlabeled NumPy file' },
  images: { key: 'dir', kind: 'dir', what: 'unlabeled image folder' },
};

function checkFiles(raw: unknown, dir: string, source: ConfigSource): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const field of fileFields(raw)) {
    const rel = valueAt(raw, field.path) as string;
    const abs = path.resolve(dir, rel);
    try {
      const stat = fs.statSync(abs);
      if (field.kind === 'file' && stat.isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' });
      if (field.kind === 'dir' && !stat.isDirectory()) {
        problems.push(problemAt(source, field.path, `${abs} is a file; expected a folder`));
        continue;
      }
      fs.accessSync(abs, fs.constants.R_OK);
    } catch (err) {
      problems.push(problemAt(source, field.path, `${abs}: ${describeFsError(err, field.what)}`));
    }
  }
  // An idx source needs each split from somewhere: explicit files or a folder.
  const data = valueAt(raw, ['data']) as Record<string, unknown> | undefined;
  if (data?.source === 'idx' && typeof data.dir !== 'string') {
    for (const split of ['train', 'test'])
      if (data[split] === undefined)
        problems.push(
          problemAt(
            source,
            ['data', split],
            `is required when "dir" is not given; expected {"images": ..., "labels": ...}`,
          ),
        );
  }
  return problems;
}

/** Absolute paths everywhere, so a config snapshot works from any folder (resume, the extension). */
export function resolvePaths(config: DistillConfig, dir: string): DistillConfig {
  const r = (p: string) => path.resolve(dir, p);
  const c = structuredClone(config);
  const data = c.data;
  if (data.source === 'idx') {
    if (data.dir) data.dir = r(data.dir);
    if (data.train) data.train = { images: r(data.train.images), labels: r(data.train.labels) };
    if (data.test) data.test = { images: r(data.test.images), labels: r(data.test.labels) };
  } else if (data.source === 'csv' || data.source === 'images') {
    data.train = r(data.train);
    if (data.test) data.test = r(data.test);
  } else if (data.source === 'text') {
    data.train = r(data.train);
    if (data.test) data.test = r(data.test);
    if (data.tokenizer.type === 'huggingface') data.tokenizer.file = r(data.tokenizer.file);
  } else if (data.source === 'npy') {
    data.train = { ...data.train, x: r(data.train.x), y: r(data.train.y) };
    if (data.test) data.test = { ...data.test, x: r(data.test.x), y: r(data.test.y) };
  }
  const u = data.unlabeled;
  if (u?.source === 'idx') u.images = r(u.images);
  else if (u?.source === 'csv') u.file = r(u.file);
  else if (u?.source === 'npy') u.x = r(u.x);
  else if (u?.source === 'images') u.dir = r(u.dir);
  if (c.teacher.source === 'tfjs' || c.teacher.source === 'onnx') c.teacher.path = r(c.teacher.path);
  if (c.teacher.source === 'onnx' && c.teacher.tokenizer) c.teacher.tokenizer = r(c.teacher.tokenizer);
  c.output.dir = r(c.output.dir);
  c.cache.dir = r(c.cache.dir);
  return c;
}
