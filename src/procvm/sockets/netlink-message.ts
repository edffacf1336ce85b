/**
 * Netlink's wire format (linux/netlink.h; host-endian, little on riscv64):
 * a message is a 16-byte nlmsghdr (len, type, flags, seq, pid), a fixed
 * family header, then attributes (struct nlattr: u16 len, u16 type,
 * payload), each padded to 4 bytes. Building replies and reading requests,
 * never trusting a length the guest wrote.
 */

export const NLMSG_HDRLEN = 16;
const NLA_HDRLEN = 4;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
/** Types below this are control messages, never requests. */
export const NLMSG_MIN_TYPE = 0x10;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_FILTERED = 0x20;
/** NLM_F_ROOT | NLM_F_MATCH: either bit asks for a dump. */
export const NLM_F_DUMP = 0x300;
/** On NLMSG_ERROR: the request's body was left out / extended-ack attributes follow. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

/** enum nlmsgerr_attrs */
export const NLMSGERR_ATTR_MSG = 1;

/** The nlattr type bits (NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off). */
const NLA_TYPE_MASK = 0x3fff;

export const align4 = (n: number): number => (n + 3) & ~3;

export interface MessageHeader {
  len: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

export function readHeader(buf: Uint8Array, at: number): MessageHeader {
  const dv = new DataView(buf.buffer, buf.byteOffset + at, NLMSG_HDRLEN);
  return {
    len: dv.getUint32(0, true), type: dv.getUint16(4, true), flags: dv.getUint16(6, true),
    seq: dv.getUint32(8, true), pid: dv.getUint32(12, true),
  };
}

/**
 * A message being built: nlmsghdr, the family header, then attributes.
 * nlmsg_len covers the padding of the last attribute, as nlmsg_end's does.
 */
export class MessageBuilder {
  private readonly parts: Uint8Array[] = [];
  private length = NLMSG_HDRLEN;

  constructor(
    private readonly type: number,
    private flags: number,
    private readonly seq: number,
    private readonly portid: number,
  ) {}

  /** Appends bytes, padded to 4. */
  raw(bytes: Uint8Array): this {
    this.parts.push(bytes);
    this.length += bytes.length;
    const pad = align4(this.length) - this.length;
    if (pad > 0) {
      this.parts.push(new Uint8Array(pad));
      this.length += pad;
    }
    return this;
  }

  attr(type: number, payload: Uint8Array): this {
    const head = new Uint8Array(NLA_HDRLEN);
    const dv = new DataView(head.buffer);
    dv.setUint16(0, NLA_HDRLEN + payload.length, true);
    dv.setUint16(2, type, true);
    this.parts.push(head);
    this.length += NLA_HDRLEN;
    return this.raw(payload);
  }

  u8(type: number, v: number): this {
    return this.attr(type, Uint8Array.of(v));
  }

  u32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.attr(type, b);
  }

  /** A NUL-terminated string. */
  string(type: number, s: string): this {
    const text = new TextEncoder().encode(s);
    const b = new Uint8Array(text.length + 1);
    b.set(text);
    return this.attr(type, b);
  }

  addFlags(f: number): this {
    this.flags |= f;
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, this.length, true);
    dv.setUint16(4, this.type, true);
    dv.setUint16(6, this.flags, true);
    dv.setUint32(8, this.seq, true);
    dv.setUint32(12, this.portid, true);
    let at = NLMSG_HDRLEN;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export interface Attributes {
  /** The last attribute of each type (as nla_parse keeps it). */
  byType: Map<number, Uint8Array>;
  /** Bytes left that do not make a whole attribute. */
  leftover: number;
}

/** nla_for_each_attr over `bytes`: stops at the first attribute whose length does not fit. */
export function parseAttributes(bytes: Uint8Array): Attributes {
  const byType = new Map<number, Uint8Array>();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (bytes.length - at >= NLA_HDRLEN) {
    const len = dv.getUint16(at, true);
    if (len < NLA_HDRLEN || len > bytes.length - at) break;
    byType.set(dv.getUint16(at + 2, true) & NLA_TYPE_MASK, bytes.subarray(at + NLA_HDRLEN, at + len));
    at += align4(len);
  }
  return { byType, leftover: Math.max(0, bytes.length - at) };
}

/** A NLA_STRING attribute's text, without its trailing NUL. */
export function attrString(payload: Uint8Array): string {
  const nul = payload.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? payload : payload.subarray(0, nul));
}
