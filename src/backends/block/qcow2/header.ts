/**
 * The qcow2 header (docs/interop/qcow2.rst in QEMU): parse and validate the
 * first cluster of an image, and serialize one. Version 2 and 3 are read;
 * we write version 3. Anything we do not implement (encryption, external
 * data files, zstd, extended L2, unknown incompatible features) is refused
 * by name rather than misread.
 */
import { CorruptImageError, ImageError, hex } from "./errors.ts";
import { readU64, writeU64 } from "./entries.ts";

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const V2_HEADER_LENGTH = 72;
export const V3_HEADER_LENGTH = 112; // 104 plus compression_type and padding, as QEMU writes it

export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_NAMES = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;

export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
export const INCOMPAT_DATA_FILE = 1n << 2n;
export const INCOMPAT_COMPRESSION = 1n << 3n;
export const INCOMPAT_EXTL2 = 1n << 4n;
const INCOMPAT_NAMES = ["dirty bit", "corrupt bit", "external data file", "compression type", "extended L2 entries"];
export const COMPAT_LAZY_REFCOUNTS = 1n << 0n;
/** Autoclear bit 0: the bitmaps extension is consistent. We never update bitmaps, so we clear it when writing. */
export const AUTOCLEAR_BITMAPS = 1n << 0n;

/** QEMU's limits (block/qcow2.h): we accept no more than QEMU would create. */
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
const MAX_L1_BYTES = 32 * 2 ** 20;
const MAX_REFTABLE_BYTES = 8 * 2 ** 20;
export const MAX_SNAPSHOTS = 65536;
const MAX_BACKING_NAME = 1023;
/** Largest virtual disk: what a double addresses exactly, rounded down to 2^52 (QEMU allows 2^61). */
export const MAX_VIRTUAL_SIZE = 2 ** 52;

export interface HeaderExtension {
  type: number;
  data: Uint8Array;
}

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
  backingFile: string | null;
  backingFormat: string | null;
  /** Extensions other than the backing format, kept so a rewrite preserves them. */
  extensions: HeaderExtension[];
}

/** Byte offsets of header fields we update in place (each update is one write). */
export const FIELD = {
  size: 24,
  l1SizeAndOffset: 36, // l1_size u32 then l1_table_offset u64: one 12-byte write
  refcountTable: 48, // refcount_table_offset u64 then refcount_table_clusters u32
  snapshots: 60, // nb_snapshots u32 then snapshots_offset u64
  incompatible: 72,
  autoclear: 88,
} as const;

/** Bytes of the first cluster that parseHeader needs (the largest legal header cluster). */
export const HEADER_READ_BYTES = 2 ** MAX_CLUSTER_BITS;

export function isQcow2(first4: Uint8Array): boolean {
  return first4.length >= 4 && new DataView(first4.buffer, first4.byteOffset, 4).getUint32(0) === QCOW2_MAGIC;
}

/**
 * Parses and validates the header in `bytes` (the start of a file of
 * `fileSize` bytes). Throws ImageError/CorruptImageError with `path` in the message.
 */
