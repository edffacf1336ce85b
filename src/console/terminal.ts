/**
 * A VM's serial console in xterm.js over the console WebSocket (raw bytes
 * both ways). The browser's cookie authenticates the upgrade; the daemon
 * replays the scrollback it kept to every new connection, so after a blip or
 * a daemon restart the terminal is reset and refilled from that replay,
 * never doubled. A read-only viewer gets a terminal that takes no input.
 * While the VM runs in this page (issue 14) the terminal is attached to its
 * TabVm instead: the same screen, the tab's console bytes both ways.
 */
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { h } from "./dom.ts";
import { vmPath } from "./api.ts";
import type { TabVm } from "../browser/tab-vm.ts";

const MAX_RETRY_MS = 5000;

export class VmTerminal {
  readonly element: HTMLElement;
  private readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly status: HTMLElement;
  private readonly resizeObserver: ResizeObserver;
  private socket: WebSocket | null = null;
  private retryMs = 250;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private disposed = false;
  /** The VM in this page the terminal is attached to, and how to detach from its console. */
  private tab: { vm: TabVm; unsubscribe: () => void } | null = null;

  /** `daemon` false: a terminal for a VM that only ever runs in this page (the /tab page). */
  constructor(private readonly vmName: string, private readonly writable: boolean, private readonly daemon = true) {
    this.status = h("span", { class: "term-status", role: "status" }, "connecting…");
    const screen = h("div", { class: "term-screen" });
    this.element = h("section", { class: "terminal", "aria-label": `Console of ${vmName}` },
      h("div", { class: "term-bar" },
        h("h3", {}, "Console"),
        this.status,
        h("span", { class: "term-hint" }, writable ? "Ctrl+Shift+C copy · Ctrl+Shift+V paste" : "read-only: your role cannot type here"),
      ),
      screen,
    );
    this.term = new Terminal({
      disableStdin: !writable,
      cursorBlink: writable,
      convertEol: false,
      scrollback: 10000,
      fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace",
      fontSize: 14,
      lineHeight: 1.15, // at 1.0 the next row's background clips underscores
      theme: { background: "#0f1720", foreground: "#e6edf3", cursor: writable ? "#e6edf3" : "#0f1720" },
    });
    this.term.loadAddon(this.fit);
    this.term.open(screen);
    this.term.textarea?.setAttribute("aria-label", writable ? `Type into ${vmName}'s console` : `${vmName}'s console (read-only)`);
    this.term.attachCustomKeyEventHandler((e) => this.clipboardKey(e));
    if (writable) this.term.onData((data) => this.send(new TextEncoder().encode(data)));
    this.resizeObserver = new ResizeObserver(() => this.fitNow());
    this.resizeObserver.observe(screen);
    if (daemon) this.connect();
  }

  /** Shows the console of the VM now running in this page (the screen stays: the session continues). */
  attachTab(vm: TabVm): void {
    this.detachTab(false);
    this.closeSocket();
    this.tab = { vm, unsubscribe: vm.onConsole((bytes) => this.term.write(bytes)) };
    this.setStatus("running in this tab", "ok");
  }

  /** Back to the daemon's console (after the VM moved to the host). */
  detachTab(reconnect = true): void {
    if (this.tab === null) return;
    this.tab.unsubscribe();
    this.tab = null;
    if (reconnect && this.daemon) this.connect();
  }

  focus(): void {
    this.term.focus();
  }

  dispose(): void {
    this.disposed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.resizeObserver.disconnect();
    this.detachTab(false);
    this.closeSocket();
    this.term.dispose();
  }

  private closeSocket(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  private fitNow(): void {
    if (this.element.isConnected && this.element.offsetParent !== null) this.fit.fit();
  }

  /** Ctrl+Shift+C / Ctrl+Shift+V: Ctrl+C and Ctrl+V belong to the guest. */
  private clipboardKey(e: KeyboardEvent): boolean {
    if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey) return true;
    if (e.code === "KeyC") {
      const text = this.term.getSelection();
      if (text) void navigator.clipboard?.writeText(text);
      e.preventDefault();
      return false;
    }
    // Let the browser's paste event reach xterm's textarea (it sends the text as input).
    if (e.code === "KeyV") return false;
    return true;
  }

  private send(bytes: Uint8Array): void {
    if (this.tab !== null) this.tab.vm.writeConsole(bytes);
    else if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(bytes);
  }

  private connect(): void {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${vmPath(this.vmName)}/console`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.retryMs = 250;
      this.term.reset(); // the daemon now replays its scrollback from the start
      this.setStatus("connected", "ok");
      this.fitNow();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.term.write(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
    };
    socket.onclose = () => {
      if (this.disposed || this.socket !== socket) return; // closed on purpose (disposed, or the VM runs in this tab)
      if (opened) this.term.write("\r\n\x1b[2m[console disconnected — reconnecting]\x1b[0m\r\n");
      this.setStatus(`reconnecting in ${(this.retryMs / 1000).toFixed(1)} s…`, "warn");
      this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    };
  }

  private setStatus(text: string, kind: "ok" | "warn"): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }
}
