// The paylink-sandbox dashboard: reads the admin API, redraws when the server says something
// changed (server-sent events), and lets you act as the customer. No framework, no build step,
// no network beyond the sandbox itself.
"use strict";

const state = {
  tab: "chats",
  conversation: null,
  messages: [],
  orders: [],
  openPay: new Set(),
  expanded: new Set(),
  details: new Map(),
  selectedOrder: null,
  deliveries: [],
};

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Creates an element; children may be strings, nodes, arrays, or null. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Icons are inline SVG (24×24 strokes in currentColor), so no glyph depends on an installed font.
const ICONS = {
  clock: "M12 7v5l3 2M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0z",
  check: "M5 12.5l4.5 4.5L19 7.5",
  checks: "M2 12.5l4.5 4.5L16 7.5M9.5 15.5l1.5 1.5L21 7.5",
  warning: "M12 3l10 18H2L12 3zM12 10v5M12 18v.5",
  reply: "M10 8L4 13l6 5M4 13h10a6 6 0 0 1 6 6",
  card: "M3 6h18v12H3zM3 10h18M7 15h4",
  cart: "M3 4h2.5l2.2 11h10.8l2-8H7M10 20a1 1 0 1 0 0-.01M17 20a1 1 0 1 0 0-.01",
  copy: "M8 8h12v12H8zM4 16V4h12",
};

/** An inline SVG icon; `label` makes it an image with a name, otherwise it is decoration. */
function icon(name, label) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  if (label) { svg.setAttribute("role", "img"); svg.setAttribute("aria-label", label); } else svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

/** A long value (an id, a URL, a path) that wraps, shows itself whole on hover, and copies. */
function longValue(text) {
  return h("span", { class: "long" }, h("code", { title: text }, text),
    h("button", { type: "button", class: "copy", title: "Copy", "aria-label": `Copy ${text}`,
      onclick: (e) => { e.preventDefault(); navigator.clipboard && navigator.clipboard.writeText(text).catch(() => {}); } }, icon("copy")));
}

async function api(path, options = {}) {
  const init = { ...options, headers: { "content-type": "application/json", ...(options.headers || {}) } };
  if (init.body && typeof init.body !== "string") init.body = JSON.stringify(init.body);
  const r = await fetch("/__sandbox" + path, init);
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!r.ok) throw new Error((body && body.error && body.error.message) || `HTTP ${r.status}`);
  return body;
}

function digits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch { return 2; }
}

/** An amount in minor units, in its currency with the right decimals (Indian grouping for INR). */
function money(minor, currency, offset) {
  const d = digits(currency);
  const major = Number(minor) / (offset || 10 ** d);
  const locale = currency === "INR" ? "en-IN" : currency === "BRL" ? "pt-BR" : "en";
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency, minimumFractionDigits: d, maximumFractionDigits: d }).format(major);
  } catch { return `${currency} ${major.toFixed(d)}`; }
}

