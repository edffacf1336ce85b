/**
 * Who is signed in and what the role allows. The daemon enforces every
 * right itself; this only decides which controls the UI offers, so a viewer
 * is not shown buttons that would be refused.
 */
import { api, setCsrf, type SessionView } from "./api.ts";

let current: SessionView | null = null;

export function session(): SessionView {
  if (!current) throw new Error("not signed in");
  return current;
}

function adopt(view: SessionView): SessionView {
  current = view;
  setCsrf(view.csrf);
  return view;
}

/** The current session, or null when the browser is not signed in. */
export async function resumeSession(): Promise<SessionView | null> {
  try {
    return adopt(await api<SessionView>("GET", "/v1/session"));
  } catch {
    return null;
  }
}

export async function signIn(token: string): Promise<SessionView> {
  return adopt(await api<SessionView>("POST", "/v1/session", { token }));
}

export async function signOut(): Promise<void> {
  await api<void>("DELETE", "/v1/session");
  current = null;
}

export function allowed(permission: string, vmName?: string): boolean {
  if (!current) return false;
  if (vmName === undefined || !permission.startsWith("vm.")) return current.permissions.includes(permission);
  const inScope = current.scope === "*" || current.scope.includes(vmName);
  return inScope && current.vmPermissions.includes(permission);
}
