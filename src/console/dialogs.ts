/**
 * Modal questions on native <dialog>: focus is trapped and Escape cancels,
 * as keyboard users expect. Destructive actions ask here first.
 */
import { h } from "./dom.ts";

/** Shows `dialog` as a modal with `focus` focused; `closed` runs when it closes, then it leaves the page. */
export function showModal(dialog: HTMLDialogElement, focus: HTMLElement, closed: () => void): void {
  dialog.addEventListener("close", () => {
    closed();
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  focus.focus();
}

export function confirmAction(title: string, message: string, actionLabel: string, danger = true): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "modal", "aria-labelledby": "confirm-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "confirm-title" }, title),
        h("p", {}, message),
        h("div", { class: "actions" },
          h("button", { value: "cancel", class: "secondary" }, "Cancel"),
          h("button", { value: "ok", class: danger ? "danger" : "primary" }, actionLabel),
        ),
      ),
    );
    showModal(dialog, dialog.querySelector("button[value=cancel]") as HTMLButtonElement, () => resolve(dialog.returnValue === "ok"));
  });
}

/** Asks for one name; null when cancelled. `submit` may throw an Error whose message is shown. */
export function askName(title: string, label: string, actionLabel: string, submit: (name: string) => Promise<void>): Promise<boolean> {
  return new Promise((resolve) => {
    const input = h("input", { id: "ask-name", name: "name", required: true, autocomplete: "off", spellcheck: "false" });
    const error = h("p", { class: "error", role: "alert" });
    const okButton = h("button", { type: "submit", class: "primary" }, actionLabel);
    const form = h("form", {},
      h("h2", {}, title),
      h("label", { for: "ask-name" }, label),
      input,
      error,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel"),
        okButton,
      ),
    );
    const dialog = h("dialog", { class: "modal" }, form);
    let done = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      okButton.disabled = true;
      error.textContent = "";
      try {
        await submit(input.value.trim());
        done = true;
        dialog.close();
      } catch (e) {
        error.textContent = (e as Error).message;
        okButton.disabled = false;
      }
    });
    showModal(dialog, input, () => resolve(done));
  });
}
