/**
 * API tokens, persisted in <data-dir>/tokens.json (mode 0600, replaced
 * atomically). Each record keeps the hash of its secret, never the secret.
 * A token is bounded by the principal that created it: role, scope and expiry
 * can only narrow, and revoking a token revokes every token made with it.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { AuthError } from "./auth-error.ts";
import { writeFileAtomic } from "../store/atomic-file.ts";
import { can, isRole, roleAtMost, scopeWithin, type Principal, type Role, type Scope } from "./roles.ts";
import { checkScope, checkTokenRequest } from "./token-request.ts";
import { bearerToken, hashSecret, newTokenSecret, parseToken, sameHash } from "./token-secret.ts";

export interface TokenView {
  id: string;
  name: string;
  role: Role;
  scope: Scope;
  createdAt: string;
  expiresAt: string | null;
  /** The token it was made with; null when the socket owner made it. */
  createdBy: string | null;
}
export interface CreatedToken extends Omit<TokenView, "createdBy"> { token: string }
interface TokenRecord extends TokenView { hash: string }

const FILE_VERSION = 1;
/** Compared against when the id is unknown, so a miss costs what a hit costs. */
const DUMMY_HASH = hashSecret("no such token");

export class TokenStore {
  private writes: Promise<void> = Promise.resolve();

  private constructor(private readonly file: string, private readonly records: Map<string, TokenRecord>, private readonly now: () => number) {}

  static async open(dataDir: string, options: { now?: () => number } = {}): Promise<TokenStore> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const file = join(dataDir, "tokens.json");
    let text: string | null = null;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    return new TokenStore(file, text === null ? new Map() : parseTokenFile(file, text), options.now ?? Date.now);
  }

  async create(creator: Principal, request: unknown): Promise<CreatedToken> {
    const req = checkTokenRequest(request);
    if (!can(creator, "token.write")) throw new AuthError("forbidden", `role ${creator.role} may not create tokens`);
    if (!roleAtMost(req.role, creator.role)) throw new AuthError("forbidden", `role ${creator.role} cannot create a token with role ${req.role}`);
    if (!scopeWithin(req.scope, creator.scope)) throw new AuthError("forbidden", "the token's scope must be within your own scope");
    const now = this.now();
    const creatorExpiry = this.expiryOf(creator);
    let expiresAt = req.expiresInSeconds !== undefined ? now + req.expiresInSeconds * 1000 : creatorExpiry;
    if (creatorExpiry !== null && (expiresAt === null || expiresAt > creatorExpiry))
      throw new AuthError("forbidden", `the token cannot outlive your own token (it expires ${new Date(creatorExpiry).toISOString()})`);
    const secret = newTokenSecret();
    const record: TokenRecord = {
      id: secret.id, name: req.name, role: req.role, scope: req.scope, hash: secret.hash,
      createdAt: new Date(now).toISOString(), expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
      createdBy: creator.tokenId,
    };
    this.records.set(record.id, record);
    this.dropExpired();
    await this.save();
    const { hash: _hash, createdBy: _by, ...view } = record;
    return { ...view, token: secret.token };
  }

  /** Tokens the viewer may see: an unscoped admin sees all; others their own token and those made from it. */
  list(viewer: Principal): TokenView[] {
    if (!can(viewer, "token.read")) return [];
    return [...this.records.values()].filter((r) => this.visibleTo(viewer, r.id)).map(viewOf);
  }

  /** Revokes a token and every token made with it. Unknown and invisible ids both answer not_found. */
  async revoke(by: Principal, id: string): Promise<void> {
    if (!can(by, "token.write")) throw new AuthError("forbidden", `role ${by.role} may not revoke tokens`);
    if (typeof id !== "string" || !this.records.has(id) || !this.visibleTo(by, id)) throw new AuthError("not_found", "no such token");
    const doomed = [...this.records.keys()].filter((r) => this.descendsFrom(r, id));
    for (const r of doomed) this.records.delete(r);
    await this.save();
  }

  /** The principal a bearer token (or a whole `Bearer …` header) stands for; null if unknown, malformed or expired. */
  authenticate(bearer: string): Principal | null {
    const parsed = parseToken(bearer) ?? parseToken(bearerToken(bearer) ?? "");
    const record = parsed ? this.records.get(parsed.id) : undefined;
    const match = sameHash(parsed ? hashSecret(parsed.secret) : DUMMY_HASH, record?.hash ?? DUMMY_HASH);
    if (!parsed || !record || !match || this.expired(record)) return null;
    return { tokenId: record.id, name: record.name, role: record.role, scope: record.scope };
  }

  private expiryOf(p: Principal): number | null {
    const at = p.tokenId === null ? null : this.records.get(p.tokenId)?.expiresAt;
    return at ? Date.parse(at) : null;
  }

  private expired(r: TokenRecord): boolean {
    return r.expiresAt !== null && Date.parse(r.expiresAt) <= this.now();
  }

  private visibleTo(viewer: Principal, id: string): boolean {
    if (viewer.scope === "*" && viewer.role === "admin" && can(viewer, "token.read")) return true;
    return viewer.tokenId !== null && this.descendsFrom(id, viewer.tokenId);
  }

  /** Is `id` the token `ancestor` or made (directly or not) with it? Ids are unique, so the chain ends. */
  private descendsFrom(id: string, ancestor: string): boolean {
    for (let r = this.records.get(id); r; r = r.createdBy === null ? undefined : this.records.get(r.createdBy))
      if (r.id === ancestor) return true;
    return false;
  }

  private dropExpired(): void {
    for (const r of [...this.records.values()]) if (this.expired(r)) this.records.delete(r.id);
  }

  /** Writes run one after another, each writing the whole current state. */
  private save(): Promise<void> {
    const text = `${JSON.stringify({ version: FILE_VERSION, tokens: [...this.records.values()] }, null, 2)}\n`;
    const write = this.writes.then(() => writeFileAtomic(this.file, text));
    this.writes = write.catch(() => {});
    return write;
  }
}

function viewOf(r: TokenRecord): TokenView {
  const { hash: _hash, ...view } = r;
  return view;
}

function parseTokenFile(file: string, text: string): Map<string, TokenRecord> {
  const bad = (why: string): never => {
    throw new Error(`${file} is damaged (${why}); restore it from a backup or delete it to revoke every token`);
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    bad("not JSON");
  }
  const { version, tokens } = (data ?? {}) as { version?: unknown; tokens?: unknown };
  if (version !== FILE_VERSION || !Array.isArray(tokens)) bad(`expected version ${FILE_VERSION} with a token list`);
  const records = new Map<string, TokenRecord>();
  for (const t of tokens as Record<string, unknown>[]) {
    const ok = typeof t === "object" && t !== null && typeof t.id === "string" && /^[0-9a-f]{16}$/.test(t.id) &&
      typeof t.name === "string" && isRole(t.role) && typeof t.hash === "string" && /^[0-9a-f]{64}$/.test(t.hash) &&
      typeof t.createdAt === "string" && (t.expiresAt === null || typeof t.expiresAt === "string") &&
      (t.createdBy === null || typeof t.createdBy === "string");
    if (!ok) bad("a token record is malformed");
    let scope: Scope = "*";
    try {
      scope = checkScope(t.scope);
    } catch {
      bad(`token ${t.id} has a malformed scope`);
    }
    records.set(t.id as string, { ...(t as unknown as TokenRecord), scope });
  }
  return records;
}
