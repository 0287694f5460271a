//! The fast path of the hottest request, a valid India `order_details` message: its body is read
//! straight into typed structs, and checked with the same rules as [`super::rules::check`],
//! without building a JSON tree or running the schema validator.
//!
//! The path only ever *accepts*. It covers the common shape of the message (an image header
//! given by link, a `payment_link` or a `payment_gateway` setting without gateway extras, items
//! without images) and gives up, returning `None`, at the first thing it does not cover or that is
//! not valid: an unknown or duplicate field, a `null`, a number written as `1.0`, a string the
//! rules would refuse, a header naming uploaded media, and so on. The caller then runs the full
//! path, which reports every violation in the usual way. So the typed path decides nothing the
//! full path would decide otherwise; `typed_diff.rs` beside it holds it to that over every fixture
//! and a generated corpus of variants (same verdict, same order, same warnings).

use serde::{Deserialize, Deserializer};

use super::checked::{Checked, Context, MIN_EXPIRATION_SECS, OrderDraft};
use super::model::Region;

/// JSON Schema's largest exact integer, the `maximum` of every amount's `value`.
const MAX_AMOUNT: i64 = 9_007_199_254_740_991;

/// An optional field that, when present, must hold a `T` (JSON `null` is not absent).
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A `T` read only from a JSON object. Serde's derived structs also read arrays (`[1, 100]` as
/// an amount), which JSON Schema's `"type": "object"` refuses.
struct Obj<T>(T);

impl<T> std::ops::Deref for Obj<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    #[serde(default, deserialize_with = "some")]
    messaging_product: Option<String>,
    #[serde(default, deserialize_with = "some")]
    recipient_type: Option<String>,
    to: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, deserialize_with = "some")]
    biz_opaque_callback_data: Option<String>,
    interactive: Obj<Interactive>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Interactive {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, deserialize_with = "some")]
    header: Option<Obj<Header>>,
    body: Obj<Text>,
    #[serde(default, deserialize_with = "some")]
    footer: Option<Obj<Text>>,
    action: Obj<Action>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    #[serde(rename = "type")]
    kind: String,
    image: Obj<Media>,
}

/// An image given by link (media given by id goes the full way: it is checked against uploads).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Media {
    link: String,
    #[serde(default, deserialize_with = "some")]
    caption: Option<String>,
    #[serde(default, deserialize_with = "some")]
    filename: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[expect(dead_code, reason = "read for its shape only")]
    provider: Option<Obj<MediaProvider>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaProvider {
    #[serde(default, deserialize_with = "some")]
    #[expect(dead_code, reason = "read for its type only: any string is valid")]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    name: String,
    parameters: Obj<Parameters>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Parameters {
    reference_id: String,
    #[serde(rename = "type")]
    goods: String,
    #[serde(default, deserialize_with = "some")]
    payment_type: Option<String>,
    payment_settings: Vec<Obj<Setting>>,
    currency: String,
    total_amount: Obj<Amount>,
    order: Obj<Order>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Setting {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, deserialize_with = "some")]
    payment_gateway: Option<Obj<Gateway>>,
    #[serde(default, deserialize_with = "some")]
    payment_link: Option<Obj<Link>>,
}

/// A gateway setting; of the gateways' own extras only Razorpay's (`receipt`, `notes`) are read
/// here, kept as the tree the store keeps. Other gateways' extras go the full way.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Gateway {
    #[serde(rename = "type")]
    kind: String,
    configuration_name: String,
    #[serde(default, deserialize_with = "some")]
    razorpay: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "some")]
    preferred_payment_methods: Option<Vec<Obj<Preferred>>>,
    #[serde(default, deserialize_with = "some")]
    enabled_payment_options: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Preferred {
    method: String,
}

const PREFERRED: &[&str] = &["gpay", "phonepe", "paytm", "bhim", "amazonpay", "cred", "mobikwik"];

