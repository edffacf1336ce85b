/**
 * Drives VMs in the test page (tab-page.ts) from Node, as a person at the
 * console would: wait for a pattern, type a command bracketed by echo
 * markers (split as typed, as tests/support/guest-console.ts does) and take
 * its output and exit status. Waits have a hang guard only.
 */
import type { Page } from "playwright-core";
import type { Tabs } from "./tab-page.ts";

declare const tabs: Tabs;

export const HANG_GUARD_MS = Number(process.env.TEST_HANG_GUARD_SECONDS ?? 600) * 1000;
/** The default guest's prompt. */
export const PROMPT = /typevisor:[^\n]*# /;

export class TabDriver {
  private marker = 0;

  constructor(readonly page: Page) {}

  /** Waits until VM `id`'s console (from character `from`) matches `pattern`; returns the console. */
  async waitFor(id: number, pattern: RegExp, from = 0): Promise<string> {
    try {
      const handle = await this.page.waitForFunction(
        ([vm, source, flags, start]) => {
          const text = tabs.console(vm as number).slice(start as number);
          return new RegExp(source as string, flags as string).test(text) ? tabs.console(vm as number) : false;
        },
        [id, pattern.source, pattern.flags, from] as const,
        { timeout: HANG_GUARD_MS, polling: 50 },
      );
      return (await handle.jsonValue()) as string;
    } catch (e) {
      const state = await this.page.evaluate((vm) => tabs.state(vm), id).catch(() => null);
      const text = await this.page.evaluate((vm) => tabs.console(vm), id).catch(() => "(no console)");
      throw new Error(`VM ${id} never printed ${pattern} (state ${JSON.stringify(state)}); console:\n${text.slice(-3000)}`, { cause: e });
    }
  }

  /** Types `command` at VM `id`'s shell; its output (\r removed) and exit status. */
  async run(id: number, command: string): Promise<{ output: string; status: number }> {
    const n = ++this.marker;
    const from = (await this.page.evaluate((vm) => tabs.console(vm), id)).length;
    const line = `echo TV-B""EGIN-${n}; ${command}; echo TV-E""ND-${n} $?\n`;
    await this.page.evaluate(([vm, text]) => tabs.type(vm as number, text as string), [id, line] as const);
    const text = (await this.waitFor(id, new RegExp(`TV-END-${n} (\\d+)`), from)).slice(from);
    const m = new RegExp(`TV-BEGIN-${n}\\r?\\n([\\s\\S]*?)TV-END-${n} (\\d+)`).exec(text);
    if (m === null) throw new Error(`no bracketed output for ${command} in:\n${text}`);
    return { output: m[1].replace(/\r/g, ""), status: Number(m[2]) };
  }
}
