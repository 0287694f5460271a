// razorpay-node and whatsapp-api-js against the sandbox, unmodified: only their base URL is
// redirected (razorpay-node has no option for it; whatsapp-api-js takes a fetch ponyfill).
import http from "node:http";
import assert from "node:assert/strict";
import Razorpay from "razorpay";
import { WhatsAppAPI } from "whatsapp-api-js";
import { Text } from "whatsapp-api-js/messages";

const BASE = process.env.SANDBOX_URL;
const PHONE_ID = "106540352242922";
const APP_ID = "1185200386128462";
const APP_SECRET = "paylink-sandbox-app-secret";

// A receiver that keeps the raw body, as a webhook endpoint must.
const received = [];
let onRequest = async () => [200, "ok"];
const server = http.createServer((req, res) => {
  let raw = "";
  req.setEncoding("utf8");
  req.on("data", (c) => (raw += c));
  req.on("end", async () => {
    const url = new URL(req.url, "http://x");
    received.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, raw });
    const [status, text] = await onRequest(req, url, raw);
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(text);
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const RECEIVER = `http://127.0.0.1:${server.address().port}`;
const wait = async (what, check) => {
  for (let i = 0; i < 500; i++) {
    const v = check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("timed out waiting for " + what);
};

// --- razorpay-node ---
const rzp = new Razorpay({ key_id: "rzp_test_PaylinkSandbox01", key_secret: "paylinkSandboxKeySecret01" });
rzp.api.rq.defaults.baseURL = BASE + "/razorpay"; // razorpay >= 2.9.4 (axios)
await fetch(BASE + "/__sandbox/razorpay/webhook", {
  method: "PUT", headers: { "content-type": "application/json" },
  body: JSON.stringify({ url: RECEIVER + "/rzp", secret: "node-webhook-secret" }),
});
const link = await rzp.paymentLink.create({ amount: 9900, currency: "INR", reference_id: "NODE-1", description: "From Node" });
assert.equal(link.status, "created");
assert.equal((await rzp.paymentLink.fetch(link.id)).amount, 9900);
const all = await rzp.paymentLink.all({ reference_id: "NODE-1" }); // the SDK adds count=10&skip=0
assert.deepEqual(all.payment_links.map((l) => l.id), [link.id]);
assert.deepEqual((await rzp.paymentLink.edit(link.id, { notes: { via: "node" } })).notes, { via: "node" });
const other = await rzp.paymentLink.create({ amount: 100 });
assert.equal((await rzp.paymentLink.cancel(other.id)).status, "cancelled");
await assert.rejects(rzp.paymentLink.fetch("plink_AAAAAAAAAAAAAA"), (e) => e.statusCode === 400 && e.error.description === "The id provided does not exist");
await fetch(BASE + `/__sandbox/razorpay/payment_links/${link.id}/pay`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
const paid = await wait("payment_link.paid", () => received.find((r) => r.path === "/rzp" && JSON.parse(r.raw).event === "payment_link.paid"));
assert.ok(Razorpay.validateWebhookSignature(paid.raw, paid.headers["x-razorpay-signature"], "node-webhook-secret"));
assert.ok(!Razorpay.validateWebhookSignature(paid.raw + " ", paid.headers["x-razorpay-signature"], "node-webhook-secret"));

// --- whatsapp-api-js ---
const wa = new WhatsAppAPI({
  token: "EAAPaylinkSandboxTestAccessToken0000", appSecret: APP_SECRET, webhookVerifyToken: "node-verify", v: "v23.0",
  ponyfill: { fetch: (url, init) => fetch(String(url).replace("https://graph.facebook.com", BASE + "/whatsapp"), init) },
});
const verified = [];
onRequest = async (req, url, raw) => {
  if (req.method === "GET") {
    try { return [200, wa.get(Object.fromEntries(url.searchParams))]; } catch { return [403, "Forbidden"]; }
  }
  if (url.pathname !== "/wa") return [200, "ok"];
  try {
    await wa.post(JSON.parse(raw), raw, req.headers["x-hub-signature-256"]);
    // A framework that decoded and re-encoded the body: whatsapp-api-js re-escapes it.
    await wa.post(JSON.parse(raw), JSON.stringify(JSON.parse(raw)), req.headers["x-hub-signature-256"]);
    verified.push(JSON.parse(raw));
    return [200, "ok"];
  } catch (e) {
    return [401, String(e)];
  }
};
const tokenRes = await fetch(BASE + `/whatsapp/oauth/access_token?grant_type=client_credentials&client_id=${APP_ID}&client_secret=${APP_SECRET}`);
const { access_token } = await tokenRes.json();
const sub = await fetch(BASE + `/whatsapp/v23.0/${APP_ID}/subscriptions`, {
  method: "POST", headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" },
  body: JSON.stringify({ object: "whatsapp_business_account", callback_url: RECEIVER + "/wa", verify_token: "node-verify", fields: "messages" }),
});
assert.equal(sub.status, 200, await sub.text());
const sent = await wa.sendMessage(PHONE_ID, "+5511912345678", new Text("Olá! Seu pedido ✓"));
assert.ok(sent.messages[0].id.startsWith("wamid."), JSON.stringify(sent));
await fetch(BASE + "/__sandbox/whatsapp/users/5511912345678/messages", {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "Obrigado 😀 ção" }),
});
await wait("statuses and the customer message, verified by whatsapp-api-js", () =>
  verified.some((v) => v.entry[0].changes[0].value.messages?.[0]?.text?.body === "Obrigado 😀 ção") &&
  verified.filter((v) => v.entry[0].changes[0].value.statuses).length >= 3);
const rejected = received.filter((r) => r.path === "/wa" && r.method === "POST").length - verified.length;
assert.equal(rejected, 0, "every webhook verified");
console.log("razorpay-node and whatsapp-api-js: API calls, webhook signatures (raw and re-escaped) verified");
server.close();
process.exit(0);
