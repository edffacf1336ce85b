/**
 * One VM: its facts, the power actions its state and the user's role allow
 * (destructive ones ask first), its console, graphs and snapshots; and
 * moving it into this browser tab and back (issue 14).
 */
import { api, vmPath, waitForJob, type Job, type Vm } from "./api.ts";
import { askName, confirmAction } from "./dialogs.ts";
import { append, clear, h } from "./dom.ts";
import { bytes } from "./format.ts";
import { VmGraphs } from "./graphs.ts";
import { allowed } from "./session.ts";
import { SnapshotPanel } from "./snapshots.ts";
import { moveToHost, onTabVmsChanged, runInBrowser, tabVm } from "./tab-vms.ts";
import { VmTerminal } from "./terminal.ts";
import { toast } from "./toast.ts";
import { stateBadge } from "./vm-list.ts";

type Action = "start" | "shutdown" | "stop" | "pause" | "resume";

const ACTIONS: { action: Action; label: string; when: Vm["state"][]; confirm?: string }[] = [
  { action: "start", label: "Start", when: ["created", "stopped", "crashed"] },
  { action: "shutdown", label: "Shut down", when: ["running"] },
  { action: "pause", label: "Pause", when: ["running"] },
  { action: "resume", label: "Resume", when: ["paused"] },
  { action: "stop", label: "Power off", when: ["running", "paused"], confirm: "powers the VM off at once, as pulling the plug: the guest cannot save its work." },
];

export class VmPanel {
  readonly element: HTMLElement;
  private readonly head: HTMLElement;
  private readonly toolbar: HTMLElement;
  private readonly terminal: VmTerminal | null;
  private readonly graphs: VmGraphs;
  private readonly snapshots: SnapshotPanel;
  private vm: Vm;
  private busy = false;
  private readonly unwatchTabs: () => void;

  constructor(vm: Vm, private readonly onChanged: () => void) {
    this.vm = vm;
    this.head = h("div", { class: "vm-head" });
    this.toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": `Actions for ${vm.name}` });
    this.terminal = allowed("vm.console", vm.name) ? new VmTerminal(vm.name, allowed("vm.console.write", vm.name)) : null;
    this.graphs = new VmGraphs(vm.name);
    this.snapshots = new SnapshotPanel(vm.name);
    this.element = h("section", { class: "vm-panel", "aria-labelledby": "vm-title" },
      this.head,
      this.toolbar,
      this.terminal ? this.terminal.element : h("p", { class: "muted" }, "Your role cannot view this console."),
      h("div", { class: "panel-grid" }, this.graphs.element, this.snapshots.element),
    );
    const here = tabVm(vm.name);
    if (here !== null) this.terminal?.attachTab(here);
    this.unwatchTabs = onTabVmsChanged(() => this.renderToolbar());
    this.update(vm);
  }

  get name(): string {
    return this.vm.name;
  }

  update(vm: Vm): void {
    const stateChanged = vm.state !== this.vm.state || vm.location !== this.vm.location;
    this.vm = vm;
    this.renderHead();
    if (stateChanged || this.toolbar.childElementCount === 0) this.renderToolbar();
    this.graphs.update();
  }

  dispose(): void {
    this.unwatchTabs();
    this.terminal?.dispose();
    this.graphs.dispose();
  }

  private renderHead(): void {
    const vm = this.vm;
    const nic = vm.nics.map((n) => ("network" in n ? `switch ${n.network}` : "user NAT")).join(", ") || "none";
    clear(this.head);
    append(this.head,
      h("h2", { id: "vm-title" }, vm.name, " ", stateBadge(vm.state)),
      h("dl", { class: "facts" },
        h("dt", {}, "vCPUs"), h("dd", {}, String(vm.cpus)),
        h("dt", {}, "Memory"), h("dd", {}, bytes(vm.memoryMiB * 1024 * 1024)),
        h("dt", {}, "Boot"), h("dd", {}, vm.boot.kind === "default-guest" ? "default guest" : vm.boot.kernel ?? vm.boot.kind),
        h("dt", {}, "Disks"), h("dd", {}, vm.disks.map((d) => d.image).join(", ") || "none"),
        h("dt", {}, "Network"), h("dd", {}, nic),
      ),
      vm.location === "browser"
        ? h("p", { class: "notice", "data-location": "browser" }, tabVm(vm.name) ? "Running in this browser tab." : "Running in a browser tab (another page).")
        : null,
      vm.crashReason ? h("p", { class: "error", role: "alert" }, `Crashed: ${vm.crashReason}`) : null,
    );
  }

