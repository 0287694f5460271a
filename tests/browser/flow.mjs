// Plays a whole payment flow through the dashboard in headless chromium, as a demo would:
// the customer opens the chat, taps pay on the order card, pays on the sandbox's checkout page;
// the timeline shows the gateway's webhook delivered; the merchant sends `order_status` and the
// card changes without a reload. Run by tests/dashboard_browser.rs, which starts the sandbox and
// checks the webhook on its own receiver.
//
// usage: node flow.mjs <config.json>
//   config: { base, chromium, screenshots, token, phone_number_id, reference_id, wa_id, amount_text }
// Prints one JSON line with what it saw; exits non-zero on the first expectation that fails.

import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch } from "./launch.mjs";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const seen = { steps: [] };
const step = (name) => { seen.steps.push(name); console.error(`browser: ${name}`); };
const TIMEOUT = 15000;

mkdirSync(cfg.screenshots, { recursive: true });
const browser = await launch(cfg);
const errors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(TIMEOUT);
  // The dashboard must work offline: any request leaving the sandbox is an error.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(cfg.base + "/")) return route.continue();
    errors.push(`request outside the sandbox: ${url}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") errors.push(`console error: ${m.text()}`); });

  await page.goto(cfg.base + "/");
  await page.locator("#live.on").waitFor();
  step("dashboard open, live updates connected");

  // Keyboard: the first Tab reaches the skip link.
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
  if (focused !== "Skip to content") throw new Error(`first Tab focused ${JSON.stringify(focused)}`);

  const conversation = page.getByRole("button", { name: new RegExp(`\\+${cfg.wa_id}`) });
  await conversation.click();
  const card = page.locator(`.order[data-reference="${cfg.reference_id}"]`);
  await card.waitFor();
  const total = await card.locator("[data-total]").textContent();
  if (total !== cfg.amount_text) throw new Error(`order card total ${total}, expected ${cfg.amount_text}`);
  seen.card_rows = await card.locator("tr").allTextContents();
  seen.status_before = await card.locator("[data-order-status]").textContent();
  step(`order card shown: total ${total}, status ${seen.status_before}`);

  await card.getByRole("button", { name: "Review and pay" }).click();
  const [checkout] = await Promise.all([
    context.waitForEvent("page"),
    card.getByRole("link", { name: "Pay on the payment page" }).click(),
  ]);
  checkout.on("console", (m) => { if (m.type() === "error") errors.push(`checkout console error: ${m.text()}`); });
  await checkout.waitForLoadState();
  step(`checkout opened at ${checkout.url()}`);
  // The page's content security policy allows its one stylesheet by hash: the styles apply.
  const radius = await checkout.locator(".card").first().evaluate((e) => getComputedStyle(e).borderTopLeftRadius);
  if (radius === "0px") throw new Error("the checkout page's stylesheet was blocked");
  const amount = await checkout.locator(".amount").textContent();
  if (amount !== cfg.amount_text) throw new Error(`checkout amount ${amount}, expected ${cfg.amount_text}`);
  await checkout.getByLabel("UPI").check();
  await checkout.getByLabel("Success").check();
  await checkout.getByRole("button", { name: `Pay ${cfg.amount_text}` }).click();
  await checkout.locator('[data-status="paid"]').waitFor();
  await checkout.screenshot({ path: join(cfg.screenshots, "dashboard-checkout-paid.png"), fullPage: true });
  step("paid on the checkout page");
  await checkout.close();

  await page.getByRole("link", { name: "Timeline" }).click();
  const paidHook = page.locator('li[data-kind="webhook"][data-event="payment_link.paid"][data-status="delivered"]');
  await paidHook.waitFor();
  await paidHook.locator("summary").click();
  // Headers are listed one per line: a name, then its value.
  const name = paidHook.locator("dl.headers dt", { hasText: /^x-razorpay-signature$/ });
  await name.waitFor();
  const value = name.locator("xpath=following-sibling::dd[1]");
  seen.signature_header = `${(await name.textContent()).trim()}: ${(await value.textContent()).trim()}`;
  seen.webhook_body_shown = (await paidHook.locator("pre").textContent()).includes('"event": "payment_link.paid"');
  if (!seen.webhook_body_shown) throw new Error("the delivered webhook's body is not shown");
  step(`timeline shows payment_link.paid delivered (${seen.signature_header.slice(0, 32)}…)`);

  // The rejected request is there too, each violation against its JSON pointer.
  const rejected = page.locator('li[data-kind="request"]', { has: page.locator(".violations") }).first();
  await rejected.locator("summary").click();
  seen.violations_shown = await rejected.locator(".violations code").allTextContents();
  for (const pointer of cfg.violations) {
    if (!seen.violations_shown.includes(pointer)) throw new Error(`violation ${pointer} not shown: ${seen.violations_shown}`);
  }
  step(`timeline shows the rejected request's violations: ${seen.violations_shown.join(", ")}`);
  // With nothing happening, the page stays still: open entries do not redraw themselves.
  seen.redraws_when_idle = await page.evaluate(() => new Promise((resolve) => {
    let n = 0;
    const observer = new MutationObserver(() => { n += 1; });
    observer.observe(document.getElementById("events"), { childList: true });
    setTimeout(() => { observer.disconnect(); resolve(n); }, 1000);
  }));
  if (seen.redraws_when_idle > 1) throw new Error(`the idle timeline redrew ${seen.redraws_when_idle} times in 1 s`);
  await page.screenshot({ path: join(cfg.screenshots, "dashboard-timeline.png"), fullPage: true });

  await page.getByRole("link", { name: "Chats" }).click();
  await card.waitFor();
  // The merchant confirms the order; the card must change live, without a reload.
  const status = {
    messaging_product: "whatsapp", recipient_type: "individual", to: cfg.wa_id, type: "interactive",
    interactive: {
      type: "order_status", body: { text: "Payment received; we are baking your order." },
      action: { name: "review_order", parameters: { reference_id: cfg.reference_id, order: { status: "processing", description: "Baking now" } } },
    },
  };
  const sent = await fetch(`${cfg.base}/whatsapp/v23.0/${cfg.phone_number_id}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${cfg.token}`, "content-type": "application/json" },
    body: JSON.stringify(status),
  });
  if (sent.status !== 200) throw new Error(`order_status answered ${sent.status}: ${await sent.text()}`);
  await card.locator('[data-order-status="processing"]').waitFor();
  seen.status_after = await card.locator("[data-order-status]").textContent();
  await page.locator('li[data-kind="interactive.order_status"]').last().waitFor();
  step(`order card status changed live to ${seen.status_after}`);
  await page.screenshot({ path: join(cfg.screenshots, "dashboard-flow.png"), fullPage: true });

  // A Brazil one-click card order: "Send payment" makes the customer's payment_method message.
  await page.getByRole("button", { name: new RegExp(`\\+${cfg.one_click.wa_id}`) }).click();
  const oneClick = page.locator(`.order[data-reference="${cfg.one_click.reference_id}"]`);
  await oneClick.waitFor();
  seen.one_click_total = await oneClick.locator("[data-total]").textContent();
  await oneClick.getByRole("button", { name: "Review and pay" }).click();
  await oneClick.getByRole("button", { name: /^Send payment/ }).click();
  const reply = page.locator("li.bubble.in", { hasText: "card ending " + cfg.one_click.last_four });
  await reply.waitFor();
  seen.one_click_reply = (await reply.locator("p").first().textContent()).trim();
  step(`one-click order paid from the chat: ${seen.one_click_reply}`);

  // A phone-width window: no horizontal scrolling of the page itself.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (overflow > 1) throw new Error(`the page scrolls sideways by ${overflow}px at phone width`);
  await page.getByRole("link", { name: "Payment links" }).click();
  await page.locator(`#razorpay-links tr[data-key] td`, { hasText: "paid" }).first().waitFor();
  const linksOverflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (linksOverflow > 1) throw new Error(`the links page scrolls sideways by ${linksOverflow}px at phone width`);
  await page.screenshot({ path: join(cfg.screenshots, "dashboard-links-phone.png"), fullPage: true });
  step("phone-width views fit");

  if (errors.length) throw new Error(errors.join("\n"));
  seen.ok = true;
  console.log(JSON.stringify(seen));
} catch (e) {
  seen.ok = false;
  seen.error = String(e && e.stack || e);
  seen.page_errors = errors;
  console.log(JSON.stringify(seen));
  process.exitCode = 1;
} finally {
  await browser.close();
}