/// Razorpay's extras: a `receipt` of 1 to 40 characters, up to 15 string `notes` of up to 256
/// characters, and `encrypted_payment_gateway_data`.
fn razorpay_extras(extras: &serde_json::Map<String, serde_json::Value>) -> bool {
    use serde_json::Value;
    extras.iter().all(|(k, v)| match (k.as_str(), v) {
        ("receipt", Value::String(r)) => chars(r, 1, 40),
        ("notes", Value::Object(notes)) => {
            notes.len() <= 15
                && notes
                    .values()
                    .all(|n| n.as_str().is_some_and(|n| chars(n, 0, 256)))
        }
        ("encrypted_payment_gateway_data", Value::String(d)) => !d.is_empty(),
        _ => false,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Link {
    uri: String,
    #[serde(default, deserialize_with = "some")]
    success_url: Option<String>,
    #[serde(default, deserialize_with = "some")]
    cancel_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Amount {
    value: i64,
    offset: i64,
    #[serde(default, deserialize_with = "some")]
    description: Option<String>,
    #[serde(default, deserialize_with = "some")]
    discount_program_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Order {
    status: String,
    #[serde(rename = "type", default, deserialize_with = "some")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "some")]
    catalog_id: Option<String>,
    #[serde(default, deserialize_with = "some")]
    expiration: Option<Obj<Expiration>>,
    items: Vec<Obj<Item>>,
    subtotal: Obj<Amount>,
    tax: Obj<Amount>,
    #[serde(default, deserialize_with = "some")]
    shipping: Option<Obj<Amount>>,
    #[serde(default, deserialize_with = "some")]
    discount: Option<Obj<Amount>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expiration {
    timestamp: Timestamp,
    #[serde(default, deserialize_with = "some")]
    description: Option<String>,
}

/// An expiration timestamp: 1 to 12 digits as a string, or a non-negative integer.
struct Timestamp(i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("1 to 12 digits, or a non-negative integer")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                let digits = (1..=12).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit());
                match v.parse() {
                    Ok(n) if digits => Ok(Timestamp(n)),
                    _ => Err(E::custom("not a timestamp")),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                if v >= 0 {
                    Ok(Timestamp(v))
                } else {
                    Err(E::custom("negative"))
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("out of range"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    #[serde(default, deserialize_with = "some")]
    retailer_id: Option<String>,
    name: String,
    amount: Obj<Amount>,
    #[serde(default, deserialize_with = "some")]
    sale_amount: Option<Obj<Amount>>,
    quantity: i64,
    #[serde(default, deserialize_with = "some")]
    country_of_origin: Option<String>,
    #[serde(default, deserialize_with = "some")]
    importer_name: Option<String>,
    #[serde(default, deserialize_with = "some")]
    importer_address: Option<Obj<ImporterAddress>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImporterAddress {
    address_line1: String,
    #[serde(default, deserialize_with = "some")]
    #[expect(dead_code, reason = "read for its type only: any string is valid")]
    address_line2: Option<String>,
    city: String,
    zone_code: String,
    postal_code: String,
    country_code: String,
}

/// The checked India `order_details` message in `text`, or `None` when the full path must
/// decide (see the module doc).
pub(super) fn order_details(text: &str, ctx: &Context<'_>) -> Option<Checked> {
    let Obj(message) = serde_json::from_str::<Obj<Message>>(text).ok()?;
    let mut c = Checked::new("interactive.order_details");
    envelope(&message, ctx)?;
    c.recipient = super::rules::phone_recipient(&message.to, &mut c.violations);
    interactive(&message.interactive)?;
    let params = &message.interactive.action.parameters;
    parameters(params)?;
    order(&params.order, params, ctx)?;
    payment(params, ctx, &mut c)?;
    c.callback_data = message.biz_opaque_callback_data;
    c.order = Some(draft(message.interactive.0.action.0.parameters.0));
    c.violations.is_empty().then_some(c)
}

/// The fields every message shares.
fn envelope(m: &Message, ctx: &Context<'_>) -> Option<()> {
    match m.messaging_product.as_deref() {
        Some("whatsapp") => {}
        None if !ctx.require_messaging_product => {}
        _ => return None,
    }
    ok(m.recipient_type.as_deref().is_none_or(|t| t == "individual")
        && chars(&m.to, 1, 128)
        && m.kind == "interactive"
        && m
            .biz_opaque_callback_data
            .as_deref()
            .is_none_or(|d| chars(d, 0, 512)))
}

fn interactive(i: &Interactive) -> Option<()> {
    let header = i.header.as_ref().is_none_or(|h| {
        let m = &h.image;
        h.kind == "image"
            && uri(&m.link)
            && m.caption.as_deref().is_none_or(|t| chars(t, 0, 1024))
            && m.filename.as_deref().is_none_or(|t| chars(t, 0, 240))
    });
    ok(i.kind == "order_details"
        && header
        && chars(&i.body.text, 1, 1024)
        && i.footer.as_ref().is_none_or(|f| chars(&f.text, 1, 60))
        && i.action.name == "review_and_pay")
}

fn parameters(p: &Parameters) -> Option<()> {
    let reference = chars(&p.reference_id, 1, 35)
        && p.reference_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    ok(reference
        && ["digital-goods", "physical-goods"].contains(&p.goods.as_str())
        && p.payment_type.as_deref().is_none_or(|t| t == "upi")
        && p.currency == "INR"
        && amount(&p.total_amount, false, false)
        && p.total_amount.value > 0
        && !p.payment_settings.is_empty()
        && p.payment_settings.iter().all(|s| setting(s)))
}

fn setting(s: &Setting) -> bool {
    match (s.kind.as_str(), &s.payment_gateway, &s.payment_link) {
        ("payment_gateway", Some(g), None) => {
            let options = g.enabled_payment_options.as_ref().is_none_or(|o| {
                !o.is_empty()
                    && o.iter().all(|x| x == "upi" || x == "web")
                    && !(o.len() == 2 && o[0] == o[1])
                    && o.len() <= 2
            });
            let preferred = g.preferred_payment_methods.as_ref().is_none_or(|p| {
                p.len() <= 1 && p.iter().all(|m| PREFERRED.contains(&m.method.as_str()))
            });
            let extras = g
                .razorpay
                .as_ref()
                .is_none_or(|e| g.kind == "razorpay" && razorpay_extras(e));
            ["billdesk", "razorpay", "payu", "zaakpay"].contains(&g.kind.as_str())
                && chars(&g.configuration_name, 1, 60)
                && options
                && preferred
                && extras
        }
        ("payment_link", None, Some(l)) => {
            uri(&l.uri)
                && l.success_url.as_deref().is_none_or(uri)
                && l.cancel_url.as_deref().is_none_or(uri)
        }
        _ => false,
    }
}

/// The order's fields and its arithmetic, expiration and importer rules.
fn order(o: &Order, p: &Parameters, ctx: &Context<'_>) -> Option<()> {
    let fields = o.status == "pending"
        && o.kind.as_deref().is_none_or(|k| k == "quick_pay")
        && o.catalog_id.as_deref().is_none_or(|c| !c.is_empty())
        && o.expiration.as_ref().is_none_or(|e| {
            e.description.as_deref().is_none_or(|d| chars(d, 0, 120))
                && e.timestamp.0 >= ctx.now_secs + MIN_EXPIRATION_SECS
        })
        && !o.items.is_empty()
        && o.items.iter().all(|i| item(i, o.catalog_id.is_some()))
        && amount(&o.subtotal, false, false)
        && amount(&o.tax, true, false)
        && o.shipping.as_ref().is_none_or(|a| amount(a, true, false))
        && o.discount.as_ref().is_none_or(|d| amount(d, true, true));
    if !fields {
        return None;
    }
    let mut subtotal: i128 = 0;
    for i in &o.items {
        let unit = i.sale_amount.as_ref().unwrap_or(&i.amount).value;
        subtotal += i128::from(unit) * i128::from(i.quantity);
    }
    let part = |a: Option<&Obj<Amount>>| a.map_or(0, |a| i128::from(a.value));
    let total = i128::from(o.subtotal.value) + i128::from(o.tax.value) + part(o.shipping.as_ref())
        - part(o.discount.as_ref());
    ok(subtotal == i128::from(o.subtotal.value) && total == i128::from(p.total_amount.value))
}

fn item(i: &Item, catalog: bool) -> bool {
    let importer = catalog
        || (i.country_of_origin.is_some() && i.importer_name.is_some() && i.importer_address.is_some());
    i.retailer_id.as_deref().is_none_or(|r| !r.is_empty())
        && chars(&i.name, 1, 60)
        && amount(&i.amount, false, false)
        && i.sale_amount
            .as_ref()
            .is_none_or(|s| amount(s, false, false) && s.value < i.amount.value)
        && (1..=1_000_000).contains(&i.quantity)
        && i.country_of_origin.as_deref().is_none_or(|c| !c.is_empty())
        && i.importer_name.as_deref().is_none_or(|n| !n.is_empty())
        && i.importer_address.as_ref().is_none_or(|a| address(a))
        && importer
}

fn address(a: &ImporterAddress) -> bool {
    !a.address_line1.is_empty()
        && !a.city.is_empty()
        && !a.zone_code.is_empty()
        && !a.postal_code.is_empty()
        && a.country_code.len() == 2
        && a.country_code.bytes().all(|b| b.is_ascii_uppercase())
}

/// An amount (`{value, offset}`); `described` allows a `description` and `program` a
/// `discount_program_name`, each of up to 60 characters.
fn amount(a: &Amount, described: bool, program: bool) -> bool {
    (0..=MAX_AMOUNT).contains(&a.value)
        && a.offset == 100
        && a.description
            .as_deref()
            .is_none_or(|d| described && chars(d, 0, 60))
        && a.discount_program_name
            .as_deref()
            .is_none_or(|d| program && chars(d, 0, 60))
}

/// India's payment settings: a payment link needs `payment_type`; gateways warn as on the full
/// path.
fn payment(p: &Parameters, ctx: &Context<'_>, c: &mut Checked) -> Option<()> {
    let has_link = p.payment_settings.iter().any(|s| s.kind == "payment_link");
    if has_link && p.payment_type.is_none() {
        return None;
    }
    for (i, s) in p.payment_settings.iter().enumerate() {
        if let Some(g) = &s.payment_gateway {
            let web_only = g
                .enabled_payment_options
                .as_ref()
                .is_some_and(|o| o.len() == 1 && o[0] == "web");
            let total = i128::from(p.total_amount.value);
            super::order::gateway_warnings(i, Some(&g.configuration_name), web_only, total, ctx, c);
        }
    }
    Some(())
}

/// What the store keeps of the order, as [`super::order`]'s draft makes it.
fn draft(p: Parameters) -> OrderDraft {
    let first_gateway = p.payment_settings.first().and_then(|s| s.payment_gateway.as_ref());
    OrderDraft {
        region: Region::India,
        currency: Region::India.currency().to_string(),
        total_amount: p.total_amount.value,
        payment_types: p.payment_settings.iter().map(|s| s.kind.clone()).collect(),
        configuration_name: first_gateway.map(|g| g.configuration_name.clone()),
        payment_link: p
            .payment_settings
            .iter()
            .find_map(|s| s.payment_link.as_ref().map(|l| l.uri.clone())),
        expires_at: p.order.expiration.as_ref().map(|e| e.timestamp.0),
        pg_type: first_gateway.map(|g| g.kind.clone()),
        pg_extras: first_gateway
            .and_then(|g| g.razorpay.as_ref())
            .map(super::order::kept_extras)
            .unwrap_or_default(),
        offsite_card: None,
        reference_id: p.reference_id,
    }
}

fn ok(valid: bool) -> Option<()> {
    valid.then_some(())
}

/// A string of `min` to `max` characters (Unicode scalar values, as JSON Schema counts them).
fn chars(s: &str, min: usize, max: usize) -> bool {
    let n = s.chars().count();
    (min..=max).contains(&n)
}

/// An `http` or `https` URI in a conservative subset of RFC 3986: a host of letters, digits,
/// dots and hyphens with an optional port, then only characters a URI may hold as they are,
/// percent escapes with two hex digits, and at most one `#`. Anything else goes the full way.
fn uri(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok = port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let bytes = tail.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~:/?#@!$&'()*+,;=".contains(&b)) {
            return false;
        }
        i += 1;
    }
    host_ok && port_ok && tail.matches('#').count() <= 1
}
