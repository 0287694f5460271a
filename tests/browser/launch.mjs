// The headless chromium every browser test drives: the machine's own binary (`cfg.chromium`),
// no sandbox or GPU, and nothing that reaches the network on its own.

import { chromium } from "playwright-core";

export function launch(cfg) {
  return chromium.launch({
    executablePath: cfg.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
}
