/**
 * `--drive` option values, QEMU style: `file=PATH,format=raw[,readonly=on]`
 * plus optional `snapshot=on` (writes go to a throw-away overlay), `serial=ID`
 * (reported to the guest, up to 20 bytes), `id=NAME` and `if=virtio` (the
 * default) or `if=none` (attached by `-device virtio-blk-device,drive=NAME`).
 * A literal comma in a value is written twice (`,,`).
 */
import type { BlockBackend } from "./block-backend.ts";
import { RawFileBackend } from "./raw-file.ts";
import { SnapshotOverlayBackend } from "./snapshot-overlay.ts";

export interface DriveSpec {
  file: string;
  format: "raw";
  readOnly: boolean;
  /** Writes go to an in-memory overlay discarded at close; the file is never written. */
  snapshot: boolean;
  serial?: string;
  id?: string;
  /** if=none: no device of its own; a `-device virtio-blk-device,drive=ID` attaches it. */
  ifNone?: true;
}

const USAGE = "expected --drive file=PATH,format=raw[,readonly=on][,snapshot=on][,serial=ID]";

/** Parses one `--drive` value; throws an Error saying what is wrong and what is expected. */
export function parseDriveSpec(text: string): DriveSpec {
  let file: string | undefined;
  let format: string | undefined;
  let readOnly = false;
  let snapshot = false;
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
  if (format !== undefined && format !== "raw") {
    throw new Error(`--drive ${text}: format=${format} is not supported yet; only format=raw`);
  }
  const spec: DriveSpec = { file, format: "raw", readOnly, snapshot };
  if (serial !== undefined) spec.serial = serial;
  if (id !== undefined) spec.id = id;
  if (ifNone) {
    if (id === undefined) throw new Error(`--drive ${text}: if=none needs id=NAME, for -device virtio-blk-device,drive=NAME`);
    spec.ifNone = true;
  }
  return spec;
}

/** Opens the image a spec names. Throws an Error naming the file if it cannot. */
export function openDrive(spec: Pick<DriveSpec, "file" | "readOnly" | "snapshot">): BlockBackend {
  if (!spec.snapshot) return RawFileBackend.open(spec.file, { readOnly: spec.readOnly });
  const image = RawFileBackend.open(spec.file, { readOnly: true });
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
