/** The JSON Schema and the Markdown config reference, both generated from the zod schema. */
import { z } from 'zod';
import { configSchema } from './schema.ts';
import { sweepFileSchema } from '../sweep/schema.ts';

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema | JsonSchema[];
  prefixItems?: JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  minLength?: number;
  pattern?: string;
  [key: string]: unknown;
};

/** Draft-07 JSON Schema of a config as written by a user (defaults make fields optional). */
export function configJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7' }) as JsonSchema;
  schema.$id = 'https://distill-studio.dev/schema/distill.schema.json';
  schema.title = 'Distill Studio config (*.distill.json)';
  return schema;
}

/** Keys a sweep may not set (the seed is `seeds`). */
const UNSWEPT = new Set(['$schema', 'seeds', 'sweep', 'train.seed']);

/**
 * Every key path of a config with the JSON Schema of its value, for the editor's completion of
 * swept keys: leaves in full (a key of several variants gets each variant's schema), objects as
 * `object` only (their keys are listed themselves).
 */
function configKeyPaths(): Map<string, JsonSchema> {
  const found = new Map<string, JsonSchema[]>();
  const add = (key: string, schema: JsonSchema) => {
    const list = found.get(key) ?? [];
    if (!list.some((s) => JSON.stringify(s) === JSON.stringify(schema))) list.push(schema);
    found.set(key, list);
  };
  const walk = (s: JsonSchema, key: string) => {
    const alts = s.anyOf ?? s.oneOf;
    const objects = alts?.filter((a) => a.type === 'object' && a.properties);
    if ((s.type === 'object' && s.properties) || (objects && objects.length > 0)) {
      if (key) add(key, { type: 'object', ...(s.description ? { description: s.description } : {}) });
      for (const o of s.properties ? [s] : objects!)
        for (const [k, p] of Object.entries(o.properties!)) {
          const name = key ? `${key}.${k}` : k;
          if (!UNSWEPT.has(name)) walk(p, name);
        }
      return;
    }
    add(key, s);
  };
  walk(configJsonSchema(), '');
  // Large values (lists of layers, of terms, of stages) keep their type only: the config's own
  // tasks are checked by the config validation when the sweep is planned, and the file stays small.
  const brief = (s: JsonSchema): JsonSchema =>
    JSON.stringify(s).length > 3000 ? { ...(s.type ? { type: s.type } : {}), description: s.description } : s;
  return new Map(
    [...found].map(([key, list]) => [
      key,
      brief(list.length === 1 ? list[0] : { anyOf: list, description: list.find((s) => s.description)?.description }),
    ]),
  );
}

/**
 * Draft-07 JSON Schema of a `*.sweep.json` (the same zod source as the config's `sweep` key), with
 * every config key path listed under `grid`, `set` and `random.space`, so the editor completes
 * swept keys and checks grid values against the key's own schema.
 */
export function sweepJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(sweepFileSchema, { io: 'input', target: 'draft-7' }) as JsonSchema;
  schema.$id = 'https://distill-studio.dev/schema/sweep.schema.json';
  schema.title = 'Distill Studio sweep (*.sweep.json)';
  const keys = [...configKeyPaths()];
  const definitions: Record<string, JsonSchema> = {};
  keys.forEach(([key, value]) => (definitions[key] = value));
  schema.definitions = definitions;
  const ref = (key: string): JsonSchema => ({ $ref: `#/definitions/${encodeURIComponent(key).replace(/~/g, '~0')}` });
  const props = schema.properties!;
  props.grid.properties = Object.fromEntries(
    keys.map(([key, v]) => [key, { type: 'array', minItems: 1, items: ref(key), description: v.description }]),
  );
  props.set.properties = Object.fromEntries(keys.map(([key, v]) => [key, { ...ref(key), description: v.description }]));
  const space = props.random.properties!.space;
  definitions['#distribution'] = space.additionalProperties as JsonSchema;
  space.additionalProperties = ref('#distribution');
  space.properties = Object.fromEntries(
    keys.map(([key, v]) => [key, { ...ref('#distribution'), description: v.description }]),
  );
  return JSON.parse(JSON.stringify(schema)) as JsonSchema; // as written to the file (no undefined fields)
}

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' \\| ');
  if (s.type === 'array') {
    if (Array.isArray(s.items) || s.prefixItems)
      return `[${(s.prefixItems ?? (s.items as JsonSchema[])).map(typeOf).join(', ')}]`;
    return `${s.items ? typeOf(s.items) : 'any'}[]`;
  }
  if (s.type === 'integer') return 'integer';
  return String(s.type ?? 'object');
}

