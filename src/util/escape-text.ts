/**
 * Makes untrusted text (guest paths, ELF contents, option values) safe to
 * print on a terminal as part of one line: control characters (C0, DEL, C1),
 * line and paragraph separators and bidirectional overrides become visible
 * escapes (`\n`, `\x1b`, `\u202e`). Printable text and backslashes stay as
 * they are, so escaping twice changes nothing.
 */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function escapeText(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Bytes (a guest string, maybe not UTF-8) as escaped text: invalid UTF-8 shows as U+FFFD. */
export function escapeBytes(bytes: Uint8Array): string {
  return escapeText(new TextDecoder().decode(bytes));
}
