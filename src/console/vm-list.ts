/** The VM table: state, vCPUs, RAM, CPU use and uptime; a row's name button selects it. */
import type { Vm } from "./api.ts";
import { clear, h } from "./dom.ts";
import { bytes, duration, percent } from "./format.ts";
import { latestCpu } from "./stats-history.ts";

export function stateBadge(state: string): HTMLElement {
  return h("span", { class: `badge state-${state}` }, state);
}

export class VmList {
  readonly element: HTMLElement;
  private readonly tbody: HTMLElement;
  private readonly empty: HTMLElement;

  constructor(private readonly onSelect: (name: string) => void) {
    this.tbody = h("tbody");
    this.empty = h("p", { class: "muted empty" }, "No virtual machines yet.");
    this.element = h("div", { class: "vm-table-wrap" },
      h("table", { class: "table vm-table", "aria-label": "Virtual machines" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "State"),
          h("th", { scope: "col", class: "num" }, "vCPUs"),
          h("th", { scope: "col", class: "num" }, "RAM"),
          h("th", { scope: "col", class: "num" }, "CPU"),
          h("th", { scope: "col", class: "num" }, "Uptime"),
        )),
        this.tbody,
      ),
      this.empty,
    );
  }

  render(vms: Vm[], selected: string | null, now = Date.now()): void {
    const focusedName = (document.activeElement as HTMLElement | null)?.dataset?.vm;
    clear(this.tbody);
    this.empty.hidden = vms.length > 0;
    for (const vm of vms) {
      const cpu = latestCpu(vm.name);
      const up = vm.startedAt && (vm.state === "running" || vm.state === "paused") ? duration((now - Date.parse(vm.startedAt)) / 1000) : "–";
      const select = h("button", { class: "link", "data-vm": vm.name, "aria-current": vm.name === selected ? "true" : undefined, onclick: () => this.onSelect(vm.name) }, vm.name);
      this.tbody.append(
        h("tr", { "data-vm-row": vm.name, class: vm.name === selected ? "selected" : undefined },
          h("th", { scope: "row" }, select),
          h("td", {}, stateBadge(vm.state)),
          h("td", { class: "num" }, String(vm.cpus)),
          h("td", { class: "num" }, bytes(vm.memoryMiB * 1024 * 1024)),
          h("td", { class: "num" }, vm.state === "running" && cpu !== null ? percent(cpu) : "–"),
          h("td", { class: "num" }, up),
        ),
      );
      // Keep keyboard focus on the row being used across live refreshes.
      if (focusedName === vm.name) select.focus();
    }
  }
}
