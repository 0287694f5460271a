"""pywa against the sandbox with only its Graph base URL changed: subscribe the app's callback
through Graph (the handshake is pywa's own challenge handler), send messages, get statuses and a
customer message through pywa's own signature validation and parsing, and map errors."""

import json
import os
import sys

import httpx
from pywa import WhatsApp, errors, types

from common import Receiver, admin, wait

BASE = os.environ["SANDBOX_URL"]
PHONE_ID = "106540352242922"
TOKEN = "EAAPaylinkSandboxTestAccessToken0000"
APP_ID = 1185200386128462
APP_SECRET = "paylink-sandbox-app-secret"

wa = WhatsApp(phone_id=PHONE_ID, token=TOKEN, api_version="23.0", app_secret=APP_SECRET,
              verify_token="pywa-verify", server=None)
# pywa has no base URL option; retarget its httpx session (see the README).
wa.api._session.base_url = BASE + "/whatsapp/v23.0"

statuses, messages, rejected = [], [], []


@wa.on_message_status()
def on_status(_, status: types.MessageStatus):
    statuses.append((status.id, status.status.value))


@wa.on_message()
def on_message(_, message: types.Message):
    messages.append(message)


def handle(method, path, query, headers, body):
    if method == "GET":
        text, status = wa.webhook_challenge_handler(query.get("hub.verify_token"), query.get("hub.challenge"))
        return status, text
    error = wa.webhook_update_validator(body, headers.get("x-hub-signature-256"))
    if error:
        rejected.append(error)
        return error[1], error[0]
    text, status = wa.webhook_update_handler(body)
    return status, text


receiver = Receiver(handle)
token = wa.api.get_app_access_token(client_id=APP_ID, client_secret=APP_SECRET)["access_token"]
assert wa.api.set_app_callback_url(app_id=APP_ID, access_token=token, callback_url=receiver.url + "/wa",
                                   verify_token="pywa-verify", fields=("messages",)) == {"success": True}

sent = wa.send_message(to="+1 650 555 1234", text="Your order is ready 🥐")
wait("sent, delivered and read", lambda: {s for (i, s) in statuses if i == sent.id} >= {"sent", "delivered", "read"})

order = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "whatsapp", "valid",
                                    "order_details-in-payment_gateway.json")))
order["interactive"]["action"]["parameters"]["reference_id"] = "PYWA-%d" % os.getpid()
result = wa.api.send_raw_request("POST", f"/{PHONE_ID}/messages", json=order)
assert result["messages"][0]["id"].startswith("wamid."), result

admin(BASE, "POST", "/whatsapp/users/919876543210/messages", {"text": "Olá, is it vegan? ✓", "name": "Ana"})
incoming = wait("the customer's message", lambda: [m for m in messages if m.text])[0]
assert incoming.text == "Olá, is it vegan? ✓", incoming.text
assert incoming.from_user.wa_id == "919876543210" and incoming.from_user.name == "Ana"
assert not rejected, rejected

try:
    wa.send_message(to="16505551234", text="x" * 5000)
    raise AssertionError("an over-long text must fail")
except errors.WhatsAppError as e:
    assert e.code == 131009, e.code
    assert "/text/body" in e.details, e.details

bad = httpx.post(BASE + f"/whatsapp/v23.0/{PHONE_ID}/messages", headers={"Authorization": "Bearer nope"},
                 json={"messaging_product": "whatsapp", "to": "1650555", "type": "text", "text": {"body": "x"}})
assert bad.status_code == 401 and bad.json()["error"]["code"] == 190, bad.text
print("pywa: subscription handshake, statuses, inbound message and errors all through pywa itself")
sys.exit(0)
