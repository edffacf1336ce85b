// Builds the library's dist/ for `npm pack` (the prepack script):
//   dist/index.js   src/index.ts bundled (ESM, Node 20)
//   dist/worker.js  src/vmm/worker.ts bundled: each VM's worker thread
//   dist/types/     TypeScript declarations (tsc, tsconfig.dist.json; imports end in .js)
// A module that finds files next to its source (the guest build script in
// scripts/guest/) keeps doing so: its import.meta.url becomes its source
// path relative to the bundle, so it resolves inside the installed package.
import { execFileSync } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

const relocateModuleUrls = {
  name: "relocate-module-urls",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const fromDist = JSON.stringify(relative(dist, args.path).split("\\").join("/"));
      return { contents: source.replaceAll("import.meta.url", `new URL(${fromDist}, import.meta.url).href`), loader: "ts" };
    });
  },
};

await rm(dist, { recursive: true, force: true });
await build({
  entryPoints: { index: join(root, "src", "index.ts"), worker: join(root, "src", "vmm", "worker.ts") },
  outdir: dist,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  // Every VM's worker holds the bundle's source in its heap: without comments and with
  // ASCII escapes it is a one-byte string of ~60 % the size (a comment's "→" alone made it two-byte).
  charset: "ascii",
  minifyWhitespace: true,
  // Relative to src/vmm/worker-url.ts as relocated above: dist/worker.js.
  define: { TYPEVISOR_WORKER_BUNDLE: JSON.stringify("../../dist/worker.js") },
  logLevel: "error",
  plugins: [relocateModuleUrls],
});
execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.dist.json")], {
  stdio: "inherit",
});
// Our sources import "./x.ts"; a consumer's TypeScript resolves "./x.js" to x.d.ts under any settings.
for (const entry of await readdir(join(dist, "types"), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue;
  const path = join(entry.parentPath ?? entry.path, entry.name);
  const text = await readFile(path, "utf8");
  await writeFile(path, text.replace(/((?:from|import)\s*\(?\s*"\.{1,2}\/[^"]*)\.ts"/g, '$1.js"'));
}
