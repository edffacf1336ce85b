// The web console's bundle: how long esbuild takes to build it (once per
// daemon process, on the first request) and what a browser downloads.
//   node --import tsx bench/web-bundle.ts
import { gzipSync } from "node:zlib";
import { uiAssets } from "../src/api/web/ui-bundle.ts";

const started = performance.now();
const assets = await uiAssets();
console.log(`build: ${Math.round(performance.now() - started)} ms`);
for (const [path, asset] of assets) {
  console.log(`${path.padEnd(24)} ${String(asset.body.length).padStart(8)} B  gzip ${String(gzipSync(asset.body).length).padStart(7)} B`);
}
