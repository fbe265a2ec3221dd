/** A table of already formatted cells, rendered as Markdown or as aligned plain text. */
export interface Table {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Per column; numbers read best right-aligned. @default 'left' for every column */
  readonly align?: readonly ('left' | 'right')[];
}

function escapeMarkdownCell(cell: string): string {
  return cell.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A GitHub-flavoured Markdown table. */
export function markdownTable(table: Table): string {
  const align = table.header.map((_, i) => table.align?.[i] ?? 'left');
  const line = (cells: readonly string[]) => `| ${cells.map(escapeMarkdownCell).join(' | ')} |`;
  return [
    line(table.header),
    `|${align.map((a) => (a === 'right' ? '---:' : ':---')).join('|')}|`,
    ...table.rows.map(line),
  ].join('\n');
}

/** An aligned plain-text table for terminals: columns padded with spaces, a rule under the header. */
export function textTable(table: Table): string {
  const all = [table.header, ...table.rows];
  const widths = table.header.map((_, i) => Math.max(...all.map((row) => [...(row[i] ?? '')].length)));
  const pad = (cell: string, i: number) => {
    const fill = ' '.repeat(widths[i]! - [...cell].length);
    return table.align?.[i] === 'right' ? fill + cell : cell + fill;
  };
  const line = (cells: readonly string[]) =>
    table.header
      .map((_, i) => pad(cells[i] ?? '', i))
      .join('  ')
      .trimEnd();
  return [line(table.header), widths.map((w) => '─'.repeat(w)).join('  '), ...table.rows.map(line)].join('\n');
}
