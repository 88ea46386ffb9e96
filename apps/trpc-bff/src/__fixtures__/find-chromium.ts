import { existsSync } from "node:fs";

/** Where Debian's (and other distributions') Chromium is installed; `NOA_CHROMIUM` wins. */
const candidates = [
  process.env.NOA_CHROMIUM,
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
];

/** The Chromium binary for browser tests, or undefined when none is installed (`apt-get install -y chromium`). */
export function findChromium(): string | undefined {
  return candidates.find((candidate): candidate is string => !!candidate && existsSync(candidate));
}

/** Flags for headless Chromium as root in a container, with nothing fetched from the network. */
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-default-apps",
  "--disable-extensions",
  "--disable-sync",
  "--metrics-recording-only",
  "--no-first-run",
];
