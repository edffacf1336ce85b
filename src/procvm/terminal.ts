/**
 * The host terminal as the guest sees it: the termios the guest sets (kept
 * per host fd, TCGETS/TCSETS), raw mode on the host while the guest reads
 * non-canonically, and terminal signals.
 *
 * Ctrl-C normally reaches us as a host SIGINT, which `typevisor exec`
 * forwards to the guest's foreground process group. While the host terminal
 * is raw (node's raw mode also turns off ISIG) the key arrives as a byte
 * instead; if the guest asked for ISIG, its INTR and QUIT characters are
 * taken out of the input here and raised as SIGINT / SIGQUIT, as the line
 * discipline would.
 */
import type * as tty from "node:tty";
import { SIGINT, SIGQUIT } from "./signals.ts";

const ICANON = 0o2;
const ISIG = 0o1;
/** struct termios (asm-generic): c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc[19]. */
const TERMIOS_SIZE = 36;
const LFLAG = 12;
const CC = 17;
const VINTR = 0;
const VQUIT = 1;

/** Terminal settings per host tty fd, as the guest last set them. */
const termiosByFd = new Map<number, Uint8Array>();
/** The guest settings that made the host terminal raw, or null while it is not. */
let rawFor: Uint8Array | null = null;
/** Where INTR / QUIT characters go while the host terminal is raw (set by `typevisor exec`). */
let signalHandler: ((sig: number) => void) | null = null;

export function setTerminalSignalHandler(handler: ((sig: number) => void) | null): void {
  signalHandler = handler;
}

/** What TCGETS reports for host fd `fd`: the guest's last settings, else a cooked default. */
export function guestTermios(fd: number): Uint8Array {
  return termiosByFd.get(fd) ?? defaultTermios();
}

/** TCSETS: records the settings; non-canonical input on stdin makes the host terminal raw too. */
export function setGuestTermios(fd: number, termios: Uint8Array): void {
  const copy = termios.slice(0, TERMIOS_SIZE);
  termiosByFd.set(fd, copy);
  const raw = (new DataView(copy.buffer).getUint32(LFLAG, true) & ICANON) === 0;
  if (fd !== 0 || !process.stdin.isTTY) return;
  try {
    // node's tty stream restores the terminal at exit
    (process.stdin as tty.ReadStream).setRawMode(raw);
    rawFor = raw ? copy : null;
  } catch {
    // not fatal: the guest just sees a cooked terminal
  }
}

/** Puts the host terminal back as it was if the guest left it raw (typevisor exec does this when the guest ends). */
export function restoreHostTerminal(): void {
  if (rawFor === null) return;
  try {
    (process.stdin as tty.ReadStream).setRawMode(false);
  } catch {
    // nothing more to do
  }
  rawFor = null;
}

/**
 * Input just read from a terminal: while the host terminal is raw for a
 * guest that wants ISIG, its INTR/QUIT characters become signals (through
 * the handler) and are removed. Returns the bytes left for the reader.
 */
export function takeSignalCharacters(input: Uint8Array): Uint8Array {
  const t = rawFor;
  if (t === null || signalHandler === null) return input;
  if ((new DataView(t.buffer).getUint32(LFLAG, true) & ISIG) === 0) return input;
  const intr = t[CC + VINTR];
  const quit = t[CC + VQUIT];
  // _POSIX_VDISABLE (0) disables a character
  const isSignal = (b: number) => (b === intr && intr !== 0) || (b === quit && quit !== 0);
  if (!input.some(isSignal)) return input;
  for (const b of input) if (isSignal(b)) signalHandler(b === intr ? SIGINT : SIGQUIT);
  return input.filter((b) => !isSignal(b));
}

function defaultTermios(): Uint8Array {
  const bytes = new Uint8Array(TERMIOS_SIZE);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, 0o2400, true); // ICRNL | IXON
  dv.setUint32(4, 0o5, true); // OPOST | ONLCR
  dv.setUint32(8, 0o277, true); // B38400 | CS8 | CREAD
  dv.setUint32(LFLAG, 0o105073, true); // ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
  const cc = [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0];
  cc.forEach((c, i) => (bytes[CC + i] = c));
  return bytes;
}
