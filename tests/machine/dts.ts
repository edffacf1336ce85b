/** Test helpers: decompile a DTB with the real `dtc` and index its nodes. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "typevisor-dtb-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

/** Writes `dtb` to a temp file and returns its path. */
export function dtbFile(dtb: Uint8Array): string {
  const path = join(dir, `t${counter++}.dtb`);
  writeFileSync(path, dtb);
  return path;
}

/** `dtc -I dtb -O dts`; throws (with dtc's stderr) when dtc rejects the blob or warns. */
export function decompile(dtb: Uint8Array | string): string {
  const path = typeof dtb === "string" ? dtb : dtbFile(dtb);
  const out = execFileSync("dtc", ["-I", "dtb", "-O", "dts", path], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return out;
}

/** Raw property bytes as `fdtget -t bx` prints them. */
export function fdtget(path: string, node: string, prop: string, type = "bx"): string {
  return execFileSync("fdtget", ["-t", type, path, node, prop], { encoding: "utf8" }).replace(/\n$/, "");
}

/** Node path → (property → value text as dtc prints it; "" for empty properties). */
export type DtsIndex = Map<string, Map<string, string>>;

export function indexDts(dts: string): DtsIndex {
  const index: DtsIndex = new Map();
  const stack: string[] = [];
  for (const raw of dts.split("\n")) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\S*) \{$/.exec(line))) {
      const name = m[1] === "/" ? "" : m[1];
      stack.push(name);
      const path = stack.join("/") || "/";
      index.set(path, new Map());
    } else if (line === "};") {
      stack.pop();
    } else if ((m = /^([^\s=]+)(?: = (.*))?;$/.exec(line)) && stack.length > 0) {
      index.get(stack.join("/") || "/")!.set(m[1], m[2] ?? "");
    }
  }
  return index;
}
