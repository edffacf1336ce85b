/**
 * The /tab page: the default guest booted in this browser tab from the
 * daemon's images (GET /v1/guest/default), with the console's terminal.
 * Its disk writes stay in the tab's overlay (IndexedDB), never synced.
 * Signed-out visitors are sent to the console's sign-in first.
 */
import "@xterm/xterm/css/xterm.css";
import "./styles.css";
import { TabVm } from "../browser/tab-vm.ts";
import { api } from "./api.ts";
import { h } from "./dom.ts";
import { resumeSession } from "./session.ts";
import { VmTerminal } from "./terminal.ts";

interface DefaultGuest {
  memoryMiB: number;
  append: string;
  kernel: { url: string; sizeBytes: number };
  initrd: { url: string; sizeBytes: number };
  disk: { url: string; sizeBytes: number };
}

const root = document.getElementById("app") as HTMLElement;

async function main(): Promise<void> {
  if (!(await resumeSession())) {
    location.replace("/");
    return;
  }
  const status = h("p", { class: "muted", role: "status", "data-tab-status": "" }, "Fetching the default guest…");
  const terminal = new VmTerminal("default guest", true, false);
  root.replaceChildren(
    h("header", { class: "topbar" }, h("div", { class: "brand" }, h("img", { src: "/ui/icon.svg", alt: "", width: 24, height: 24 }), "Typevisor — the default guest in this tab")),
    h("main", { class: "tab-page" }, status, terminal.element),
  );
  const guest = await api<DefaultGuest>("GET", "/v1/guest/default");
  status.textContent = "Booting…";
  const vm = await TabVm.boot({
    memoryMiB: guest.memoryMiB,
    cpus: 1,
    kernelUrl: guest.kernel.url,
    initrdUrl: guest.initrd.url,
    append: guest.append,
    drives: [{ url: guest.disk.url, sizeBytes: guest.disk.sizeBytes, readonly: false, overlayKey: "tab-page/default-guest/disk" }],
    nics: [],
    request: { headers: {} },
  });
  terminal.attachTab(vm);
  terminal.focus();
  status.textContent = "Running in this tab.";
  vm.onState((state, reason) => (status.textContent = state === "crashed" ? `Crashed: ${reason ?? "unknown"}` : `The guest is ${state}.`));
}

main().catch((e: Error) => root.replaceChildren(h("p", { class: "error", role: "alert" }, `The guest could not start in this tab: ${e.message}`)));
