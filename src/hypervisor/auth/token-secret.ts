/**
 * Bearer tokens `tvk_<id>_<secret>`: a 64-bit public id (hex) and a 256-bit
 * secret (base64url) from crypto.randomBytes. Only SHA-256(secret) is kept.
 * A salted slow hash (scrypt) protects low-entropy passwords against guessing;
 * a 256-bit random secret cannot be guessed at any speed, so a fast hash is as
 * safe here and keeps each authenticated request cheap (scrypt would cost
 * ~50 ms of CPU per request: a denial-of-service lever).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const TOKEN = /^tvk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Longest string worth parsing; anything longer is refused before any work. */
export const MAX_TOKEN_LENGTH = 128;

export interface NewSecret { id: string; token: string; hash: string }

export function newTokenSecret(): NewSecret {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, token: `tvk_${id}_${secret}`, hash: hashSecret(secret) };
}

export function parseToken(token: string): { id: string; secret: string } | null {
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) return null;
  const m = TOKEN.exec(token);
  return m ? { id: m[1], secret: m[2] } : null;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Constant-time comparison of two hex SHA-256 digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

/** The token in an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (typeof header !== "string" || header.length > MAX_TOKEN_LENGTH + 16) return null;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1] : null;
}
