/**
 * A flattened device tree (DTB, devicetree spec v0.4 chapter 5) writer.
 *
 * Build a tree of `FdtNode`s, then `encodeFdt` lays it out: 40-byte header,
 * memory reservation map (8-aligned, terminated by a zero entry), structure
 * block (4-aligned tokens), strings block (property names, deduplicated).
 * Values are written as given — strings get exactly one NUL each and are
 * never escaped — so names and strings that cannot be represented are
 * rejected instead.
 */

const FDT_MAGIC = 0xd00dfeed;
const FDT_VERSION = 17;
const FDT_LAST_COMPATIBLE_VERSION = 16;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_END = 9;
const HEADER_SIZE = 40;

const NODE_NAME = /^[A-Za-z0-9,._+-]{1,31}(@[A-Za-z0-9,._+-]+)?$/;
const PROPERTY_NAME = /^[A-Za-z0-9,._+?#-]{1,31}$/;

export class FdtError extends Error {
  override name = "FdtError";
}

export class FdtNode {
  /** Properties in insertion order. */
  readonly props = new Map<string, Uint8Array>();
  readonly children: FdtNode[] = [];

  /** `name` is "" for the root, else "name" or "name@unit". */
  constructor(readonly name: string) {
    if (name !== "" && !NODE_NAME.test(name)) throw new FdtError(`invalid device tree node name "${name}"`);
  }

  addChild(name: string): FdtNode {
    if (this.children.some((c) => c.name === name)) throw new FdtError(`duplicate device tree node "${name}"`);
    const child = new FdtNode(name);
    this.children.push(child);
    return child;
  }

  /** Raw bytes. */
  bytes(name: string, value: Uint8Array): this {
    if (!PROPERTY_NAME.test(name)) throw new FdtError(`invalid device tree property name "${name}"`);
    this.props.set(name, value);
    return this;
  }

  /** A property with no value (a flag such as `interrupt-controller`). */
  empty(name: string): this {
    return this.bytes(name, new Uint8Array(0));
  }

  /** One or more 32-bit big-endian cells. */
  u32(name: string, ...cells: number[]): this {
    const out = new Uint8Array(4 * cells.length);
    const dv = new DataView(out.buffer);
    cells.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c > 0xffffffff) throw new FdtError(`property ${name}: cell ${c} is not a u32`);
      dv.setUint32(4 * i, c);
    });
    return this.bytes(name, out);
  }

  /** One or more 64-bit values, two cells each (high, low). */
  u64(name: string, ...values: number[]): this {
    return this.u32(name, ...values.flatMap((v) => cells64(name, v)));
  }

  /** A string, or a string list: each NUL-terminated. */
  str(name: string, ...values: string[]): this {
    const parts = values.map((s) => {
      if (s.includes("\0")) throw new FdtError(`property ${name}: a string may not contain NUL`);
      return new TextEncoder().encode(s + "\0");
    });
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return this.bytes(name, out);
  }
}

/** A 64-bit value as [high cell, low cell]. */
export function cells64(what: string, value: number): [number, number] {
  if (!Number.isSafeInteger(value) || value < 0) throw new FdtError(`${what}: ${value} is not a valid 64-bit value`);
  return [Math.floor(value / 0x100000000), value % 0x100000000];
}

export interface MemoryReservation {
  address: number;
  size: number;
}

export interface EncodeOptions {
  /** Physical id of the boot CPU (header field). */
  bootCpuId?: number;
  reservations?: MemoryReservation[];
}

class ByteWriter {
  private buf = new Uint8Array(1024);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }

  u32(v: number): void {
    this.room(4);
    new DataView(this.buf.buffer).setUint32(this.length, v >>> 0);
    this.length += 4;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** Zero bytes up to a multiple of `n`. */
  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export function encodeFdt(root: FdtNode, options: EncodeOptions = {}): Uint8Array {
  if (root.name !== "") throw new FdtError("the root node must have an empty name");
  const strings = new ByteWriter();
  const stringOffsets = new Map<string, number>();
  const nameOffset = (name: string): number => {
    let off = stringOffsets.get(name);
    if (off === undefined) {
      off = strings.length;
      stringOffsets.set(name, off);
      strings.bytes(new TextEncoder().encode(name + "\0"));
    }
    return off;
  };

  const struct = new ByteWriter();
  const emit = (node: FdtNode): void => {
    struct.u32(FDT_BEGIN_NODE);
    struct.bytes(new TextEncoder().encode(node.name + "\0"));
    struct.align(4);
    for (const [name, value] of node.props) {
      struct.u32(FDT_PROP);
      struct.u32(value.length);
      struct.u32(nameOffset(name));
      struct.bytes(value);
      struct.align(4);
    }
    for (const child of node.children) emit(child);
    struct.u32(FDT_END_NODE);
  };
  emit(root);
  struct.u32(FDT_END);

  const reservations = options.reservations ?? [];
  const rsvOffset = HEADER_SIZE; // already 8-aligned
  const structOffset = rsvOffset + 16 * (reservations.length + 1);
  const stringsOffset = structOffset + struct.length;
  const total = stringsOffset + strings.length;

  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const header = [
    FDT_MAGIC,
    total,
    structOffset,
    stringsOffset,
    rsvOffset,
    FDT_VERSION,
    FDT_LAST_COMPATIBLE_VERSION,
    options.bootCpuId ?? 0,
    strings.length,
    struct.length,
  ];
  header.forEach((v, i) => dv.setUint32(4 * i, v));
  reservations.forEach((r, i) => {
    const [ah, al] = cells64("reservation address", r.address);
    const [sh, sl] = cells64("reservation size", r.size);
    const at = rsvOffset + 16 * i;
    dv.setUint32(at, ah);
    dv.setUint32(at + 4, al);
    dv.setUint32(at + 8, sh);
    dv.setUint32(at + 12, sl);
  });
  out.set(struct.result(), structOffset);
  out.set(strings.result(), stringsOffset);
  return out;
}
