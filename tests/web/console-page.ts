/**
 * Driving the web console's terminal from playwright (the tab tests and
 * bench/tab-move.ts): read the visible rows, wait for a pattern, type a
 * command. Waits have a hang guard only.
 */
import { rm } from "node:fs/promises";
import type { Browser, Locator, Page } from "playwright-core";
import type { DaemonProcess } from "./daemon-process.ts";

export const HANG_GUARD_MS = Number(process.env.TEST_HANG_GUARD_SECONDS ?? 600) * 1000;
export const PROMPT = /typevisor:[^\n]*#$/m;

/** The terminal's visible rows as text (xterm draws spaces as no-break spaces; line ends trimmed). */
export async function screen(p: Page): Promise<string> {
  return (await p.locator(".xterm-rows").innerText()).replace(/\u00a0/g, " ").replace(/ +$/gm, "");
}

export async function waitForScreen(p: Page, pattern: RegExp): Promise<string> {
  try {
    const handle = await p.waitForFunction(
      ([source, flags]) => {
        const rows = (document.querySelector(".xterm-rows") as HTMLElement | null)?.innerText ?? "";
        const text = rows.replace(/\u00a0/g, " ").replace(/ +$/gm, "");
        return new RegExp(source, flags).test(text) ? text : false;
      },
      [pattern.source, pattern.flags] as const,
      { timeout: HANG_GUARD_MS, polling: 100 },
    );
    return (await handle.jsonValue()) as string;
  } catch (e) {
    throw new Error(`the terminal never showed ${pattern}; it shows:\n${await screen(p).catch(() => "(nothing)")}`, { cause: e });
  }
}

/** Types `command` into the terminal and waits for `answer` on screen. */
export async function run(p: Page, command: string, answer: RegExp): Promise<string> {
  await p.locator(".term-screen").click();
  await p.keyboard.type(command);
  await p.keyboard.press("Enter");
  return waitForScreen(p, answer);
}

export async function signIn(p: Page, origin: string, token: string): Promise<void> {
  await p.goto(origin);
  await p.getByLabel("API token").fill(token);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("heading", { name: "Virtual machines" }).waitFor();
}

/** Waits for `target`; an error toast on the page meanwhile fails at once with its text. */
export async function waitUnlessError(p: Page, target: Locator): Promise<void> {
  const error = p.locator(".toast.error").first();
  let settled = false;
  const failed = error.waitFor({ timeout: HANG_GUARD_MS }).then(async () => {
    if (!settled) throw new Error(`the page reported: ${await error.innerText()}`);
  }, () => {});
  try {
    await Promise.race([target.waitFor({ timeout: HANG_GUARD_MS }), failed]);
    await target.waitFor({ timeout: HANG_GUARD_MS });
  } finally {
    settled = true;
  }
}

/** A browser test file's teardown: its VM deleted, the browser closed, the daemon stopped, its directory removed (each even if one before failed). */
export async function tearDown(daemon: DaemonProcess | undefined, browser: Browser | undefined, dir: string | undefined, vm: string): Promise<void> {
  try {
    await daemon?.owner("DELETE", `/v1/vms/${vm}?force=true`);
  } finally {
    await browser?.close();
    await daemon?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}
