/** Exit statuses of the daemon verbs (vm, image, net, token), documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  unreachable: 3,
  unauthorized: 4,
  forbidden: 5,
  notFound: 6,
  conflict: 7,
  throttled: 8,
} as const;

/** The exit status for an HTTP error answer. */
export function exitCodeForStatus(status: number): number {
  switch (status) {
    case 400: case 422: return EXIT.usage;
    case 401: return EXIT.unauthorized;
    case 403: return EXIT.forbidden;
    case 404: return EXIT.notFound;
    case 409: return EXIT.conflict;
    case 429: return EXIT.throttled;
    default: return EXIT.error;
  }
}
