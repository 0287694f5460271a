// The hosted checkout pages as a customer uses them, at a phone width: on the gateway's page the
// Pay button follows the amount typed for a partial payment, and a failed payment shows the
// error code, description and reason its webhook carries, with "Try again"; on Qonto's page the
// result follows the link's real state, processing and then paid, without a reload by hand.
// Run by tests/api/dashboard_browser.rs.
//
// usage: node checkout.mjs <config.json>
//   config: { base, chromium, screenshots, gateway_url, qonto_url }
// Prints one JSON line with what it saw; exits non-zero on the first expectation that fails.

import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch } from "./launch.mjs";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const seen = {};
mkdirSync(cfg.screenshots, { recursive: true });
const browser = await launch(cfg);
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") errors.push(`console error: ${m.text()}`); });

  await page.goto(cfg.gateway_url);
  const pay = page.locator("button[data-pay-label]");
  seen.label_before = (await pay.textContent()).trim();
  await page.locator("#amount").fill("600");
  seen.label_typed = (await pay.textContent()).trim();
  await page.locator("label.tile.bad").click();
  await pay.click();
  const failure = page.locator(".result.bad[data-error-code]");
  await failure.waitFor();
  seen.failure_code = await failure.getAttribute("data-error-code");
  seen.failure_text = (await failure.textContent()).replace(/\s+/g, " ").trim();
  seen.try_again = await failure.locator("a.again").isVisible();
  await page.screenshot({ path: join(cfg.screenshots, "checkout-gateway-failed-390.png"), fullPage: true });

  await page.goto(cfg.qonto_url);
  await page.locator("a.tile", { hasText: "Card" }).click();
  await page.locator("label.tile", { hasText: /^\s*paid\s*$/ }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  const result = page.locator(".result[data-link-status]");
  await result.waitFor();
  seen.qonto_first = await result.getAttribute("data-link-status");
  seen.qonto_first_text = (await result.textContent()).replace(/\s+/g, " ").trim();
  await page.locator('.result[data-link-status="paid"]').waitFor({ timeout: 15000 });
  seen.qonto_then_text = (await page.locator(".result").textContent()).replace(/\s+/g, " ").trim();
  seen.qonto_status_shown = (await page.locator("dd.status").textContent()).trim();
  await page.screenshot({ path: join(cfg.screenshots, "checkout-qonto-paid-390.png"), fullPage: true });
  seen.ok = errors.length === 0;
} catch (e) {
  seen.ok = false;
  seen.error = String(e && e.stack || e);
} finally {
  seen.page_errors = errors;
  await browser.close();
}
console.log(JSON.stringify(seen));
process.exit(seen.ok ? 0 : 1);
