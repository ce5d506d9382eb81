/** User-facing configuration problems: each names the file, the JSON path, line and column. */
import { findNodeAtLocation, type Node } from 'jsonc-parser';

export type JsonPath = Array<string | number>;

export interface ConfigProblem {
  file: string;
  /** JSON path of the offending value ([] for the whole document). */
  path: JsonPath;
  /** 1-based; 0 when the position is unknown. */
  line: number;
  column: number;
  /** 0-based character offset and length of the span, for editors. */
  offset: number;
  length: number;
  message: string;
}

/** Raised for bad configs: the CLI prints the problems (no stack) and exits with code 2. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatPath(path: JsonPath): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `${where}: ${formatPath(p.path)}: ${p.message}`;
}

/** Maps offsets in a text to 1-based line and column. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.starts[lo] + 1 };
  }
}

/** The source of a config, so problems found later (by the engine) can still point at a line. */
export interface ConfigSource {
  file: string;
  text: string;
  tree: Node | undefined;
  lines: LineIndex;
}

/**
 * Locates a JSON path in the source: the value when present, else the nearest existing ancestor
 * (a missing key is reported at the object that should hold it). `onKey` points at the property
 * name instead of its value, as for unknown keys.
 */
export function problemAt(source: ConfigSource, path: JsonPath, message: string, onKey = false): ConfigProblem {
  let node: Node | undefined;
  for (let n = path.length; n >= 0 && !node; n--) {
    node = source.tree ? findNodeAtLocation(source.tree, path.slice(0, n)) : undefined;
    if (node && n < path.length) onKey = false;
  }
  if (node && onKey && node.parent?.type === 'property' && node.parent.children?.[0]) node = node.parent.children[0];
  const offset = node?.offset ?? 0;
  const { line, column } = source.tree ? source.lines.position(offset) : { line: 0, column: 0 };
  return { file: source.file, path, line, column, offset, length: node?.length ?? 0, message };
}
