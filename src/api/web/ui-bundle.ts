/**
 * The browser UI (src/console/) bundled by esbuild, in memory, once per
 * daemon process: xterm.js, uPlot and our code become one script and one
 * stylesheet the daemon serves itself (no CDN; works offline).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export interface UiAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const consoleDir = fileURLToPath(new URL("../../console/", import.meta.url));
/** The tab's machine: /ui/tab-worker.js (docs/browser.md). */
const tabWorker = fileURLToPath(new URL("../../browser/tab-worker.ts", import.meta.url));

function asset(body: Buffer | Uint8Array, contentType: string): UiAsset {
  const buf = Buffer.from(body);
  return { body: buf, contentType, etag: `"${createHash("sha256").update(buf).digest("base64url").slice(0, 22)}"` };
}

let built: Promise<Map<string, UiAsset>> | null = null;

/** Asset path ("/", "/ui/app.js", …) → asset. */
export function uiAssets(): Promise<Map<string, UiAsset>> {
  built ??= buildUi().catch((e) => {
    built = null; // a later request may try again (e.g. after a fixed source)
    throw e;
  });
  return built;
}

async function buildUi(): Promise<Map<string, UiAsset>> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: { app: `${consoleDir}main.ts`, tab: `${consoleDir}tab-page.ts`, "tab-worker": tabWorker },
    outdir: "/ui", // virtual: write is false
    write: false,
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    legalComments: "linked",
    logLevel: "error",
  });
  const assets = new Map<string, UiAsset>();
  for (const out of result.outputFiles) {
    const name = out.path.slice(out.path.lastIndexOf("/") + 1);
    const type = name.endsWith(".js")
      ? "text/javascript; charset=utf-8"
      : name.endsWith(".css")
        ? "text/css; charset=utf-8"
        : "text/plain; charset=utf-8";
    assets.set(`/ui/${name}`, asset(out.contents, type));
  }
  assets.set("/", asset(await readFile(`${consoleDir}index.html`), "text/html; charset=utf-8"));
  assets.set("/tab", asset(await readFile(`${consoleDir}tab.html`), "text/html; charset=utf-8"));
  assets.set("/ui/icon.svg", asset(await readFile(`${consoleDir}icon.svg`), "image/svg+xml"));
  return assets;
}
