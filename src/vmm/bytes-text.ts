/**
 * Bytes ↔ hex and base64 text without Node's Buffer, so snapshot encoding
 * builds for a browser worker too. Node's Buffer is used where present:
 * state-json carries snapshot=on overlays of many MiB through base64.
 */
type NodeBytes = Uint8Array & { toString(encoding: string): string };
interface NodeBuffer {
  from(data: string, encoding: string): NodeBytes;
  from(data: ArrayBufferLike, offset: number, length: number): NodeBytes;
}
const NodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Decodes hex digits; a malformed string gives the bytes up to the first bad pair (as Buffer does). */
export function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length >>> 1);
  for (let i = 0; i < out.length; i++) {
    const b = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
    if (Number.isNaN(b)) return out.subarray(0, i);
    out[i] = b;
  }
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer !== undefined) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  if (NodeBuffer !== undefined) return new Uint8Array(NodeBuffer.from(text, "base64"));
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
