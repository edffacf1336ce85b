/** Short notices at the corner of the page; screen readers hear them too. */
import { h } from "./dom.ts";

let region: HTMLElement | null = null;

export function toast(message: string, kind: "info" | "error" = "info"): void {
  if (!region || !region.isConnected) {
    region = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(region);
  }
  const note = h("div", { class: `toast ${kind}` }, message);
  region.append(note);
  setTimeout(() => note.remove(), kind === "error" ? 8000 : 4000);
}
