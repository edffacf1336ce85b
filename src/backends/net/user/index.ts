/** `--net user[,…]`: the user-mode NAT backend built from its option string. */
import { UserNetBackend } from "./user-net.ts";
import { parseUserNetSpec } from "./options.ts";

export { UserNetBackend } from "./user-net.ts";
export { UserNetOptionError, parseUserNetSpec, defaultUserNetConfig, type UserNetConfig, type HostForward } from "./options.ts";

/** True for specs this backend takes: "user" or "user,OPTIONS". */
export function isUserNetSpec(spec: string): boolean {
  return spec === "user" || spec.startsWith("user,");
}

/**
 * Parses the spec and opens the backend with its port forwards bound.
 * Rejects with UserNetOptionError (bad option) or an Error naming the
 * forward that could not listen; both messages are one line.
 */
export async function openUserNet(spec: string): Promise<UserNetBackend> {
  const backend = new UserNetBackend(parseUserNetSpec(spec));
  try {
    await backend.ready();
  } catch (e) {
    backend.close();
    throw e;
  }
  return backend;
}