function when(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function parseParams(p) {
  if (typeof p === "string") { try { return JSON.parse(p); } catch { return {}; } }
  return p || {};
}

function badge(text, kind) {
  return h("span", { class: `badge ${kind || "info"}` }, text);
}

function statusKind(s) {
  if (["paid", "captured", "completed", "delivered", "read", "enabled", "success"].includes(s)) return "ok";
  if (["failed", "canceled", "cancelled", "expired", "disabled", "no_target"].includes(s)) return "bad";
  if (["pending", "processing", "partially_paid", "partially_shipped", "shipped", "retrying", "scheduled"].includes(s)) return "warn";
  return "info";
}

function report(error) {
  const live = document.getElementById("live");
  live.title = String(error);
  console.error(error);
}

// ---------------------------------------------------------------------------------------------
// Tabs and clock

function showTab(tab) {
  state.tab = ["chats", "links", "timeline"].includes(tab) ? tab : "chats";
  delete document.body.dataset.ready;
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== state.tab;
  for (const a of document.querySelectorAll("[data-tab]")) {
    if (a.dataset.tab === state.tab) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  refresh();
}

async function loadClock() {
  const [c, health] = await Promise.all([api("/clock"), api("/health")]);
  document.getElementById("clock-now").textContent = `${c.now}${c.frozen ? " (frozen)" : ""}`;
  const kept = document.getElementById("state-kept");
  kept.textContent = health.state.persistent ? "saved to disk" : "in memory";
  kept.title = health.state.persistent
    ? `State is kept in ${health.state.data_dir} and survives a restart`
    : "State is kept in memory only: a restart starts over (use --data-dir to keep it)";
}

// ---------------------------------------------------------------------------------------------
// Chats

function conversationKey(m) {
  return `${m.phone_number_id}|${m.wa_id || m.input || m.user_id || "?"}`;
}

async function loadChats() {
  const [messages, orders, windows, deliveries] = await Promise.all([api("/whatsapp/messages?limit=2000"),
    api("/whatsapp/orders"), api("/whatsapp/windows"), api("/webhooks?limit=500")]);
  state.deliveries = deliveries.deliveries;
  state.messages = messages.messages;
  state.orders = orders.orders;
  state.windows = windows;
  const groups = new Map();
  for (const m of state.messages) {
    const key = conversationKey(m);
    if (!groups.has(key)) groups.set(key, { key, label: phoneLabel(m), last: m, count: 0 });
    const g = groups.get(key);
    g.count += 1;
    g.last = m;
  }
  const list = document.getElementById("conversation-list");
  document.getElementById("no-conversations").hidden = groups.size > 0;
  if (!state.conversation && groups.size) state.conversation = [...groups.keys()][0];
  list.replaceChildren(...[...groups.values()].reverse().map((g) =>
    h("li", { "data-key": g.key }, h("button", {
      type: "button",
      "aria-pressed": String(g.key === state.conversation),
      onclick: () => { state.conversation = g.key; renderChats(); },
    }, h("strong", {}, g.label), h("br"), h("span", { class: "muted" }, `${g.count} message${g.count === 1 ? "" : "s"}`)))));
  renderConversation();
}

/** The customer's number as WhatsApp shows it: `+` and the wa_id digits. */
function phoneLabel(m) {
  const id = m.wa_id || m.input || m.user_id || "?";
  return /^\d+$/.test(id) ? `+${id}` : id;
}

function renderChats() {
  for (const b of document.querySelectorAll("#conversation-list button")) b.setAttribute("aria-pressed", "false");
  loadChats().catch(report);
}

function orderOf(m) {
  return state.orders.find((o) => o.reference_id === m.reference_id && o.phone_number_id === m.phone_number_id);
}

function ticks(m) {
  const s = m.statuses && m.statuses.length ? m.statuses[m.statuses.length - 1].status : "accepted";
  const shape = { accepted: "clock", sent: "check", delivered: "checks", read: "checks", failed: "warning" }[s];
  return h("span", { class: `ticks ${s}`, title: s, "aria-label": `status ${s}` },
    shape ? icon(shape) : s, s === "failed" ? " failed" : null);
}

async function customerSays(body) {
  const [phone, waId] = state.conversation.split("|");
  await api(`/whatsapp/users/${encodeURIComponent(waId)}/messages`, { method: "POST", body: { phone_number_id: phone, ...body } });
}

function renderConversation() {
  const ol = document.getElementById("messages");
  const title = document.getElementById("phone-title");
  const composer = document.getElementById("composer");
  if (!state.conversation) { ol.replaceChildren(); composer.hidden = true; return; }
  const mine = state.messages.filter((m) => conversationKey(m) === state.conversation);
  title.replaceChildren(mine.length ? phoneLabel(mine[0]) : "Select a conversation", mine.length ? windowNote() : "");
  composer.hidden = false;
  const stick = state.shownConversation !== state.conversation || ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 8;
  state.shownConversation = state.conversation;
  ol.replaceChildren(...mine.map((m) => h("li", { class: `bubble ${m.direction === "outbound" ? "out" : "in"}`, "data-id": m.id, "data-key": m.id, "data-kind": m.kind },
    renderMessage(m),
    (m.warnings || []).map((w) => h("p", { class: "warning" }, icon("warning"), " ", w)),
    h("span", { class: "meta" }, when(m.timestamp * 1000).slice(11, 16), " ", m.direction === "outbound" ? ticks(m) : null))));
  if (stick) ol.scrollTop = ol.scrollHeight;
  renderOrderDetail(mine);
}

/**
 * Beside the chat (below it on narrow screens): the selected order, or the conversation's latest
 * one, with its status history, its payments and the webhooks it caused, each linked into the
 * timeline.
 */
function renderOrderDetail(mine) {
  const aside = document.getElementById("order-detail");
  const refs = mine.filter((m) => m.kind === "interactive.order_details").map((m) => m.reference_id).filter(Boolean);
  const [phone] = (state.conversation || "").split("|");
  const pick = refs.includes(state.selectedOrder) ? state.selectedOrder : refs[refs.length - 1];
  const order = state.orders.find((o) => o.reference_id === pick && o.phone_number_id === phone);
  aside.hidden = !order;
  if (!order) { aside.replaceChildren(); return; }
  const cur = order.currency;
  const messageIds = new Set([order.message_id, ...(order.history || []).map((x) => x.message_id)]);
  const caused = state.deliveries.filter((d) => messageIds.has(d.reference) || d.reference === order.reference_id)
    .sort((a, b) => a.created_at - b.created_at);
  const history = (order.history || []).map((x) => h("li", {}, h("span", { class: "when" }, when(x.timestamp * 1000).slice(0, 16)), " ",
    badge(x.status, statusKind(x.status)), x.applied === false ? h("span", { class: "muted" }, " (not applied)") : null));
  const payments = (order.transactions || []).map((t) => h("li", {}, longValue(t.id), " ", badge(t.status, statusKind(t.status)), " ",
    money(t.amount, cur, 100), " ", h("span", { class: "muted" }, t.method)));
  const webhooks = caused.map((d) => h("li", {}, h("span", { class: "when" }, when(d.created_at).slice(11, 19)), " ",
    h("a", { href: "#timeline", onclick: () => state.expanded.add(`w${d.id}`) }, d.event), " ", badge(d.status, statusKind(d.status))));
  aside.replaceChildren(
    h("h3", { id: "order-detail-title" }, "Order ", h("span", { class: "ref", title: order.reference_id }, order.reference_id)),
    h("p", {}, badge(order.status, statusKind(order.status)), " ",
      order.payment_status ? badge(`payment ${order.payment_status}`, statusKind(order.payment_status)) : null, " ",
      h("strong", { "data-detail-total": "" }, money(order.total_amount, cur, 100))),
    h("h4", {}, "Status history"), h("ol", { class: "history" }, history),
    h("h4", {}, "Payments"), payments.length ? h("ul", { class: "plain" }, payments) : h("p", { class: "muted" }, "No payment yet."),
    h("h4", {}, "Webhooks it caused"), webhooks.length ? h("ol", { class: "history", "data-webhooks": "" }, webhooks) : h("p", { class: "muted" }, "None yet."));
}

/** The selected chat's customer-service window: open until when, or closed. */
function windowNote() {
  const w = state.windows;
  if (!w) return "";
  const [phone, waId] = state.conversation.split("|");
  const mine = w.windows.find((x) => x.phone_number_id === phone && x.wa_id === waId);
  let text;
  let kind;
  if (!w.enforced) { text = "service window not enforced"; kind = "muted"; }
  else if (mine && mine.open) { text = `service window open until ${when(mine.closes_at * 1000).slice(0, 16)} UTC`; kind = "ok"; }
  else { text = "service window closed: only templates are delivered (131047)"; kind = "bad"; }
  return h("span", { class: `window ${kind}`, "data-window": kind }, text);
}

function renderMessage(m) {
  const b = m.body || {};
  const i = b.interactive || {};
  if (m.direction === "inbound") {
    if (b.type === "text") return h("p", {}, b.text.body);
    if (i.type === "button_reply") return h("p", {}, icon("reply"), " ", i.button_reply.title);
    if (i.type === "list_reply") return h("p", {}, icon("reply"), " ", i.list_reply.title);
    if (i.type === "payment_method") return h("p", {}, icon("card"), ` Payment sent with card ending ${i.payment_method.last_four_digits}`);
    return h("p", {}, `[${b.type}]`);
  }
  switch (m.kind) {
    case "text": return h("p", {}, b.text.body);
    case "interactive.button":
      return [header(i), h("p", {}, i.body && i.body.text), footer(i),
        h("div", { class: "actions" }, (i.action.buttons || []).map((btn) =>
          h("button", { type: "button", onclick: () => customerSays({ button_reply: btn.reply, context: m.id }).then(refresh, report) }, btn.reply.title)))];
    case "interactive.list":
      return [header(i), h("p", {}, i.body && i.body.text), footer(i),
        h("details", {}, h("summary", {}, i.action.button),
          h("div", { class: "actions" }, (i.action.sections || []).flatMap((s) => (s.rows || []).map((row) =>
            h("button", { type: "button", onclick: () => customerSays({ list_reply: row, context: m.id }).then(refresh, report) },
              row.title, row.description ? h("span", { class: "muted" }, ` — ${row.description}`) : null)))))];
    case "interactive.cta_url":
      return [header(i), h("p", {}, i.body && i.body.text), footer(i),
        h("div", { class: "actions" }, h("a", { class: "button", href: i.action.parameters.url, target: "_blank", rel: "noopener" }, i.action.parameters.display_text))];
    case "interactive.order_details": return orderCard(m, i);
    case "interactive.order_status": {
      const p = parseParams(i.action && i.action.parameters);
      return [h("p", {}, h("strong", {}, "Order update "), p.reference_id, ": ",
        p.order ? badge(p.order.status, statusKind(p.order.status)) : null, " ",
        p.payment ? badge(`payment ${p.payment.status}`, statusKind(p.payment.status)) : null),
        p.order && p.order.description ? h("p", { class: "muted" }, p.order.description) : null,
        h("p", {}, i.body && i.body.text)];
    }
    case "template": return m.rendered
      ? [h("p", { class: "template-text" }, m.rendered), h("p", { class: "muted" }, `template ${b.template.name} (${b.template.language.code})`)]
      : h("p", {}, "Template ", h("strong", {}, b.template.name), ` (${b.template.language.code})`);
    case "image": {
      const img = b.image || {};
      if (img.id) return [h("img", { class: "media", src: `/__sandbox/whatsapp/media/${encodeURIComponent(img.id)}`, alt: img.caption || "image" }),
        img.caption ? h("p", {}, img.caption) : null];
      return h("p", {}, "[image] ", img.link || "", img.caption ? ` ${img.caption}` : "");
    }
    default: return h("p", {}, `[${m.kind}]`, b[b.type] && b[b.type].caption ? ` ${b[b.type].caption}` : "");
  }
}

function header(i) {
  return i.header && i.header.type === "text" ? h("p", { class: "header" }, i.header.text) : null;
}

function footer(i) {
  return i.footer ? h("p", { class: "footer" }, i.footer.text) : null;
}

function orderCard(m, i) {
  const p = parseParams(i.action && i.action.parameters);
  const order = orderOf(m);
  const cur = p.currency || "INR";
  const fmt = (a) => (a ? money(a.value, cur, a.offset) : "");
  const o = p.order;
  const rows = [];
  if (o) {
    for (const it of o.items || []) {
      const unit = it.sale_amount || it.amount;
      rows.push(h("tr", {}, h("td", {}, `${it.name} × ${it.quantity}`), h("td", { class: "num" }, money(unit.value * it.quantity, cur, unit.offset))));
    }
    rows.push(h("tr", {}, h("td", {}, "Subtotal"), h("td", { class: "num" }, fmt(o.subtotal))));
    if (o.tax && o.tax.value) rows.push(h("tr", {}, h("td", {}, o.tax.description || "Tax"), h("td", { class: "num" }, fmt(o.tax))));
    if (o.shipping) rows.push(h("tr", {}, h("td", {}, o.shipping.description || "Shipping"), h("td", { class: "num" }, fmt(o.shipping))));
    if (o.discount) rows.push(h("tr", {}, h("td", {}, o.discount.description || "Discount"), h("td", { class: "num" }, `−${fmt(o.discount)}`)));
  }
  rows.push(h("tr", { class: "total" }, h("td", {}, "Total"), h("td", { class: "num", "data-total": "" }, fmt(p.total_amount))));
  const status = order ? order.status : "pending";
  const paid = order && order.payment_status === "captured";
  const closed = ["completed", "canceled"].includes(status);
  const quick = o && o.type === "quick_pay";
  const open = state.openPay.has(m.id);
  const exp = o && o.expiration;
  return h("div", { class: "order", "data-reference": p.reference_id },
    h("h4", { class: "order-title", title: "Show this order's details", onclick: () => { state.selectedOrder = p.reference_id; renderConversation(); } },
      icon("cart"), " Order ", p.reference_id, " ", h("span", { "data-order-status": status }, badge(status, statusKind(status))),
      order && order.payment_status ? [" ", badge(`payment ${order.payment_status}`, statusKind(order.payment_status))] : null),
    h("p", {}, i.body && i.body.text),
    h("table", {}, h("tbody", {}, rows)),
    exp ? h("p", { class: "muted" }, `Expires ${when(Number(exp.timestamp) * 1000)}`, exp.description ? ` — ${exp.description}` : "") : null,
    footer(i),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", disabled: closed || paid, "aria-expanded": String(open),
        onclick: () => { open ? state.openPay.delete(m.id) : state.openPay.add(m.id); renderConversation(); } },
        paid ? "Paid" : quick ? "Pay now" : "Review and pay"),
      open && !closed && !paid ? payPanel(m, p, order) : null));
}

