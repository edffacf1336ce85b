/**
 * `--drive` option values, QEMU style: `file=PATH[,format=raw|qcow2][,readonly=on]`
 * (no format: probed, as QEMU does), `snapshot=on` (writes go to a throw-away
 * overlay), `discard=unmap|ignore` (pass the guest's DISCARD on to the image;
 * default ignore), `cache=writeback|writethrough|unsafe` (see CacheMode in
 * open-image.ts), `serial=ID` (reported to the guest, up to 20 bytes),
 * `id=NAME` and `if=virtio` (the default) or `if=none` (attached by
 * `-device virtio-blk-device,drive=NAME`). A literal comma in a value is
 * written twice (`,,`).
 */
import type { BlockBackend } from "./block-backend.ts";
import { CACHE_MODES, openImage, parseFormat, type CacheMode, type ImageFormat } from "./open-image.ts";
import { SnapshotOverlayBackend } from "./snapshot-overlay.ts";

export interface DriveSpec {
  file: string;
  /** Absent: probe the file (a qcow2 image is opened as qcow2, never written as raw). */
  format?: ImageFormat;
  readOnly: boolean;
  /** Writes go to an in-memory overlay discarded at close; the file is never written. */
  snapshot: boolean;
  /** discard=unmap: the guest's DISCARD frees image space. */
  discard?: boolean;
  cache?: CacheMode;
  serial?: string;
  id?: string;
  /** if=none: no device of its own; a `-device virtio-blk-device,drive=ID` attaches it. */
  ifNone?: true;
}

const USAGE = "expected --drive file=PATH[,format=raw|qcow2][,readonly=on][,snapshot=on][,discard=unmap][,cache=MODE][,serial=ID]";

/** Parses one `--drive` value; throws an Error saying what is wrong and what is expected. */
export function parseDriveSpec(text: string): DriveSpec {
  let file: string | undefined;
  let format: string | undefined;
  let readOnly = false;
  let snapshot = false;
  let discard: boolean | undefined;
  let cache: CacheMode | undefined;
  let serial: string | undefined;
  let id: string | undefined;
  let ifNone = false;
  for (const item of splitOptions(text)) {
    const eq = item.indexOf("=");
    if (eq < 0) throw new Error(`--drive ${text}: "${item}" is not key=value; ${USAGE}`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    switch (key) {
      case "file": file = value; break;
      case "format": format = value; break;
      case "readonly": readOnly = parseFlag(text, key, value); break;
      case "snapshot": snapshot = parseFlag(text, key, value); break;
      case "discard":
        if (value !== "unmap" && value !== "on" && value !== "ignore" && value !== "off") {
          throw new Error(`--drive ${text}: discard=${value} must be unmap or ignore`);
        }
        discard = value === "unmap" || value === "on";
        break;
      case "cache":
        if (value === "none" || value === "directsync") {
          throw new Error(
            `--drive ${text}: cache=${value} (O_DIRECT) is not supported: Node cannot align guest buffers for it; ` +
              "cache=writeback makes the same durability promise (data is durable after the guest's flush)",
          );
        }
        if (!(CACHE_MODES as readonly string[]).includes(value)) {
          throw new Error(`--drive ${text}: cache=${value} must be one of ${CACHE_MODES.join(", ")}`);
        }
        cache = value as CacheMode;
        break;
      case "serial":
        if (new TextEncoder().encode(value).length > 20) {
          throw new Error(`--drive ${text}: serial is longer than 20 bytes`);
        }
        serial = value;
        break;
      case "id": id = value; break;
      case "if":
        if (value !== "virtio" && value !== "none") throw new Error(`--drive ${text}: only if=virtio or if=none is supported`);
        ifNone = value === "none";
        break;
      default:
        throw new Error(`--drive ${text}: unknown option "${key}"; ${USAGE}`);
    }
  }
  if (file === undefined || file === "") throw new Error(`--drive ${text}: no file= given; ${USAGE}`);
  const spec: DriveSpec = { file, readOnly, snapshot };
  if (format !== undefined) spec.format = parseFormat(format, `--drive ${text}`);
  if (discard !== undefined) spec.discard = discard;
  if (cache !== undefined) spec.cache = cache;
  if (serial !== undefined) spec.serial = serial;
  if (id !== undefined) spec.id = id;
  if (ifNone) {
    if (id === undefined) throw new Error(`--drive ${text}: if=none needs id=NAME, for -device virtio-blk-device,drive=NAME`);
    spec.ifNone = true;
  }
  return spec;
}

/** Opens the image a spec names. Throws an Error naming the file if it cannot. */
export function openDrive(spec: Pick<DriveSpec, "file" | "readOnly" | "snapshot" | "format" | "discard" | "cache">): BlockBackend {
  const options = { format: spec.format, discard: spec.discard, cache: spec.cache };
  if (!spec.snapshot) return openImage(spec.file, { readOnly: spec.readOnly, ...options });
  const image = openImage(spec.file, { readOnly: true, format: spec.format });
  // A read-only snapshot drive stays read-only to the guest, as on QEMU.
  return spec.readOnly ? image : new SnapshotOverlayBackend(image);
}

function splitOptions(text: string): string[] {
  const items: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== ",") {
      current += c;
    } else if (text[i + 1] === ",") {
      current += ",";
      i++;
    } else {
      items.push(current);
      current = "";
    }
  }
  items.push(current);
  return items.filter((s) => s !== "");
}

function parseFlag(text: string, key: string, value: string): boolean {
  if (value === "on" || value === "true" || value === "yes") return true;
  if (value === "off" || value === "false" || value === "no") return false;
  throw new Error(`--drive ${text}: ${key}=${value} must be on or off`);
}
