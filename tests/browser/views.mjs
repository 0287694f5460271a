// Opens every view of the sandbox at a phone width (390×844) and a desktop width (1280×900) in
// headless chromium, waits until each has its data, saves a screenshot, and measures what a
// reader would see go wrong: a page wider than the screen, or an element cut off at the
// screen's edge (outside any scrolling box of its own). Run by tests/api/dashboard_browser.rs.
//
// usage: node views.mjs <config.json>
//   config: { base, chromium, screenshots, views: [{ name, url, ready, click, after }] }
//   `ready` is a CSS selector the view shows once its data has arrived; `click` one to click
//   then (to open a detail), and `after` one to wait for after that.
// Prints one JSON line: { shots: [...], problems: [...] }; exits 1 when there are problems.

import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch } from "./launch.mjs";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const WIDTHS = [{ width: 390, height: 844 }, { width: 1280, height: 900 }];
mkdirSync(cfg.screenshots, { recursive: true });

// Runs in the page: the horizontal overflow of the document, and every visible element whose
// box leaves the viewport sideways without a scrolling ancestor to hold it.
function measure() {
  const doc = document.documentElement;
  const width = doc.clientWidth;
  const scrollsX = (el) => {
    const s = getComputedStyle(el);
    return (s.overflowX === "auto" || s.overflowX === "scroll") && el.scrollWidth > el.clientWidth;
  };
  const hidden = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === "none" || s.visibility === "hidden") return true;
      if (s.clip && s.clip !== "auto") return true; // the visually-hidden pattern
      if (e.classList && (e.classList.contains("visually-hidden") || e.classList.contains("skip"))) return true;
      if (e.hidden) return true;
    }
    return false;
  };
  const clipped = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right <= width + 1 && r.left >= -1) continue;
    if (hidden(el)) continue;
    let held = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (scrollsX(p)) { held = true; break; }
    }
    if (held) continue;
    const name = el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "") +
      (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
    clipped.push(`${name} [${Math.round(r.left)}..${Math.round(r.right)}] "${(el.textContent || "").trim().slice(0, 40)}"`);
  }
  // Content that runs out of its own box sideways (over a neighbour, or cut by overflow: hidden),
  // except text deliberately ended with an ellipsis (which carries its full value in a title).
  for (const el of document.body.querySelectorAll("*")) {
    if (el.scrollWidth <= el.clientWidth + 1 || el.clientWidth === 0) continue;
    const s = getComputedStyle(el);
    if (s.overflowX === "auto" || s.overflowX === "scroll" || s.textOverflow === "ellipsis") continue;
    if (s.display === "inline" || hidden(el)) continue;
    const name = el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "") +
      (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
    clipped.push(`${name} spills ${el.scrollWidth - el.clientWidth}px "${(el.textContent || "").trim().slice(0, 40)}"`);
  }
  return { overflow: doc.scrollWidth - width, clipped: clipped.slice(0, 8), clippedCount: clipped.length };
}

const browser = await launch(cfg);
const shots = [];
const problems = [];
try {
  for (const size of WIDTHS) {
    const context = await browser.newContext({ viewport: size });
    context.setDefaultTimeout(15000);
    const page = await context.newPage();
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    for (const view of cfg.views) {
      await page.goto(cfg.base + view.url);
      if (view.ready) await page.locator(view.ready).first().waitFor();
      if (view.click) await page.locator(view.click).first().click();
      if (view.after) await page.locator(view.after).first().waitFor();
      const file = join(cfg.screenshots, `${view.name}-${size.width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
      const m = await page.evaluate(measure);
      if (m.overflow > 0) problems.push(`${view.name} at ${size.width}: the page is ${m.overflow}px wider than the screen`);
      if (m.clippedCount > 0) problems.push(`${view.name} at ${size.width}: ${m.clippedCount} elements cut off: ${m.clipped.join("; ")}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ shots, problems }));
process.exit(problems.length ? 1 : 0);
