/** The console's session routes in OpenAPI 3 form, for the daemon's document (src/api/openapi.ts merges `paths`). */
const errorRef = { description: "error", content: { "application/json": { schema: { type: "object", properties: { error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" } } } } } } } };
const sessionView = {
  type: "object",
  properties: {
    name: { type: "string" },
    role: { type: "string", enum: ["admin", "operator", "viewer"] },
    scope: { oneOf: [{ type: "string", enum: ["*"] }, { type: "array", items: { type: "string" } }] },
    csrf: { type: "string", description: "send as X-Typevisor-CSRF on state-changing requests made with the cookie" },
    expiresAt: { type: "string", format: "date-time" },
    permissions: { type: "array", items: { type: "string" } },
    vmPermissions: { type: "array", items: { type: "string" }, description: "vm.* permissions on the VMs in scope" },
  },
};
const json = (schema: object) => ({ content: { "application/json": { schema } } });

export const SESSION_OPENAPI_PATHS = {
  "/v1/session": {
    post: {
      operationId: "sessionCreate",
      summary: "Browser sign-in: trades an API token for an HttpOnly SameSite=Strict cookie (tv_session)",
      requestBody: { required: true, ...json({ type: "object", required: ["token"], properties: { token: { type: "string" } }, additionalProperties: false }) },
      responses: { 201: { description: "signed in", ...json(sessionView) }, 400: errorRef, 401: errorRef, 403: errorRef, 429: errorRef },
    },
    get: {
      operationId: "sessionGet",
      summary: "The signed-in browser's session (role, permissions, CSRF value)",
      responses: { 200: { description: "session", ...json(sessionView) }, 401: errorRef },
    },
    delete: {
      operationId: "sessionDelete",
      summary: "Sign out: clears the cookie and ends the session",
      responses: { 204: { description: "signed out" }, 403: errorRef },
    },
  },
} as const;
