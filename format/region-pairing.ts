/**
 * How a RegionEnd event (which carries only its flow and type) is paired with a RegionStart: the rule
 * of the format (docs/format.md, "Meaning"), shared by the reader and by the flight recorder, which
 * follows the open regions of its window.
 */

/**
 * The index in `stack` (open regions of one flow, innermost last) of the region an end of `type`
 * closes: when the runtime said how many regions were nested in the ended one (`regionsAbove`), that
 * one if it has the end's type; otherwise the innermost region of that type; -1 when there is none.
 * Regions for which `isOpen` returns false are passed over, as if they were not on the stack.
 */
export function pairRegionEnd<T, R extends { readonly type: T }>(
  stack: readonly R[],
  type: T,
  regionsAbove: number,
  isOpen?: (region: R) => boolean,
): number {
  if (regionsAbove > 0) {
    let open = 0;
    for (let i = stack.length - 1; i >= 0; i--) {
      if (isOpen && !isOpen(stack[i])) continue;
      if (open === regionsAbove) {
        if (stack[i].type === type) return i;
        break;
      }
      open++;
    }
  }
  for (let i = stack.length - 1; i >= 0; i--) {
    if (stack[i].type === type && (!isOpen || isOpen(stack[i]))) return i;
  }
  return -1;
}
