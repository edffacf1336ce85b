/**
 * The DNS server at the `dns=` address (10.0.2.3): it answers A and AAAA
 * queries with what the host resolves through getaddrinfo (node:dns
 * lookup), so names from the host's /etc/hosts work as in QEMU. Host
 * loopback answers (127.0.0.0/8, ::1) are rewritten to the gateway address,
 * which is how the guest reaches the host's loopback. Other query types get
 * NOTIMP; malformed queries get no answer.
 */
import { lookup } from "node:dns";
import { get16, put16, put32 } from "./bytes.ts";
import { isLoopback, parseIpv4, type Ipv4 } from "./addresses.ts";
import { ipv6Bytes, parseIpv6, type Ipv6 } from "./ipv6-address.ts";

export const DNS_PORT = 53;
const HEADER = 12;
const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const RCODE_FORMERR = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
const TTL_SECONDS = 60;
/** Lookups in flight at once; queries beyond this are dropped (the guest retries). */
export const MAX_PENDING_LOOKUPS = 32;
/** A reply must fit one unfragmented UDP datagram with the classic 512-byte limit. */
const MAX_REPLY = 512;

export interface DnsQuestion {
  name: string;
  type: number;
  /** End of the question section in the message. */
  end: number;
}

/** The single question of a standard query, or null if it is not one we can parse. */
export function parseDnsQuery(msg: Uint8Array): DnsQuestion | null {
  if (msg.length < HEADER + 5) return null;
  const flags = get16(msg, 2);
  if ((flags & 0x8000) !== 0 || get16(msg, 4) !== 1) return null; // a response, or not one question
  const labels: string[] = [];
  let p = HEADER;
  for (;;) {
    if (p >= msg.length) return null;
    const len = msg[p++];
    if (len === 0) break;
    if (len > 63 || p + len > msg.length) return null; // compression pointers have no place in a question
    labels.push(String.fromCharCode(...msg.subarray(p, p + len)));
    p += len;
  }
  if (p + 4 > msg.length || get16(msg, p + 2) !== CLASS_IN) return null;
  const name = labels.join(".");
  if (name.length > 253) return null;
  return { name, type: get16(msg, p), end: p + 4 };
}

/** Builds the reply to `query` with the given addresses (4 or 16 bytes each) and response code. */
export function buildDnsReply(query: Uint8Array, q: DnsQuestion, rcode: number, addresses: Uint8Array[]): Uint8Array {
  const room = Math.floor((MAX_REPLY - q.end) / 28);
  const answers = addresses.slice(0, Math.max(0, room));
  const size = q.end + answers.reduce((n, a) => n + 12 + a.length, 0);
  const out = new Uint8Array(size);
  out.set(query.subarray(0, q.end));
  const opcode = (get16(query, 2) >> 11) & 15;
  const rd = get16(query, 2) & 0x0100;
  put16(out, 2, 0x8000 | (opcode << 11) | rd | 0x0080 | rcode); // QR, RA
  put16(out, 4, 1);
  put16(out, 6, answers.length);
  put16(out, 8, 0);
  put16(out, 10, 0);
  let p = q.end;
  for (const a of answers) {
    put16(out, p, 0xc000 | HEADER); // the name: a pointer to the question
    put16(out, p + 2, a.length === 4 ? TYPE_A : TYPE_AAAA);
    put16(out, p + 4, CLASS_IN);
    put32(out, p + 6, TTL_SECONDS);
    put16(out, p + 10, a.length);
    out.set(a, p + 12);
    p += 12 + a.length;
  }
  return out;
}

/** Resolves names for the guest; `resolve` is injectable for tests. */
export class DnsForwarder {
  pending = 0;

  constructor(
    private readonly gateway: Ipv4,
    /** The gateway's IPv6 address (ipv6=on), which ::1 answers become; null leaves ::1 out. */
    private readonly gateway6: Ipv6 | null,
    private readonly resolve: (name: string, family: 4 | 6) => Promise<string[] | null> = hostLookup,
  ) {}

  /**
   * Answers one query message; `reply` gets the response later (or at
   * once for errors). Returns false when the query was dropped.
   */
  answer(query: Uint8Array, reply: (response: Uint8Array) => void): boolean {
    const q = parseDnsQuery(query);
    if (q === null) {
      if (query.length >= HEADER) reply(formErr(query));
      return query.length >= HEADER;
    }
    if (q.type !== TYPE_A && q.type !== TYPE_AAAA) {
      reply(buildDnsReply(query, q, RCODE_NOTIMP, []));
      return true;
    }
    if (this.pending >= MAX_PENDING_LOOKUPS) return false;
    this.pending++;
    const family = q.type === TYPE_A ? 4 : 6;
    this.resolve(q.name, family).then(
      (addresses) => {
        this.pending--;
        if (addresses === null) reply(buildDnsReply(query, q, RCODE_NXDOMAIN, []));
        else reply(buildDnsReply(query, q, 0, this.toRecords(addresses, family)));
      },
      () => {
        this.pending--;
        reply(buildDnsReply(query, q, RCODE_NXDOMAIN, []));
      },
    );
    return true;
  }

  private toRecords(addresses: string[], family: 4 | 6): Uint8Array[] {
    const records: Uint8Array[] = [];
    const seen = new Set<string>();
    for (const text of addresses) {
      let bytes: Uint8Array | null;
      if (family === 4) {
        let ip = parseIpv4(text);
        if (ip !== null && isLoopback(ip)) ip = this.gateway;
        bytes = ip === null ? null : Uint8Array.of(ip >>> 24, ip >>> 16, ip >>> 8, ip);
      } else {
        bytes = text !== "::1" ? parseIpv6(text) : this.gateway6 === null ? null : ipv6Bytes(this.gateway6);
      }
      if (bytes === null) continue;
      const k = bytes.join(".");
      if (!seen.has(k)) records.push(bytes);
      seen.add(k);
    }
    return records;
  }
}

/** getaddrinfo through node:dns (honours /etc/hosts); null for "no such name". */
function hostLookup(name: string, family: 4 | 6): Promise<string[] | null> {
  return new Promise((resolve) => {
    lookup(name, { family, all: true }, (err, addresses) => {
      if (err) resolve(err.code === "ENOTFOUND" || err.code === "ENODATA" ? (family === 6 ? [] : null) : null);
      else resolve(addresses.map((a) => a.address));
    });
  });
}

function formErr(query: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER);
  out.set(query.subarray(0, 4));
  put16(out, 2, 0x8000 | RCODE_FORMERR);
  return out;
}
