/**
 * The one error the hypervisor model throws for a request it refuses: a
 * code from the API contract (docs/api-contract.md) and one clear sentence.
 * The API maps codes to HTTP statuses (src/api/error-reply.ts).
 */
export type ErrorCode = "not_found" | "conflict" | "invalid" | "over_budget" | "unauthorized" | "forbidden" | "throttled";

export class HypervisorError extends Error {
  override name = "HypervisorError";
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string): HypervisorError => new HypervisorError("not_found", `${what} does not exist`);
export const conflict = (message: string): HypervisorError => new HypervisorError("conflict", message);
export const invalid = (message: string): HypervisorError => new HypervisorError("invalid", message);