  private renderToolbar(): void {
    const vm = this.vm;
    clear(this.toolbar);
    const power = allowed("vm.power", vm.name) && vm.location === "host";
    for (const a of ACTIONS) {
      if (!power) break;
      this.toolbar.append(
        h("button", { class: a.confirm ? "danger-outline" : "secondary", "data-action": a.action, disabled: this.busy || !a.when.includes(vm.state), onclick: () => void this.act(a.action, a.label, a.confirm) }, a.label),
      );
    }
    if (allowed("vm.move", vm.name)) {
      if (vm.location === "host") {
        this.toolbar.append(h("button", { class: "secondary", "data-action": "run-in-browser", disabled: this.busy || (vm.state !== "running" && vm.state !== "paused"), onclick: () => void this.runHere() }, "Run in browser"));
      } else if (tabVm(vm.name) !== null) {
        this.toolbar.append(h("button", { class: "secondary", "data-action": "move-to-host", disabled: this.busy, onclick: () => void this.toHost() }, "Move to host"));
      } else {
        this.toolbar.append(h("button", { class: "danger-outline", "data-action": "reclaim", disabled: this.busy, onclick: () => void this.reclaim() }, "Reclaim"));
      }
    }
    if (allowed("vm.clone", vm.name) && vm.location === "host") {
      this.toolbar.append(h("button", { class: "secondary", "data-action": "clone", disabled: this.busy, onclick: () => void this.clone() }, "Clone"));
    }
    if (allowed("vm.delete", vm.name)) {
      this.toolbar.append(h("button", { class: "danger-outline", "data-action": "delete", disabled: this.busy, onclick: () => void this.remove() }, "Delete"));
    }
    if (this.toolbar.childElementCount === 0) this.toolbar.append(h("span", { class: "muted" }, "Read-only: your role cannot change this VM."));
  }

  private async act(action: Action, label: string, confirmText?: string): Promise<void> {
    if (confirmText && !(await confirmAction(`${label} ${this.vm.name}?`, `${label} ${confirmText}`, label))) return;
    await this.run(async () => {
      this.update(await api<Vm>("POST", `${vmPath(this.vm.name)}/actions/${action}`));
    });
  }

  private async runHere(): Promise<void> {
    await this.run(async () => {
      const vm = await runInBrowser(this.vm.name);
      this.terminal?.attachTab(vm);
      toast(`${this.vm.name} runs in this tab now.`);
    });
  }

  private async toHost(): Promise<void> {
    await this.run(async () => {
      const view = await moveToHost(this.vm.name);
      this.terminal?.detachTab();
      this.update(view);
      toast(`${this.vm.name} runs on the host again.`);
    });
  }

  private async reclaim(): Promise<void> {
    const ok = await confirmAction(
      `Reclaim ${this.vm.name}?`,
      `${this.vm.name} runs in another browser tab. Reclaim restarts it on the host from the moment it moved: what it did in that tab since is lost, except the disk blocks the tab synced.`,
      "Reclaim",
    );
    if (!ok) return;
    await this.run(async () => {
      this.update(await api<Vm>("POST", `${vmPath(this.vm.name)}/actions/reclaim`));
    });
  }

  private async clone(): Promise<void> {
    await askName(`Clone ${this.vm.name}`, "Name of the copy", "Clone", async (name) => {
      const result = await api<{ job?: Job }>("POST", `${vmPath(this.vm.name)}/clone`, { name });
      if (result?.job) await waitForJob(result.job);
      toast(`${name} cloned from ${this.vm.name}.`);
    });
    this.onChanged();
  }

  private async remove(): Promise<void> {
    const running = this.vm.state === "running" || this.vm.state === "paused";
    const ok = await confirmAction(
      `Delete ${this.vm.name}?`,
      running ? `${this.vm.name} is ${this.vm.state}: it is powered off and deleted with its disks' overlays and snapshots.` : `${this.vm.name} is deleted with its snapshots.`,
      "Delete VM",
    );
    if (!ok) return;
    await this.run(async () => {
      await api("DELETE", `${vmPath(this.vm.name)}${running ? "?force=true" : ""}`);
      toast(`${this.vm.name} deleted.`);
    });
  }

  private async run(work: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.renderToolbar();
    try {
      await work();
    } catch (e) {
      toast((e as Error).message, "error");
    } finally {
      this.busy = false;
      this.renderToolbar();
      this.onChanged();
    }
  }
}
