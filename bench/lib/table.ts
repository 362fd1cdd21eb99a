// Plain-text tables for the terminal: one header row, right-aligned numbers.

export type Cell = string | number | null | undefined;

export function fmt(x: Cell, digits?: number): string {
  if (x === null || x === undefined) return '-';
  if (typeof x === 'string') return x;
  if (!Number.isFinite(x)) return '-';
  const d = digits ?? (Number.isInteger(x) || Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** A ratio as "1.23x", or "-" when it cannot be computed. */
export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : '-';
}

export function renderTable(title: string, header: string[], rows: Cell[][], notes: string[] = []): string {
  const cells = [header, ...rows.map((r) => r.map((c) => fmt(c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? (c ?? '').padEnd(widths[i]) : (c ?? '').padStart(widths[i]))).join('  ');
  const out = [`== ${title}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
  for (const n of notes) out.push(`   ${n}`);
  return out.join('\n');
}