export function parseHeader(bytes: Uint8Array, fileSize: number, path: string): Qcow2Header {
  const bad = (why: string) => new CorruptImageError(`${path}: not a usable qcow2 image: ${why}`);
  const refuse = (why: string) => new ImageError(`${path}: ${why}`);
  if (bytes.length < V2_HEADER_LENGTH || fileSize < V2_HEADER_LENGTH) throw bad("file is shorter than a qcow2 header");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (v.getUint32(0) !== QCOW2_MAGIC) throw bad("no qcow2 magic");
  const version = v.getUint32(4);
  if (version !== 2 && version !== 3) throw refuse(`qcow2 version ${version} is not supported (only 2 and 3)`);
  const u64 = (at: number, what: string) => {
    try {
      return readU64(v, at, what);
    } catch (e) {
      throw bad((e as Error).message);
    }
  };
  const h: Qcow2Header = {
    version,
    backingFileOffset: u64(8, "backing_file_offset"),
    backingFileSize: v.getUint32(16),
    clusterBits: v.getUint32(20),
    size: u64(24, "size"),
    cryptMethod: v.getUint32(32),
    l1Size: v.getUint32(36),
    l1TableOffset: u64(40, "l1_table_offset"),
    refcountTableOffset: u64(48, "refcount_table_offset"),
    refcountTableClusters: v.getUint32(56),
    nbSnapshots: v.getUint32(60),
    snapshotsOffset: u64(64, "snapshots_offset"),
    incompatible: 0n,
    compatible: 0n,
    autoclear: 0n,
    refcountOrder: 4,
    headerLength: V2_HEADER_LENGTH,
    compressionType: 0,
    backingFile: null,
    backingFormat: null,
    extensions: [],
  };
  if (version === 3) {
    if (bytes.length < 104) throw bad("version 3 header is truncated");
    h.incompatible = v.getBigUint64(72);
    h.compatible = v.getBigUint64(80);
    h.autoclear = v.getBigUint64(88);
    h.refcountOrder = v.getUint32(96);
    h.headerLength = v.getUint32(100);
    if (h.headerLength < 104 || h.headerLength % 8 !== 0) throw bad(`header_length ${h.headerLength} is invalid`);
    if (h.headerLength > 104) h.compressionType = bytes[104];
  }
  if (h.clusterBits < MIN_CLUSTER_BITS || h.clusterBits > MAX_CLUSTER_BITS) {
    throw bad(`cluster_bits ${h.clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  }
  const cs = 2 ** h.clusterBits;
  if (h.headerLength > cs) throw bad(`header_length ${h.headerLength} exceeds the cluster size ${cs}`);
  if (h.cryptMethod !== 0) throw refuse(`encrypted qcow2 images (crypt_method ${h.cryptMethod}) are not supported`);
  const unsupported = h.incompatible & ~(INCOMPAT_DIRTY | INCOMPAT_CORRUPT);
  if (unsupported !== 0n) throw refuse(`uses qcow2 features we do not implement: ${featureList(unsupported, bytes, h)}`);
  if (h.compressionType !== 0) throw refuse(`compression type ${h.compressionType} (zstd) is not supported; only deflate`);
  if (h.refcountOrder > 6) throw bad(`refcount_order ${h.refcountOrder} is above 6`);
  if (h.size > MAX_VIRTUAL_SIZE) throw refuse(`virtual size ${h.size} bytes is larger than we support (${MAX_VIRTUAL_SIZE})`);

  const l2Entries = cs / 8;
  const neededL1 = Math.ceil(h.size / (cs * l2Entries));
  if (h.l1Size * 8 > MAX_L1_BYTES) throw bad(`L1 table of ${h.l1Size} entries is larger than 32 MiB`);
  if (h.l1Size < neededL1) throw bad(`L1 table (${h.l1Size} entries) is too small for ${h.size} bytes`);
  if (h.refcountTableClusters * cs > MAX_REFTABLE_BYTES) throw bad("refcount table is larger than 8 MiB");
  if (h.refcountTableClusters === 0) throw bad("refcount table is empty");
  if (h.nbSnapshots > MAX_SNAPSHOTS) throw bad(`${h.nbSnapshots} snapshots is more than ${MAX_SNAPSHOTS}`);

  const regions: Array<[string, number, number]> = [["header", 0, cs]];
  const table = (what: string, offset: number, bytesLong: number) => {
    if (bytesLong === 0) return;
    if (offset % cs !== 0) throw bad(`${what} offset ${hex(offset)} is not cluster-aligned`);
    if (offset + bytesLong > fileSize) throw bad(`${what} (${hex(offset)}, ${bytesLong} bytes) lies outside the file`);
    for (const [other, start, len] of regions) {
      if (offset < start + len && start < offset + bytesLong) throw bad(`${what} overlaps the ${other}`);
    }
    regions.push([what, offset, Math.ceil(bytesLong / cs) * cs]);
  };
  table("L1 table", h.l1TableOffset, h.l1Size * 8);
  table("refcount table", h.refcountTableOffset, h.refcountTableClusters * cs);
  if (h.nbSnapshots > 0) {
    if (h.snapshotsOffset % cs !== 0) throw bad(`snapshot table offset ${hex(h.snapshotsOffset)} is not cluster-aligned`);
    if (h.snapshotsOffset >= fileSize) throw bad("snapshot table lies outside the file");
  }

  if (h.backingFileOffset !== 0) {
    if (h.backingFileSize > MAX_BACKING_NAME || h.backingFileSize === 0) {
      throw bad(`backing file name length ${h.backingFileSize} is not 1..${MAX_BACKING_NAME}`);
    }
    if (h.backingFileOffset + h.backingFileSize > Math.min(cs, bytes.length)) {
      throw bad("backing file name does not lie inside the first cluster");
    }
    h.backingFile = new TextDecoder().decode(bytes.subarray(h.backingFileOffset, h.backingFileOffset + h.backingFileSize));
  }
  const extEnd = h.backingFileOffset !== 0 ? h.backingFileOffset : Math.min(cs, bytes.length);
  parseExtensions(bytes, h, extEnd, bad);
  return h;
}

function parseExtensions(bytes: Uint8Array, h: Qcow2Header, end: number, bad: (why: string) => Error): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = h.headerLength;
  while (at + 8 <= end) {
    const type = v.getUint32(at);
    const length = v.getUint32(at + 4);
    if (type === EXT_END) return;
    const dataEnd = at + 8 + length;
    if (dataEnd > end) throw bad(`header extension ${hex(type)} runs past the header area`);
    const data = bytes.slice(at + 8, dataEnd);
    if (type === EXT_BACKING_FORMAT) h.backingFormat = new TextDecoder().decode(data);
    else h.extensions.push({ type, data });
    at = at + 8 + Math.ceil(length / 8) * 8;
  }
}

function featureList(bits: bigint, bytes: Uint8Array, h: Qcow2Header): string {
  const names: string[] = [];
  for (let bit = 0n; bit < 64n; bit++) {
    if (!(bits & (1n << bit))) continue;
    names.push(INCOMPAT_NAMES[Number(bit)] ?? featureName(bytes, h, Number(bit)) ?? `incompatible feature bit ${bit}`);
  }
  return names.join(", ");
}

/** Looks a bit up in the feature name table extension, as QEMU does in its error message. */
function featureName(bytes: Uint8Array, h: Qcow2Header, bit: number): string | null {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = h.headerLength;
  while (at + 8 <= Math.min(bytes.length, 2 ** h.clusterBits)) {
    const type = v.getUint32(at);
    const length = v.getUint32(at + 4);
    if (type === EXT_END || at + 8 + length > bytes.length) return null;
    if (type === EXT_FEATURE_NAMES) {
      for (let e = at + 8; e + 48 <= at + 8 + length; e += 48) {
        if (bytes[e] === 0 && bytes[e + 1] === bit) {
          return new TextDecoder().decode(bytes.subarray(e + 2, e + 48)).replace(/\0.*$/s, "");
        }
      }
    }
    at += 8 + Math.ceil(length / 8) * 8;
  }
  return null;
}

/** Serializes a header (its version's layout) with extensions and backing file name, in one cluster. */
export function serializeHeader(h: Qcow2Header): Uint8Array {
  const fixed = h.version === 3 ? V3_HEADER_LENGTH : V2_HEADER_LENGTH;
  const cs = 2 ** h.clusterBits;
  const enc = new TextEncoder();
  const exts: HeaderExtension[] = [];
  if (h.backingFormat !== null) exts.push({ type: EXT_BACKING_FORMAT, data: enc.encode(h.backingFormat) });
  exts.push(...h.extensions);
  let length = fixed;
  for (const e of exts) length += 8 + Math.ceil(e.data.length / 8) * 8;
  length += 8; // end marker
  const name = h.backingFile !== null ? enc.encode(h.backingFile) : new Uint8Array(0);
  if (name.length > MAX_BACKING_NAME) throw new ImageError(`backing file name is longer than ${MAX_BACKING_NAME} bytes`);
  const total = length + name.length;
  if (total > cs) throw new ImageError(`header and backing file name (${total} bytes) do not fit in one ${cs}-byte cluster`);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, QCOW2_MAGIC);
  v.setUint32(4, h.version);
  writeU64(v, 8, name.length > 0 ? length : 0);
  v.setUint32(16, name.length);
  v.setUint32(20, h.clusterBits);
  writeU64(v, 24, h.size);
  v.setUint32(32, 0);
  v.setUint32(36, h.l1Size);
  writeU64(v, 40, h.l1TableOffset);
  writeU64(v, 48, h.refcountTableOffset);
  v.setUint32(56, h.refcountTableClusters);
  v.setUint32(60, h.nbSnapshots);
  writeU64(v, 64, h.snapshotsOffset);
  if (h.version === 3) {
    v.setBigUint64(72, h.incompatible);
    v.setBigUint64(80, h.compatible);
    v.setBigUint64(88, h.autoclear);
    v.setUint32(96, h.refcountOrder);
    v.setUint32(100, V3_HEADER_LENGTH);
    out[104] = 0; // compression type: deflate
  }
  let at = fixed;
  for (const e of exts) {
    v.setUint32(at, e.type);
    v.setUint32(at + 4, e.data.length);
    out.set(e.data, at + 8);
    at += 8 + Math.ceil(e.data.length / 8) * 8;
  }
  at += 8; // zero end marker
  out.set(name, at);
  return out;
}
