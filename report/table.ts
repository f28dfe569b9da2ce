/** A column of a text table: its heading and which side its cells line up on. */
export interface Column {
  readonly title: string;
  readonly align?: 'left' | 'right';
}

/** The width of each column: its title's or its longest cell's. Rows may be many: no spreading. */
export function columnWidths(columns: readonly Column[], rows: Iterable<readonly string[]>): number[] {
  const widths = columns.map((column) => column.title.length);
  for (const row of rows) {
    for (let i = 0; i < widths.length; i++) {
      const length = (row[i] ?? '').length;
      if (length > widths[i]) widths[i] = length;
    }
  }
  return widths;
}

/** One line of a table: cells padded to `widths`, two spaces apart, no trailing spaces. */
export function tableLine(columns: readonly Column[], widths: readonly number[], cells: readonly string[], indent = ''): string {
  return (
    indent +
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        return column.align === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      })
      .join('  ')
      .trimEnd()
  );
}

/**
 * Lays out rows as an aligned text table: a heading line, then one line per row, columns separated by
 * two spaces, no trailing spaces. Cells are single-line strings; a missing cell is empty.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], indent = ''): string[] {
  const widths = columnWidths(columns, rows);
  return [tableLine(columns, widths, columns.map((column) => column.title), indent), ...rows.map((row) => tableLine(columns, widths, row, indent))];
}

/** A long table, as chunks of text of many lines each: the rows are made twice (widths first), never all held. */
export function* tableChunks(columns: readonly Column[], count: number, row: (index: number) => readonly string[]): Generator<string> {
  const widths = columnWidths(columns, (function* () {
    for (let i = 0; i < count; i++) yield row(i);
  })());
  let chunk = tableLine(columns, widths, columns.map((column) => column.title)) + '\n';
  for (let i = 0; i < count; i++) {
    chunk += tableLine(columns, widths, row(i)) + '\n';
    if (chunk.length >= 64 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
