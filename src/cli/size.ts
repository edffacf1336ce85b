/** Parses a memory size as QEMU's -m takes it: "256M", "1G", "512" (MiB), "1048576K", "size=1G". */
const UNITS: Record<string, number> = { "": 2 ** 20, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes, or null when `text` is not a size. */
export function parseSize(text: string): number | null {
  const m = /^(?:size=)?(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) return null;
  const bytes = Number(m[1]) * UNITS[m[2].toUpperCase()];
  return Number.isSafeInteger(bytes) ? bytes : null;
}