function payPanel(m, p, order) {
  const settings = p.payment_settings || (p.payment_configuration ? [{ type: "payment_configuration" }] : []);
  const pay = (body) => api(`/whatsapp/orders/${encodeURIComponent(p.reference_id)}/pay`, { method: "POST", body: { phone_number_id: m.phone_number_id, ...body } }).then(refresh, report);
  return h("div", { class: "pay-panel" }, settings.map((s) => {
    switch (s.type) {
      case "payment_link": {
        const own = s.payment_link.uri.startsWith(location.origin + "/");
        return [h("a", { class: "button", href: s.payment_link.uri, target: "_blank", rel: "noopener" }, "Pay on the payment page"),
          own ? null : h("p", { class: "muted" }, "This link is not one of the sandbox's own; opening it needs the internet.")];
      }
      case "payment_gateway":
      case "payment_configuration":
        return [h("button", { type: "button", onclick: () => pay({ outcome: "captured", method: "upi" }) }, "Pay with UPI"),
          h("button", { type: "button", onclick: () => pay({ outcome: "failed", method: "upi" }) }, "Try to pay, and fail")];
      case "offsite_card_pay":
        return h("button", { type: "button", onclick: () => pay({}) }, `Send payment (card ending ${s.offsite_card_pay.last_four_digits})`);
      case "upi_intent_link":
        return h("p", { class: "muted" }, "Pay in a UPI app: ", longValue(s.upi_intent_link.link));
      case "pix_dynamic_code":
        return h("p", { class: "muted" }, "Pix copia e cola: ", longValue(s.pix_dynamic_code.code));
      case "boleto":
        return h("p", { class: "muted" }, "Boleto: ", longValue(s.boleto.digitable_line));
      default:
        return null;
    }
  }));
}

