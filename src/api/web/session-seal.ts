/**
 * The browser's session cookie: the API token it was made from, sealed with
 * AES-256-GCM under a key kept in the data dir. The daemon keeps no session
 * table, so a session survives a daemon restart (the console reconnects with
 * no new sign-in), and every request re-authenticates the sealed token, so a
 * revoked token ends its sessions at once. The browser never sees the token
 * again after sign-in: the cookie is HttpOnly and opaque.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";

export interface SessionContents {
  /** Random id: names the session for sign-out and derives its CSRF value. */
  sid: string;
  token: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SessionSeal {
  private constructor(private readonly key: Buffer) {}

  /** A key that lasts as long as this process (sessions end with it). */
  static ephemeral(): SessionSeal {
    return new SessionSeal(randomBytes(KEY_BYTES));
  }

  /** The key in `file` (mode 0600), made on first use; written whole or not at all. */
  static async fromKeyFile(file: string): Promise<SessionSeal> {
    try {
      const key = await readFile(file);
      if (key.length === KEY_BYTES) return new SessionSeal(key);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const key = randomBytes(KEY_BYTES);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const handle = await open(tmp, "w", 0o600);
    try {
      await handle.writeFile(key);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(tmp, 0o600);
    await rename(tmp, file);
    return new SessionSeal(key);
  }

  seal(contents: SessionContents): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(contents), "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  /** The contents, or null for anything forged, damaged, malformed or expired. */
  open(cookie: string, now = Date.now()): SessionContents | null {
    const raw = Buffer.from(cookie, "base64url");
    if (raw.length <= IV_BYTES + TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
      const parsed = JSON.parse(text) as SessionContents;
      if (typeof parsed.sid !== "string" || typeof parsed.token !== "string" || typeof parsed.exp !== "number") return null;
      return parsed.exp > now ? parsed : null;
    } catch {
      return null;
    }
  }

  /** The CSRF value of a session: derived, so nothing is stored to check it. */
  csrfFor(sid: string): string {
    return createHmac("sha256", this.key).update(`csrf:${sid}`).digest("base64url");
  }

  csrfMatches(sid: string, presented: string | undefined): boolean {
    if (typeof presented !== "string") return false;
    const expected = Buffer.from(this.csrfFor(sid));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
