/**
 * Machine state ↔ JSON text for snapshot files. Device states are plain data
 * but may hold byte arrays (device tree, queued frames), which JSON cannot:
 * they travel as {"$bytes": base64}.
 */

export function stateToJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v instanceof Uint8Array ? { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") } : v,
  );
}

/** Parses what stateToJson wrote; throws SyntaxError on malformed text. */
export function stateFromJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === "object" && typeof (v as { $bytes?: unknown }).$bytes === "string") {
      return new Uint8Array(Buffer.from((v as { $bytes: string }).$bytes, "base64"));
    }
    return v;
  });
}
