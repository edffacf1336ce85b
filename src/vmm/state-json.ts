/**
 * Machine state ↔ JSON text for snapshot files. Device states are plain data
 * but may hold byte arrays (device tree, queued frames), which JSON cannot:
 * they travel as {"$bytes": base64}.
 */
import { fromBase64, toBase64 } from "./bytes-text.ts";

export function stateToJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v instanceof Uint8Array ? { $bytes: toBase64(v) } : v,
  );
}

/** Parses what stateToJson wrote; throws SyntaxError on malformed text. */
export function stateFromJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === "object" && typeof (v as { $bytes?: unknown }).$bytes === "string") {
      return fromBase64((v as { $bytes: string }).$bytes);
    }
    return v;
  });
}
