/** The sign-in page: one API token field. The token goes in a POST body, never a URL. */
import { ApiError } from "./api.ts";
import { h } from "./dom.ts";
import { signIn } from "./session.ts";

export function renderSignIn(root: HTMLElement, onSignedIn: () => void, notice?: string): void {
  const token = h("input", { id: "token", name: "token", type: "password", required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": "token-hint" });
  const error = h("p", { class: "error", role: "alert", id: "sign-in-error" }, notice ?? "");
  const submit = h("button", { type: "submit", class: "primary wide" }, "Sign in");
  const form = h("form", { class: "sign-in card", "aria-labelledby": "sign-in-title" },
    h("div", { class: "brand big" }, h("img", { src: "/ui/icon.svg", alt: "", width: 32, height: 32 }), "Typevisor"),
    h("h1", { id: "sign-in-title" }, "Sign in"),
    h("label", { for: "token" }, "API token"),
    token,
    h("small", { id: "token-hint" }, "A token from ", h("code", {}, "typevisor token create"), ". It stays in this browser's session cookie, not in the page."),
    error,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      await signIn(token.value);
      token.value = "";
      onSignedIn();
    } catch (e) {
      error.textContent = e instanceof ApiError ? e.message : "Sign-in failed.";
      token.select();
    } finally {
      submit.disabled = false;
    }
  });
  root.replaceChildren(h("main", { class: "center" }, form));
  token.focus();
}
