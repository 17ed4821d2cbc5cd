/**
 * CSV as RFC 4180 writes it, split into records of cells with the line each record starts on
 * (benchmark task data and post-training sources both read CSV).
 *
 * @module
 */

/**
 * Splits CSV text into records (RFC 4180: quoted cells may hold commas, quotes as `""` and line
 * breaks), each with the line it starts on.
 *
 * @example
 * ```ts
 * import { csvRecords } from "./csv.ts";
 * csvRecords('a,b\n"x\ny",2\n'); // [{ line: 1, cells: ["a", "b"] }, { line: 2, cells: ["x\ny", "2"] }]
 * ```
 */
export function csvRecords(text: string): { line: number; cells: string[] }[] {
  const out: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = "";
  let q = false;
  let line = 1, start = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') q = false;
      else {
        if (c === "\n") line++;
        cell += c;
      }
    } else if (c === '"') q = true;
    else if (c === ",") {
      cells.push(cell);
      cell = "";
    } else if (c === "\n") {
      cells.push(cell.replace(/\r$/, ""));
      out.push({ line: start, cells });
      cells = [];
      cell = "";
      start = ++line;
    } else cell += c;
  }
  if (cell !== "" || cells.length) {
    cells.push(cell.replace(/\r$/, ""));
    out.push({ line: start, cells });
  }
  return out;
}
