// The tab's worker and TabVm build for a browser from the same sources as
// Node's VMM: bundled by esbuild for platform "browser", no Node built-in
// may be imported (the build fails) and no free `process` or `Buffer` may
// be referenced (each is defined to a marker the output must not hold).
// The Node worker (src/vmm/worker.ts) is the control: the check finds it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const MARKERS = { process: "__NODE_PROCESS_REFERENCED__", Buffer: "__NODE_BUFFER_REFERENCED__" };

/** What in `entry` needs Node: unresolvable built-ins and free process/Buffer references; [] when none. */
async function nodeUses(entry: string): Promise<string[]> {
  const found: string[] = [];
  let text = "";
  try {
    const result = await build({
      entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
      bundle: true,
      write: false,
      platform: "browser",
      format: "esm",
      target: "es2022",
      logLevel: "silent",
      define: Object.fromEntries(Object.entries(MARKERS).map(([name, marker]) => [name, marker])),
    });
    text = result.outputFiles[0].text;
  } catch (e) {
    for (const error of (e as { errors?: { text: string }[] }).errors ?? [{ text: String(e) }]) found.push(error.text);
  }
  for (const [name, marker] of Object.entries(MARKERS)) if (text.includes(marker)) found.push(`a free reference to ${name}`);
  return found;
}

test("the tab's worker bundles for the browser with no Node built-in, process or Buffer", async () => {
  assert.deepEqual(await nodeUses("../../src/browser/tab-worker.ts"), []);
});

test("TabVm, the page side, bundles for the browser with no Node built-in, process or Buffer", async () => {
  assert.deepEqual(await nodeUses("../../src/browser/tab-vm.ts"), []);
});

test("the check finds Node's own worker thread entry using Node", async () => {
  const uses = await nodeUses("../../src/vmm/worker.ts");
  assert.ok(uses.some((u) => /node:/.test(u)), `no node: import reported: ${uses.join("; ")}`);
});

test("the check finds free process and Buffer references", async () => {
  assert.deepEqual(await nodeUses("./fixtures/uses-node-globals.ts"), ["a free reference to process", "a free reference to Buffer"]);
});