function range(s: JsonSchema): string {
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < 1e15) parts.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

const esc = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

type Variant = { title: string; schema: JsonSchema; prefix: string };

/** A union told apart by a constant-valued key (`type`, `source`, `method`), if `s` is one. */
function discriminated(s: JsonSchema): { tag: string; alts: JsonSchema[] } | undefined {
  const alts = s.oneOf ?? s.anyOf;
  if (!alts?.every((a) => a.properties && Object.values(a.properties).some((p) => p.const !== undefined)))
    return undefined;
  const tag = Object.keys(alts[0].properties!).find((k) => alts.every((a) => a.properties![k]?.const !== undefined));
  return tag ? { tag, alts } : undefined;
}

function rows(s: JsonSchema, prefix: string, out: string[][], variants: Variant[]): void {
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    if (key === '$schema') continue;
    const name = `${prefix}${key}`;
    const required = s.required?.includes(key) && prop.default === undefined;
    const def = prop.default !== undefined ? `\`${JSON.stringify(prop.default)}\`` : required ? 'required' : 'optional';
    // A union (or a list of one): one row here, one table per variant below.
    const items = prop.type === 'array' && prop.items && !Array.isArray(prop.items) ? prop.items : undefined;
    const union = discriminated(items ?? prop);
    if (union) {
      const { tag, alts } = union;
      const listed =
        alts.map((a) => `\`${JSON.stringify(a.properties![tag].const)}\``).join(' \\| ') + ` (by \`${tag}\`)`;
      out.push([
        `\`${name}\``,
        items ? `list of ${listed}${range({ minimum: prop.minItems })}` : listed,
        required ? 'required' : def,
        esc(prop.description ?? ''),
      ]);
      const element = items ? `${name}[]` : name;
      for (const a of alts)
        variants.push({
          title: `\`${element}\` with \`${tag}: ${JSON.stringify(a.properties![tag].const)}\``,
          schema: a,
          prefix: `${element}.`,
        });
      continue;
    }
    if (prop.type === 'object' && prop.properties) {
      out.push([`\`${name}\``, 'object', def, esc(prop.description ?? '')]);
      rows(prop, `${name}.`, out, variants);
    } else if (items?.type === 'object' && items.properties) {
      out.push([`\`${name}\``, 'list of objects', def, esc(prop.description ?? '')]);
      rows(items, `${name}[].`, out, variants);
    } else out.push([`\`${name}\``, `${typeOf(prop)}${range(prop)}`, def, esc(prop.description ?? '')]);
  }
}

function tableOf(s: JsonSchema, prefix: string, variants: Variant[]): string {
  const out: string[][] = [];
  rows(s, prefix, out, variants);
  return [
    '| key | type | default | description |',
    '| --- | --- | --- | --- |',
    ...out.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** The README's config reference: one table for the top level, one per variant of each union. */
export function configReferenceMarkdown(): string {
  const schema = configJsonSchema();
  const sections: string[] = [];
  const queue: Variant[] = [];
  sections.push(tableOf(schema, '', queue));
  // The same variant under another key (teacher.architecture is a student.architecture) is listed once.
  const seen = new Set<string>();
  while (queue.length) {
    const v = queue.shift()!;
    const body = JSON.stringify(v.schema);
    if (seen.has(body)) continue;
    seen.add(body);
    const desc = Object.values(v.schema.properties ?? {}).find((p) => p.const !== undefined)?.description;
    sections.push(`#### ${v.title}\n\n${desc ? `${desc}\n\n` : ''}${tableOf(v.schema, v.prefix, queue)}`);
  }
  return sections.join('\n\n');
}
