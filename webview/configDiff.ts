/**
 * What differs between the configs of runs compared side by side: every leaf whose value is not
 * the same in all of them, as a dotted path (`distill.temperature`, `student.architecture.hidden`)
 * with each run's value. Arrays are compared whole (a list of layers is one value). Pure.
 */

export interface ConfigChange {
  path: string;
  /** One per config, in order; undefined where the key is absent. */
  values: unknown[];
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Leaves of a config by dotted path (an empty object is a leaf). */
function leaves(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, value);
}

/** A stable text of a value (object keys sorted), to compare and to show. */
export function valueText(v: unknown): string {
  if (v === undefined) return '(absent)';
  return JSON.stringify(v, (_k, x: unknown) =>
    isPlainObject(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map((k) => [k, x[k]]),
        )
      : x,
  );
}

/** The keys whose values differ between the configs, in the first config's key order, then the others'. */
export function configDiff(configs: readonly unknown[]): ConfigChange[] {
  const flat = configs.map((c) => {
    const m = new Map<string, unknown>();
    leaves(c, '', m);
    return m;
  });
  const paths = [...new Set(flat.flatMap((m) => [...m.keys()]))];
  return paths.flatMap((p) => {
    const values = flat.map((m) => m.get(p));
    const texts = new Set(values.map(valueText));
    return texts.size > 1 ? [{ path: p, values }] : [];
  });
}
