/**
 * Sorts row indexes by a comparator, in place, unless they are in order already: a trace's rows usually
 * are (tasks are numbered and started in order), and one pass of checks is far cheaper than a sort with
 * a comparator over a million rows.
 */
export function sortRows<R extends Int32Array>(rows: R, compare: (a: number, b: number) => number): R {
  for (let k = 1; k < rows.length; k++) {
    if (compare(rows[k - 1], rows[k]) > 0) return rows.sort(compare);
  }
  return rows;
}
