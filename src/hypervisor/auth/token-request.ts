/**
 * Checks a token creation request from an untrusted body: every field's type
 * and size, so that nothing odd reaches tokens.json or the audit log.
 */
import { AuthError } from "./auth-error.ts";
import { isRole, ROLES, type Role, type Scope } from "./roles.ts";

export interface TokenRequest { name: string; role: Role; scope: Scope; expiresInSeconds?: number }

/** VM names as scopes may hold them (the daemon's VM names obey the same rule). */
export const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MAX_SCOPE_NAMES = 256;
const MAX_NAME_LENGTH = 64;
const MAX_EXPIRY_SECONDS = 10 * 365 * 24 * 3600;

export function checkTokenRequest(body: unknown): TokenRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) invalid("the request must be a JSON object");
  const { name, role, scope, expiresInSeconds } = body as Record<string, unknown>;
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH || /[\x00-\x1f\x7f-\x9f]/.test(name))
    invalid(`token name must be 1-${MAX_NAME_LENGTH} printable characters`);
  if (!isRole(role)) invalid(`role must be one of ${ROLES.join(", ")}`);
  const checkedScope = checkScope(scope);
  if (expiresInSeconds !== undefined &&
      (!Number.isSafeInteger(expiresInSeconds) || (expiresInSeconds as number) < 1 || (expiresInSeconds as number) > MAX_EXPIRY_SECONDS))
    invalid(`expiresInSeconds must be a whole number from 1 to ${MAX_EXPIRY_SECONDS}`);
  return { name, role, scope: checkedScope, ...(expiresInSeconds !== undefined ? { expiresInSeconds: expiresInSeconds as number } : {}) };
}

export function checkScope(scope: unknown): Scope {
  if (scope === "*") return "*";
  if (!Array.isArray(scope) || scope.length === 0 || scope.length > MAX_SCOPE_NAMES)
    invalid(`scope must be "*" or a list of 1-${MAX_SCOPE_NAMES} VM names`);
  for (const vm of scope) if (typeof vm !== "string" || !VM_NAME.test(vm)) invalid("scope holds a name that is not a valid VM name");
  return Object.freeze([...new Set(scope as string[])]);
}

function invalid(message: string): never {
  throw new AuthError("invalid", message);
}
