/**
 * The end of a switch over a union: `default: return assertNever(x)` makes a new variant that the
 * switch does not handle a compile error (`x` is then not `never`), and throws if one slips
 * through at run time (an unchecked cast, a config from a newer version).
 */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
