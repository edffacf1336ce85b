/**
 * The signed-in console: top bar, live VM list and the selected VM's panel.
 * The list follows the daemon's event stream (state changes redraw at once)
 * and a 2-second poll that feeds the CPU/IO rates.
 */
import { api, ApiError, type Vm } from "./api.ts";
import { openCreateForm } from "./create-form.ts";
import { clear, h } from "./dom.ts";
import { allowed, session, signOut } from "./session.ts";
import { record } from "./stats-history.ts";
import { toast } from "./toast.ts";
import { VmList } from "./vm-list.ts";
import { VmPanel } from "./vm-panel.ts";

const POLL_MS = 2000;

interface HostView {
  vms?: { total: number; running: number };
  used?: { memoryBytes: number; vcpus: number };
  budget?: { memoryBytes: number; vcpus: number };
}

export function startApp(root: HTMLElement, onSignedOut: (notice?: string) => void): () => void {
  const s = session();
  let vms: Vm[] = [];
  let selected: string | null = location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : null;
  let panel: VmPanel | null = null;
  let stopped = false;

  const connection = h("span", { class: "connection", role: "status" });
  const hostSummary = h("span", { class: "host-summary" });
  const detail = h("div", { class: "vm-detail" });
  const list = new VmList((name) => select(name));
  const newButton = allowed("vm.create") ? h("button", { class: "primary", onclick: () => void create() }, "New VM") : null;

  root.replaceChildren(
    h("header", { class: "topbar" },
      h("div", { class: "brand" }, h("img", { src: "/ui/icon.svg", alt: "", width: 24, height: 24 }), "Typevisor"),
      hostSummary,
      connection,
      h("div", { class: "who" },
        h("span", {}, s.name, " · ", h("span", { class: `role role-${s.role}` }, s.role)),
        h("button", { class: "secondary small", onclick: () => void doSignOut() }, "Sign out"),
      ),
    ),
    h("main", { class: "layout" },
      h("section", { class: "sidebar", "aria-labelledby": "vms-title" },
        h("div", { class: "section-head" }, h("h2", { id: "vms-title" }, "Virtual machines"), newButton),
        list.element,
      ),
      detail,
    ),
  );

  function select(name: string | null): void {
    selected = name;
    history.replaceState(null, "", name ? `#${encodeURIComponent(name)}` : location.pathname);
    render();
  }

  function render(): void {
    list.render(vms, selected);
    const vm = vms.find((v) => v.name === selected) ?? null;
    if (!vm) {
      if (panel) {
        panel.dispose();
        panel = null;
      }
      clear(detail);
      detail.append(h("div", { class: "placeholder" }, h("p", {}, vms.length ? "Select a virtual machine to see its console, activity and snapshots." : "Create a virtual machine to get started.")));
      return;
    }
    if (panel && panel.name === vm.name) {
      panel.update(vm);
      return;
    }
    panel?.dispose();
    panel = new VmPanel(vm, () => void refresh());
    detail.replaceChildren(panel.element);
  }

  async function refresh(): Promise<void> {
    try {
      vms = await api<Vm[]>("GET", "/v1/vms");
      vms.sort((a, b) => a.name.localeCompare(b.name));
      record(vms);
      setConnection(true);
      render();
      void refreshHost();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return leave("Your session ended; sign in again.");
      setConnection(false);
    }
  }

  async function refreshHost(): Promise<void> {
    if (!allowed("host.read")) return;
    try {
      const host = await api<HostView>("GET", "/v1/host");
      const running = host.vms ? `${host.vms.running} of ${host.vms.total} running` : "";
      const vcpus = host.used && host.budget ? ` · vCPUs ${host.used.vcpus}/${host.budget.vcpus}` : "";
      hostSummary.textContent = running + vcpus;
    } catch {
      hostSummary.textContent = "";
    }
  }

  function setConnection(up: boolean): void {
    connection.textContent = up ? "" : "daemon unreachable — retrying";
    connection.dataset.kind = up ? "ok" : "warn";
  }

  async function create(): Promise<void> {
    const vm = await openCreateForm();
    if (!vm) return;
    toast(`${vm.name} created.`);
    await refresh();
    select(vm.name);
  }

  async function doSignOut(): Promise<void> {
    try {
      await signOut();
    } catch {
      // the cookie is cleared by the daemon; nothing else to undo here
    }
    leave();
  }

  function leave(notice?: string): void {
    if (stopped) return;
    stop();
    onSignedOut(notice);
  }

  // Events redraw at once; the poll keeps rates and uptimes moving.
  const events = new EventSource("/v1/events");
  let pending: ReturnType<typeof setTimeout> | null = null;
  events.onmessage = () => {
    pending ??= setTimeout(() => {
      pending = null;
      void refresh();
    }, 100);
  };
  events.onerror = () => setConnection(false);
  events.onopen = () => void refresh();
  const timer = setInterval(() => void refresh(), POLL_MS);
  void refresh();

  function stop(): void {
    stopped = true;
    clearInterval(timer);
    if (pending) clearTimeout(pending);
    events.close();
    panel?.dispose();
    panel = null;
  }
  return stop;
}
