/** A column of a text table: its heading and which side its cells line up on. */
export interface Column {
  readonly title: string;
  readonly align?: 'left' | 'right';
}

/**
 * Lays out rows as an aligned text table: a heading line, then one line per row, columns separated by
 * two spaces, no trailing spaces. Cells are single-line strings; a missing cell is empty.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], indent = ''): string[] {
  const widths = columns.map((column, i) => Math.max(column.title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    indent +
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        return column.align === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.title)), ...rows.map(line)];
}
