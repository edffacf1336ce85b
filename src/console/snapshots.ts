/** A VM's snapshots: take one, restore one (asks first), delete one (asks first). */
import { api, vmPath, waitForJob, type Job, type Snapshot } from "./api.ts";
import { askName, confirmAction } from "./dialogs.ts";
import { clear, h } from "./dom.ts";
import { bytes, when } from "./format.ts";
import { allowed } from "./session.ts";
import { toast } from "./toast.ts";

export class SnapshotPanel {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;

  constructor(private readonly vmName: string) {
    const canSnapshot = allowed("vm.snapshot", vmName);
    this.body = h("div", { class: "snapshot-list" });
    this.element = h("section", { class: "snapshots", "aria-label": `Snapshots of ${vmName}` },
      h("div", { class: "section-head" },
        h("h3", {}, "Snapshots"),
        canSnapshot && h("button", { class: "secondary", onclick: () => void this.take() }, "Take snapshot"),
      ),
      this.body,
    );
    void this.refresh();
  }

  async refresh(): Promise<void> {
    let snapshots: Snapshot[];
    try {
      snapshots = await api<Snapshot[]>("GET", `${vmPath(this.vmName)}/snapshots`);
    } catch (e) {
      clear(this.body);
      this.body.append(h("p", { class: "muted" }, (e as Error).message));
      return;
    }
    clear(this.body);
    if (snapshots.length === 0) {
      this.body.append(h("p", { class: "muted" }, "No snapshots yet."));
      return;
    }
    const canSnapshot = allowed("vm.snapshot", this.vmName);
    const rows = snapshots.map((s) =>
      h("tr", { "data-snapshot": s.name },
        h("th", { scope: "row" }, s.name),
        h("td", {}, when(s.createdAt)),
        h("td", { class: "num" }, bytes(s.sizeBytes)),
        h("td", { class: "row-actions" },
          canSnapshot && h("button", { class: "secondary small", onclick: () => void this.restore(s.name) }, "Restore"),
          canSnapshot && h("button", { class: "danger-text small", "aria-label": `Delete snapshot ${s.name}`, onclick: () => void this.remove(s.name) }, "Delete"),
        ),
      ),
    );
    this.body.append(
      h("table", { class: "table compact" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Taken"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
        h("tbody", {}, ...rows),
      ),
    );
  }

  private async take(): Promise<void> {
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
    await askName("Take a snapshot", "Snapshot name", "Take snapshot", async (name) => {
      const result = await api<{ job?: Job } | Snapshot>("POST", `${vmPath(this.vmName)}/snapshots`, { name: name || `snap-${stamp}` });
      if (result && "job" in result && result.job) await waitForJob(result.job);
      toast(`Snapshot ${name || `snap-${stamp}`} of ${this.vmName} taken.`);
    });
    await this.refresh();
  }

  private async restore(snapshot: string): Promise<void> {
    const ok = await confirmAction(`Restore ${snapshot}?`, `${this.vmName} goes back to the state saved in ${snapshot}. What it did since is lost.`, "Restore");
    if (!ok) return;
    try {
      const result = await api<{ job?: Job } | unknown>("POST", `${vmPath(this.vmName)}/snapshots/${encodeURIComponent(snapshot)}/restore`);
      if (result && typeof result === "object" && "job" in result && result.job) await waitForJob(result.job as Job);
      toast(`${this.vmName} restored from ${snapshot}.`);
    } catch (e) {
      toast((e as Error).message, "error");
    }
  }

  private async remove(snapshot: string): Promise<void> {
    const ok = await confirmAction(`Delete ${snapshot}?`, `The snapshot ${snapshot} of ${this.vmName} is deleted for good.`, "Delete snapshot");
    if (!ok) return;
    try {
      await api("DELETE", `${vmPath(this.vmName)}/snapshots/${encodeURIComponent(snapshot)}`);
      await this.refresh();
    } catch (e) {
      toast((e as Error).message, "error");
    }
  }
}
