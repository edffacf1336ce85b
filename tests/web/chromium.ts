/**
 * Debian's Chromium (apt package `chromium`) driven by playwright-core.
 * Headless, as root (no sandbox), with background networking off: this
 * machine has no internet, and Chromium would keep retrying Google's hosts.
 * playwright's launch() gives every run a fresh temporary profile.
 */
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.TYPEVISOR_CHROMIUM ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-crash-reporter", // else crashpad handlers outlive the browser
      "--disable-breakpad",
    ],
  });
}
