/**
 * The "New VM" dialog. Fields carry the limits the API documents, but the
 * API's own answer is the judge: its message is shown under the form, and
 * the field it names is marked invalid.
 */
import { api, type Vm } from "./api.ts";
import { showModal } from "./dialogs.ts";
import { h } from "./dom.ts";

interface ImageView {
  pool: string;
  name: string;
  usedBy: string[];
}
interface NetworkView {
  name: string;
}

function field(id: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { id: `${id}-hint` }, hint) : null);
}

/** Opens the dialog; resolves with the created VM, or null when cancelled. */
export async function openCreateForm(): Promise<Vm | null> {
  const [images, networks] = await Promise.all([
    api<ImageView[]>("GET", "/v1/images").catch(() => [] as ImageView[]),
    api<NetworkView[]>("GET", "/v1/networks").catch(() => [] as NetworkView[]),
  ]);
  const name = h("input", { id: "vm-name", name: "name", required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": "vm-name-hint" });
  const boot = h("select", { id: "vm-boot", name: "boot" },
    h("option", { value: "default-guest" }, "Default guest (Linux + busybox)"),
    h("option", { value: "kernel" }, "Kernel file on the host"),
  );
  const kernel = h("input", { id: "vm-kernel", name: "kernel", placeholder: "/path/to/Image", autocomplete: "off" });
  const kernelField = field("vm-kernel", "Kernel path", kernel);
  kernelField.hidden = true;
  boot.addEventListener("change", () => {
    kernelField.hidden = boot.value !== "kernel";
  });
  const memory = h("input", { id: "vm-memory", name: "memoryMiB", type: "number", min: 16, step: 16, value: 256, required: true });
  const cpus = h("input", { id: "vm-cpus", name: "cpus", type: "number", min: 1, max: 8, value: 1, required: true });
  const disk = h("select", { id: "vm-disk", name: "disk" },
    h("option", { value: "" }, "No extra disk"),
    ...images.map((i) => h("option", { value: `${i.pool}/${i.name}` }, `${i.pool}/${i.name}${i.usedBy?.length ? ` (used by ${i.usedBy.join(", ")})` : ""}`)),
  );
  const network = h("select", { id: "vm-network", name: "network" },
    h("option", { value: "user:" }, "User-mode NAT"),
    h("option", { value: "" }, "No network"),
    ...networks.map((n) => h("option", { value: `net:${n.name}` }, `Switch ${n.name}`)),
  );
  const error = h("p", { class: "error", role: "alert", id: "create-error" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create VM");
  const form = h("form", { class: "create-form", novalidate: true },
    h("h2", {}, "New virtual machine"),
    field("vm-name", "Name", name, "Letters, digits, dot, dash, underscore."),
    field("vm-boot", "Boot", boot),
    kernelField,
    h("div", { class: "field-row" }, field("vm-memory", "Memory (MiB)", memory), field("vm-cpus", "vCPUs", cpus)),
    field("vm-disk", "Disk image", disk),
    field("vm-network", "Network", network),
    error,
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel"), submit),
  );
  const dialog = h("dialog", { class: "modal wide", "aria-label": "New virtual machine" }, form);
  const inputs: Record<string, HTMLElement> = { name, memoryMiB: memory, cpus, kernel, disks: disk, nics: network };

  return new Promise((resolve) => {
    let created: Vm | null = null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      for (const el of Object.values(inputs)) el.removeAttribute("aria-invalid");
      const body: Record<string, unknown> = {
        name: name.value.trim(),
        memoryMiB: Number(memory.value),
        cpus: Number(cpus.value),
        boot: boot.value === "kernel" ? { kind: "kernel", kernel: kernel.value.trim() } : { kind: "default-guest" },
        disks: disk.value ? [{ image: disk.value }] : [],
        nics: network.value === "user:" ? [{ user: "" }] : network.value.startsWith("net:") ? [{ network: network.value.slice(4) }] : [],
      };
      submit.disabled = true;
      try {
        created = await api<Vm>("POST", "/v1/vms", body);
        dialog.close();
      } catch (e) {
        const message = (e as Error).message;
        error.textContent = message;
        // Point at the field the API's message names, if it names one.
        const named = Object.keys(inputs).find((key) => message.includes(key)) ?? (/name/i.test(message) ? "name" : undefined);
        if (named) {
          inputs[named].setAttribute("aria-invalid", "true");
          inputs[named].focus();
        }
      } finally {
        submit.disabled = false;
      }
    });
    showModal(dialog, name, () => resolve(created));
  });
}