// ---------------------------------------------------------------------------------------------
// Payment links

async function loadLinks() {
  const { panels } = await api("/dashboard/links");
  const root = document.getElementById("link-panels");
  root.replaceChildren(...panels.map(linksPanel));
  for (const t of root.querySelectorAll("table")) labelCells(t);
}

/** One provider's links, as the server describes them (it knows the providers; this does not). */
function linksPanel(p) {
  const numeric = (i) => (p.columns[i] && p.columns[i].numeric ? "num" : null);
  return h("section", { "aria-label": p.title },
    h("h3", {}, p.title),
    p.lines.length ? h("ul", { class: "plain", id: `${p.provider}-lines` }, p.lines.map((l) => h("li", {}, pieces(l)))) : null,
    p.rows.length
      ? h("div", { class: "table-wrap" }, h("table", { id: `${p.provider}-links` },
        h("caption", { class: "visually-hidden" }, p.title),
        h("thead", {}, h("tr", {}, p.columns.map((c, i) => h("th", { scope: "col", class: numeric(i) }, c.title)))),
        h("tbody", {}, p.rows.map((r) => h("tr", { "data-id": r.key, "data-key": r.key },
          r.cells.map((c, i) => h("td", { class: numeric(i) }, pieces(c))))))))
      : h("p", { class: "muted", id: `no-${p.provider}-links` }, pieces(p.empty)));
}

