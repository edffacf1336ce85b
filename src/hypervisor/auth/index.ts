/** Authentication and authorization for the daemon's API (issue 12); see docs/auth.md. */
export { AuditLog, type AuditEntry } from "./audit-log.ts";
export { AuthError, type AuthErrorCode } from "./auth-error.ts";
export { FailureThrottle, type ThrottleOptions } from "./failure-throttle.ts";
export { can, isRole, OWNER, ROLE_PERMISSIONS, ROLES, scopeIncludes, type Permission, type Principal, type Role, type Scope } from "./roles.ts";
export { isStateChanging, ROUTE_POLICY, routePolicy, type RouteMatch, type RouteRule } from "./route-policy.ts";
export { checkTokenRequest, VM_NAME, type TokenRequest } from "./token-request.ts";
export { bearerToken, MAX_TOKEN_LENGTH } from "./token-secret.ts";
export { TokenStore, type CreatedToken, type TokenView } from "./token-store.ts";
