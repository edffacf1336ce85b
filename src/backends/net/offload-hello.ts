/**
 * How two Typevisor ends of a stream link (a `--net switch=PATH` NIC and
 * the switch's socket port) agree to send each other offloaded frames
 * (stream-framing.ts): the NIC sends a request naming the offloads its
 * guest takes, the switch answers with a reply naming what it takes (all:
 * it makes frames plain for whoever needs them). Each is an ordinary frame
 * of the IEEE local experimental EtherType to the 802.1 "nearest bridge"
 * group, so QEMU (which never answers) and its guests drop it, and a switch
 * that does not know it floods it where it is ignored — only a reply, which
 * only our switch sends, is ever acted on by a NIC. A NIC sends a new
 * request whenever what its guest takes changes.
 */
const ETHERTYPE_LOCAL_EXPERIMENTAL = 0x88b5;
const NEAREST_BRIDGE = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e];
const MAGIC = Array.from("typevisor-offloads", (c) => c.charCodeAt(0));
const HELLO_LENGTH = 60;
const ROLE_AT = 14 + MAGIC.length;

export const HELLO_REQUEST = 1;
export const HELLO_REPLY = 2;

export function offloadHello(role: typeof HELLO_REQUEST | typeof HELLO_REPLY, offloads: number): Uint8Array {
  const f = new Uint8Array(HELLO_LENGTH);
  f.set(NEAREST_BRIDGE, 0);
  f[12] = ETHERTYPE_LOCAL_EXPERIMENTAL >> 8;
  f[13] = ETHERTYPE_LOCAL_EXPERIMENTAL & 0xff;
  f.set(MAGIC, 14);
  f[ROLE_AT] = role;
  f[ROLE_AT + 1] = offloads;
  return f;
}

/** The hello in `frame` ({ role, offloads }), or null when it is any other frame. */
export function parseOffloadHello(frame: Uint8Array): { role: number; offloads: number } | null {
  if (frame.length < ROLE_AT + 2 || frame[12] !== ETHERTYPE_LOCAL_EXPERIMENTAL >> 8 || frame[13] !== (ETHERTYPE_LOCAL_EXPERIMENTAL & 0xff)) return null;
  for (let i = 0; i < MAGIC.length; i++) if (frame[14 + i] !== MAGIC[i]) return null;
  return { role: frame[ROLE_AT], offloads: frame[ROLE_AT + 1] };
}
