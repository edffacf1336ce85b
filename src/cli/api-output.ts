/** Output of the daemon verbs: aligned tables for people, JSON for scripts (`--output json`). */
import { escapeText } from "../util/escape-text.ts";

export type OutputFormat = "table" | "json";
export interface Column<T> { header: string; value: (row: T) => unknown }

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Columns separated by two spaces; values from the daemon are escaped so they cannot move the cursor. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((r) => columns.map((c) => cell(c.value(r))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => row.map((v, i) => (i === row.length - 1 ? v : v.padEnd(widths[i]))).join("  ").trimEnd()).join("\n") + "\n";
}

/** `key: value` lines, as `virsh dominfo` prints them. */
export function formatFields(fields: readonly [string, unknown][]): string {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width)} ${cell(v)}`).join("\n") + "\n";
}

export function print<T>(format: OutputFormat, value: T, human: (value: T) => string): void {
  if (format === "json") printJson(value);
  else process.stdout.write(human(value));
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (Array.isArray(v)) return v.length === 0 ? "-" : v.map(cell).join(",");
  if (typeof v === "object") return escapeText(JSON.stringify(v));
  return escapeText(String(v));
}
