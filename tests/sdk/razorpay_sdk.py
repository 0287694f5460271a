"""razorpay-python against the sandbox with only base_url changed: create, fetch, list, edit,
cancel; pay on the hosted page; verify the callback and a webhook with the SDK's own helpers."""

import json
import os
import re
import sys

import razorpay
import requests

from common import Receiver, admin, wait

BASE = os.environ["SANDBOX_URL"]
KEY = os.environ.get("RZP_KEY", "rzp_test_PaylinkSandbox01")
SECRET = os.environ.get("RZP_SECRET", "paylinkSandboxKeySecret01")
WEBHOOK_SECRET = "sdk-webhook-secret-0123456789"

receiver = Receiver()
admin(BASE, "PUT", "/razorpay/webhook", {"url": receiver.url + "/razorpay-hook", "secret": WEBHOOK_SECRET})

client = razorpay.Client(auth=(KEY, SECRET), base_url=BASE + "/razorpay")

link = client.payment_link.create({
    "amount": 50000,
    "currency": "INR",
    "accept_partial": False,
    "reference_id": "SDK-ORDER-1",
    "description": "Two loaves",
    "customer": {"name": "Asha Rao", "email": "asha@example.com", "contact": "+919876543210"},
    "notify": {"sms": False, "email": True},
    "notes": {"channel": "whatsapp"},
    "callback_url": receiver.url + "/return",
    "callback_method": "get",
})
assert link["status"] == "created", link
assert link["short_url"].startswith(BASE + "/razorpay/i/"), link["short_url"]

fetched = client.payment_link.fetch(link["id"])
assert fetched["id"] == link["id"] and fetched["amount"] == 50000, fetched

listed = client.payment_link.all({"reference_id": "SDK-ORDER-1"})
assert [l["id"] for l in listed["payment_links"]] == [link["id"]], listed

edited = client.payment_link.edit(link["id"], {"notes": {"channel": "whatsapp", "attempt": "2"}, "reminder_enable": True})
assert edited["notes"]["attempt"] == "2" and edited["reminder_enable"] is True, edited

other = client.payment_link.create({"amount": 1000, "reference_id": "SDK-ORDER-2"})
cancelled = client.payment_link.cancel(other["id"])
assert cancelled["status"] == "cancelled", cancelled

try:
    client.payment_link.fetch("plink_AAAAAAAAAAAAAA")
    raise AssertionError("fetching an unknown link should fail")
except razorpay.errors.BadRequestError as e:
    assert "The id provided does not exist" in str(e), e

try:
    razorpay.Client(auth=(KEY, "wrong"), base_url=BASE + "/razorpay").payment_link.all()
    raise AssertionError("a wrong secret should fail")
except razorpay.errors.BadRequestError as e:
    assert "api key provided is invalid" in str(e), e

# The customer pays on the hosted page; the browser follows the redirect to the callback.
page = requests.get(link["short_url"])
assert page.status_code == 200 and "Asha Rao" in page.text
token = re.search(r'name="form_token" value="([0-9a-f]+)"', page.text).group(1)
forged = requests.post(link["short_url"] + "/pay", data={"method": "upi", "outcome": "success"})
assert forged.status_code == 403, "a post without the page's token is refused"
paid = requests.post(link["short_url"] + "/pay", data={"method": "upi", "outcome": "success", "form_token": token})
assert paid.status_code == 200, paid.status_code
callback = wait("the callback", lambda: [r for r in receiver.requests if r["path"] == "/return"])[0]["query"]
assert callback["razorpay_payment_link_status"] == "paid", callback
assert client.utility.verify_payment_link_signature({
    "payment_link_id": callback["razorpay_payment_link_id"],
    "payment_link_reference_id": callback["razorpay_payment_link_reference_id"],
    "payment_link_status": callback["razorpay_payment_link_status"],
    "razorpay_payment_id": callback["razorpay_payment_id"],
    "razorpay_signature": callback["razorpay_signature"],
}) is True

hooks = wait("payment_link.paid", lambda: [
    r for r in receiver.posts("/razorpay-hook") if json.loads(r["body"])["event"] == "payment_link.paid"])
hook = hooks[0]
body = hook["body"].decode()
signature = hook["headers"]["x-razorpay-signature"]
assert client.utility.verify_webhook_signature(body, signature, WEBHOOK_SECRET) is True
try:
    client.utility.verify_webhook_signature(body.replace("paid", "pa1d", 1), signature, WEBHOOK_SECRET)
    raise AssertionError("a tampered body must not verify")
except razorpay.errors.SignatureVerificationError:
    pass
event = json.loads(body)
assert event["payload"]["payment_link"]["entity"]["id"] == link["id"], event
assert event["payload"]["payment"]["entity"]["id"] == callback["razorpay_payment_id"], event

after = client.payment_link.fetch(link["id"])
assert after["status"] == "paid" and after["amount_paid"] == 50000, after
print("razorpay-python: create, fetch, list, edit, cancel, hosted page, callback and webhook verified")
sys.exit(0)
