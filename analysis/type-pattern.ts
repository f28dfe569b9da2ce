/**
 * `--type`'s pattern: a task or region type written out, or with `*` standing for any run of characters
 * (`'cart.test.ts › *'`: every test of a file; `'* › *'`: every test of a traced Vitest run). A type
 * that holds a `*` itself is matched by writing it out: the `*` matches itself too.
 */
export function typeMatcher(pattern: string): (type: string) => boolean {
  if (!pattern.includes('*')) return (type) => type === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(`^${source}$`, 's');
  return (type) => regex.test(type);
}