/** The pieces of a cell or line: text stays text, never markup. */
function pieces(list) {
  return list.map((p) => {
    switch (p.kind) {
      case "code": return longValue(p.text);
      case "strong": return h("strong", {}, p.text);
      case "status": return badge(p.text, statusKind(p.text));
      case "link": return h("a", { href: p.href, target: "_blank", rel: "noopener" }, p.text);
      case "break": return h("br", {});
      default: return p.text;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Timeline

async function loadTimeline() {
  const [requests, deliveries] = await Promise.all([api("/requests?limit=200"), api("/webhooks?limit=200")]);
  const items = [
    ...requests.requests.map((r) => ({ at: r.at, kind: "request", key: `r${r.id}`, r })),
    ...deliveries.deliveries.map((d) => ({ at: d.created_at, kind: "webhook", key: `w${d.id}`, d })),
  ].sort((a, b) => b.at - a.at || (a.key < b.key ? 1 : -1));
  document.getElementById("events").replaceChildren(...items.map((it) => it.kind === "request" ? requestItem(it) : webhookItem(it)));
}

/** Copies each table's column headings onto its cells, so narrow screens can stack rows. */
function labelCells(table) {
  const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.children].forEach((td, i) => td.setAttribute("data-label", heads[i] || ""));
  }
}

function pretty(v) {
  return h("pre", {}, typeof v === "string" ? v : JSON.stringify(v, null, 2));
}

/**
 * Remembers which entries are open across redraws. Browsers also fire `toggle` when a redraw
 * creates an element that is already open; only a real change counts (it returns true).
 */
function toggle(key, e) {
  if (e.target.open === state.expanded.has(key)) return false;
  if (e.target.open) state.expanded.add(key); else state.expanded.delete(key);
  return true;
}

function requestItem({ r, key }) {
  const violations = (r.error && r.error.violations) || [];
  return h("li", { "data-kind": "request", "data-key": key }, h("details", { open: state.expanded.has(key), ontoggle: (e) => toggle(key, e) },
    h("summary", {}, h("span", { class: "when" }, when(r.at)), badge(r.provider), h("span", { class: "path" }, r.method, " ", longValue(r.path)),
      badge(String(r.status), r.status < 400 ? "ok" : "bad"), r.fault ? badge(`fault: ${r.fault}`, "warn") : null),
    violations.length ? h("ul", { class: "violations", "aria-label": "Validation errors" },
      violations.map((v) => h("li", {}, v.pointer ? [h("code", {}, v.pointer), " "] : null, v.message))) : null,
    r.error && !violations.length ? h("p", {}, `Error ${r.error.code}`) : null,
    h("p", { class: "muted" }, "Request"), pretty(r.body),
    h("p", { class: "muted" }, "Answer"), pretty(r.response)));
}

function webhookItem({ d, key }) {
  const detail = state.details.get(d.id);
  const open = state.expanded.has(key);
  if (open && !detail) loadDelivery(d.id);
  return h("li", { "data-kind": "webhook", "data-key": key, "data-event": d.event, "data-status": d.status },
    h("details", { open, ontoggle: (e) => { if (toggle(key, e) && e.target.open) loadDelivery(d.id); } },
      h("summary", {}, h("span", { class: "when" }, when(d.created_at)), badge(`${d.provider} webhook`), h("code", {}, d.event),
        badge(d.status, statusKind(d.status)), h("span", { class: "muted" }, `${d.attempt_count} attempt${d.attempt_count === 1 ? "" : "s"}`),
        d.last_attempt && d.last_attempt.status_code ? badge(`HTTP ${d.last_attempt.status_code}`, d.last_attempt.ok ? "ok" : "bad") : null),
      h("p", {}, "To ", d.url ? longValue(d.url) : "no webhook URL configured", " ",
        h("button", { type: "button", disabled: d.status === "in_flight",
          onclick: () => api(`/webhooks/${encodeURIComponent(d.id)}/redeliver`, { method: "POST" }).then(() => { state.details.delete(d.id); refresh(); }, report) }, "Redeliver")),
      detail ? [
        h("table", {}, h("thead", {}, h("tr", {}, ["#", "Kind", "Time", "Status", "Latency", "Error"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, detail.attempts.map((a) => h("tr", {}, h("td", {}, a.number), h("td", {}, a.kind), h("td", {}, when(a.at).slice(11)),
            h("td", {}, a.status_code || "—"), h("td", {}, `${a.latency_ms} ms`), h("td", {}, a.error || ""))))),
        detail.attempts.length ? [h("p", { class: "muted" }, "Headers of the last attempt"),
          h("dl", { class: "headers" }, detail.attempts[detail.attempts.length - 1].headers.map(([k, v]) => [h("dt", {}, k), h("dd", {}, h("code", {}, v))]))] : null,
        pretty(detail.body)] : h("p", { class: "muted" }, "Open to load the attempts and body.")));
}

async function loadDelivery(id) {
  try {
    state.details.set(id, await api(`/webhooks/${encodeURIComponent(id)}`));
    const focus = focusToken();
    await loadTimeline();
    restoreFocus(focus);
  } catch (e) { report(e); }
}

// ---------------------------------------------------------------------------------------------
// Refresh on events

let pending = null;

// Redraws replace elements; these keep the keyboard focus on the same control across them.
const FOCUSABLE = "button, a[href], summary, input";

function focusToken() {
  const active = document.activeElement;
  const host = active && active.closest && active.closest("[data-key]");
  if (!host) return null;
  return { key: host.dataset.key, index: [...host.querySelectorAll(FOCUSABLE)].indexOf(active) };
}

function restoreFocus(token) {
  if (!token) return;
  const host = [...document.querySelectorAll("[data-key]")].find((el) => el.dataset.key === token.key);
  const target = host && host.querySelectorAll(FOCUSABLE)[token.index];
  if (target && target !== document.activeElement) target.focus({ preventScroll: true });
}

function refresh() {
  if (pending) return;
  pending = setTimeout(async () => {
    pending = null;
    const focus = focusToken();
    try {
      state.details.clear();
      await loadClock();
      const tab = state.tab;
      if (tab === "chats") await loadChats();
      else if (tab === "links") await loadLinks();
      else await loadTimeline();
      // Screenshot tools and tests wait for this: the shown tab has its first data.
      if (tab === state.tab) document.body.dataset.ready = tab;
    } catch (e) { report(e); }
    restoreFocus(focus);
  }, 120);
}

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("/__sandbox/events");
  source.addEventListener("open", () => { live.classList.add("on"); live.title = "Live updates on"; refresh(); });
  source.addEventListener("change", refresh);
  source.addEventListener("error", () => { live.classList.remove("on"); live.title = "Live updates lost; retrying"; });
}

document.addEventListener("DOMContentLoaded", () => {
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
  document.getElementById("clock-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const duration = document.getElementById("clock-advance").value.trim();
    api("/clock/advance", { method: "POST", body: { duration } }).then(refresh, report);
  });
  document.getElementById("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("composer-text");
    if (!input.value.trim() || !state.conversation) return;
    customerSays({ text: input.value }).then(() => { input.value = ""; refresh(); }, report);
  });
  showTab(location.hash.slice(1) || "chats");
  connect();
});
