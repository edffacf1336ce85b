/** Human-readable output of `typevisor img`, laid out as qemu-img's. */
import type { CheckResult } from "../backends/block/qcow2/check.ts";
import type { ImageInfo, SnapshotInfo } from "../backends/block/tools/image-info.ts";
import type { MapEntry } from "../backends/block/tools/map.ts";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/** A size as qemu-img prints it: three significant digits and a binary unit ("1.5 GiB", "196 KiB"). */
export function sizeToString(bytes: number): string {
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${bytes} B`;
  return `${Number(v.toPrecision(3))} ${UNITS[i]}`;
}

/** Parses an image size as qemu-img does: bytes, or a k/M/G/T/P/E suffix (powers of 1024). */
export function parseImageSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([bkKMGTPE]?)$/.exec(text.trim());
  if (!m) return null;
  const power = "bkMGTPE".indexOf(m[2] === "K" ? "k" : m[2] || "b");
  const bytes = Number(m[1]) * 1024 ** power;
  return Number.isSafeInteger(bytes) ? bytes : null;
}

export function formatInfo(info: ImageInfo): string {
  const lines = [
    `image: ${info.filename}`,
    `file format: ${info.format}`,
    `virtual size: ${sizeToString(info["virtual-size"])} (${info["virtual-size"]} bytes)`,
    `disk size: ${sizeToString(info["actual-size"])}`,
  ];
  if (info["cluster-size"] !== undefined) lines.push(`cluster_size: ${info["cluster-size"]}`);
  if (info["backing-filename"] !== undefined) {
    const full = info["full-backing-filename"];
    lines.push(`backing file: ${info["backing-filename"]}${full !== info["backing-filename"] ? ` (actual path: ${full})` : ""}`);
    if (info["backing-filename-format"] !== undefined) lines.push(`backing file format: ${info["backing-filename-format"]}`);
  }
  if (info.snapshots !== undefined) lines.push("Snapshot list:", ...formatSnapshots(info.snapshots));
  const fs = info["format-specific"];
  if (fs !== undefined) {
    lines.push("Format specific information:");
    lines.push(`    compat: ${fs.data.compat}`);
    lines.push(`    compression type: ${fs.data["compression-type"]}`);
    lines.push(`    lazy refcounts: ${fs.data["lazy-refcounts"]}`);
    lines.push(`    refcount bits: ${fs.data["refcount-bits"]}`);
    lines.push(`    corrupt: ${fs.data.corrupt}`);
    lines.push(`    extended l2: ${fs.data["extended-l2"]}`);
  }
  return lines.join("\n");
}

export function formatSnapshots(snaps: SnapshotInfo[]): string[] {
  const lines = ["ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT"];
  for (const s of snaps) {
    const d = new Date(s["date-sec"] * 1000);
    const p = (n: number, w = 2) => String(n).padStart(w, "0");
    const date = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    const c = s["vm-clock-sec"];
    const clock = `${p(Math.floor(c / 3600))}:${p(Math.floor(c / 60) % 60)}:${p(c % 60)}.${p(Math.floor(s["vm-clock-nsec"] / 1e6), 3)}`;
    lines.push(
      `${s.id.padEnd(10)}${s.name.padEnd(18)}${sizeToString(s["vm-state-size"]).padStart(7)} ${date} ${clock} ${String(s.icount ?? "").padStart(10)}`,
    );
  }
  return lines;
}

export function formatCheck(r: CheckResult): string {
  const lines = [...r.messages];
  if (lines.length > 0) lines.push("");
  if (r.leaksFixed + r.corruptionsFixed > 0) {
    lines.push(`The following inconsistencies were found and repaired:`, "", `    ${r.leaksFixed} leaked clusters`, `    ${r.corruptionsFixed} corruptions`, "");
  }
  const errors = r.corruptions - r.corruptionsFixed;
  const leaks = r.leaks - r.leaksFixed;
  if (errors === 0 && leaks === 0) lines.push("No errors were found on the image.");
  if (errors > 0) lines.push(`${errors} errors were found on the image.`, "Data may be corrupted, or further writes to the image may corrupt it.");
  if (leaks > 0) lines.push(`${leaks} leaked clusters were found on the image.`, "This means waste of disk space, but no harm to data.");
  const pct = (n: number) => (r.totalClusters === 0 ? 0 : (100 * n) / r.totalClusters).toFixed(2);
  const apct = (n: number) => (r.allocatedClusters === 0 ? 0 : (100 * n) / r.allocatedClusters).toFixed(2);
  lines.push(
    `${r.allocatedClusters}/${r.totalClusters} = ${pct(r.allocatedClusters)}% allocated, ${apct(r.fragmentedClusters)}% fragmented, ${apct(r.compressedClusters)}% compressed clusters`,
  );
  lines.push(`Image end offset: ${r.imageEndOffset}`);
  return lines.join("\n");
}

export function checkJson(r: CheckResult, file: string): object {
  return {
    "image-end-offset": r.imageEndOffset,
    "total-clusters": r.totalClusters,
    "check-errors": 0,
    "allocated-clusters": r.allocatedClusters,
    filename: file,
    format: "qcow2",
    "fragmented-clusters": r.fragmentedClusters,
    "compressed-clusters": r.compressedClusters,
    ...(r.leaks - r.leaksFixed > 0 ? { leaks: r.leaks - r.leaksFixed } : {}),
    ...(r.corruptions - r.corruptionsFixed > 0 ? { corruptions: r.corruptions - r.corruptionsFixed } : {}),
    ...(r.leaksFixed > 0 ? { "leaks-fixed": r.leaksFixed } : {}),
    ...(r.corruptionsFixed > 0 ? { "corruptions-fixed": r.corruptionsFixed } : {}),
  };
}

export function formatMap(entries: MapEntry[]): string {
  const lines = [`${"Offset".padEnd(16)}${"Length".padEnd(16)}${"Mapped to".padEnd(16)}File`];
  for (const e of entries) {
    if (!e.data || e.offset === undefined) continue;
    lines.push(`${altHex(e.start).padEnd(16)}${altHex(e.length).padEnd(16)}${altHex(e.offset).padEnd(16)}${e.filename}`);
  }
  return lines.join("\n");
}

export function mapJson(entries: MapEntry[]): string {
  const rows = entries.map((e) => {
    const { filename: _f, ...rest } = e;
    return `{ ${Object.entries(rest).map(([k, v]) => `"${k}": ${JSON.stringify(v)}`).join(", ")}}`;
  });
  return `[${rows.join(",\n")}]`;
}

/** printf's %#x: "0" for zero, else 0x-prefixed. */
function altHex(n: number): string {
  return n === 0 ? "0" : `0x${n.toString(16)}`;
}
