/** A refused auth operation; `code` is the API error code the daemon answers with. */
export type AuthErrorCode = "invalid" | "forbidden" | "not_found" | "unauthorized";

const STATUS: Record<AuthErrorCode, number> = { invalid: 400, unauthorized: 401, forbidden: 403, not_found: 404 };

export class AuthError extends Error {
  override name = "AuthError";
  readonly status: number;
  constructor(readonly code: AuthErrorCode, message: string) {
    super(message);
    this.status = STATUS[code];
  }
}
