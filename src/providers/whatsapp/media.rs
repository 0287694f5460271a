//! Media: `POST /{phone_number_id}/media` (multipart: `messaging_product`, `file`, `type`),
//! `GET /{media_id}` (metadata and a download URL), `DELETE /{media_id}`, and the download itself
//! (`GET /whatsapp/attachments/{media_id}` with the business's token, as Meta's media URLs need
//! it). A message that names media by `id` is checked against what was uploaded: an unknown id
//! is accepted and then reported `failed` with 131053, as Meta reports media it cannot fetch.
//!
//! Types and sizes follow Meta's table: JPEG and PNG images up to 5 MB, WebP stickers up to
//! 500 KB, AAC/AMR/MPEG/MP4/OGG audio and MP4/3GPP video up to 16 MB, text, PDF and Office
//! documents up to 100 MB. Deviations: an upload is also bounded by the sandbox's body limit
//! (`server.body_limit`, 1 MiB by default), and each business keeps its newest 200 files.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{Multipart, Path, State, multipart::MultipartRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Wa;
use super::auth::{GraphAuth, Principal};
use super::error::GraphError;
use super::graph::graph;

/// Files each business keeps.
pub(super) const KEPT: usize = 200;

/// One uploaded file.
#[derive(Debug, Clone)]
pub(super) struct Media {
    pub id: String,
    pub mime_type: String,
    pub sha256: String,
    pub bytes: Bytes,
}

/// Meta's size limit for a MIME type, or `None` when the type is not supported.
fn limit_for(mime: &str) -> Option<usize> {
    const MB: usize = 1024 * 1024;
    Some(match mime {
        "image/jpeg" | "image/png" => 5 * MB,
        "image/webp" => 500 * 1024,
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" | "video/mp4"
        | "video/3gpp" => 16 * MB,
        "text/plain"
        | "application/pdf"
        | "application/msword"
        | "application/vnd.ms-excel"
        | "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => 100 * MB,
        _ => return None,
    })
}

fn upload_error(details: String) -> GraphError {
    GraphError::Scripted {
        code: 131_053,
        status: StatusCode::BAD_REQUEST,
        title: "Media upload error".into(),
        details,
    }
}

fn missing(param: &str) -> GraphError {
    GraphError::Scripted {
        code: 100,
        status: StatusCode::BAD_REQUEST,
        title: "Invalid parameter".into(),
        details: format!("/{param}: required parameter is missing"),
    }
}

/// `POST /{phone_number_id}/media`.
pub(super) async fn upload(
    State(app): State<Wa>,
    auth: GraphAuth,
    Path(path): Path<HashMap<String, String>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    graph(app, auth.usage(), path, async move |app: &Wa, phone_number_id: &str| {
        auth.business(phone_number_id, "post")?;
        let mut multipart = multipart.map_err(|e| {
            GraphError::Scripted {
                code: 100,
                status: StatusCode::BAD_REQUEST,
                title: "Invalid parameter".into(),
                details: format!("/file: the body must be multipart/form-data: {}", e.body_text()),
            }
        })?;
        let (mut product, mut declared, mut file) = (None, None, None);
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| upload_error(format!("/file: the multipart body could not be read: {e}")))?
        {
            match field.name().unwrap_or_default() {
                "messaging_product" => product = field.text().await.ok(),
                "type" => declared = field.text().await.ok(),
                "file" => {
                    let part_type = field.content_type().map(str::to_string);
                    let bytes = field
                        .bytes()
                        .await
                        .map_err(|e| upload_error(format!("/file: the file could not be read: {e}")))?;
                    file = Some((part_type, bytes));
                }
                _ => {}
            }
        }
        if product.as_deref() != Some("whatsapp") {
            return Err(missing("messaging_product"));
        }
        let (part_type, bytes) = file.ok_or_else(|| missing("file"))?;
        let mime = declared
            .or(part_type)
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let limit = limit_for(&mime)
            .ok_or_else(|| upload_error(format!("/type: file type {mime:?} is not supported")))?;
        if bytes.len() > limit {
            return Err(upload_error(format!(
                "/file: {mime} files may be at most {limit} bytes; this one is {}",
                bytes.len()
            )));
        }
        if bytes.is_empty() {
            return Err(upload_error("/file: the file is empty".into()));
        }
        let media = Media {
            id: app.ctx.ids.digits(16),
            mime_type: mime,
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes,
        };
        let id = media.id.clone();
        if let Some(b) = app.store.lock().business_mut(phone_number_id) {
            b.media.insert(id.clone(), media);
        }
        Ok(json!({ "id": id }))
    })
    .await
}

/// The media `id` of the token's business, if it is one.
pub(super) fn find(app: &Wa, auth: &GraphAuth, id: &str) -> Option<(String, Media)> {
    let Ok(Principal::Business {
        phone_number_id, ..
    }) = &auth.principal
    else {
        return None;
    };
    let store = app.store.lock();
    let media = store.business(phone_number_id)?.media.get(id)?.clone();
    Some((phone_number_id.clone(), media))
}

/// `GET /{media_id}`: Graph's media object, with a download URL on this sandbox.
pub(super) fn metadata(app: &Wa, phone_number_id: &str, media: &Media) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/whatsapp/attachments/{}", app.ctx.base_url, media.id),
        "mime_type": media.mime_type,
        "sha256": media.sha256,
        "file_size": media.bytes.len(),
        "id": media.id,
        "phone_number_id": phone_number_id,
    })
}

/// `DELETE /{media_id}`.
pub(super) fn delete(app: &Wa, phone_number_id: &str, id: &str) -> Value {
    if let Some(b) = app.store.lock().business_mut(phone_number_id) {
        b.media.remove(id);
    }
    json!({"success": true})
}

/// `GET /whatsapp/attachments/{media_id}`: the file, for the business that uploaded it.
pub(super) async fn download(
    State(app): State<Wa>,
    auth: GraphAuth,
    Path(id): Path<String>,
) -> Response {
    match find(&app, &auth, &id) {
        Some((_, media)) => file_response(&media),
        None => {
            let err = auth.principal.clone().err().unwrap_or(GraphError::UnknownObject {
                id,
                method: "get".into(),
            });
            super::graph::graph_error(&app, &app.config.api_version, &err)
        }
    }
}

/// The file with its type, for downloads and the dashboard.
pub(super) fn file_response(media: &Media) -> Response {
    let mut response = (StatusCode::OK, media.bytes.clone()).into_response();
    if let Ok(v) = HeaderValue::from_str(&media.mime_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// The media id a message names (`image.id`, `document.id`, ..., or an interactive message's
/// header `image.id`, `video.id` or `document.id`), if any.
pub(super) fn named_id(message: &Value, kind: &str) -> Option<String> {
    let header = &message["interactive"]["header"];
    message
        .get(kind)
        .and_then(|m| m["id"].as_str())
        .or_else(|| {
            ["image", "video", "document"]
                .iter()
                .find_map(|k| header[*k]["id"].as_str())
        })
        .map(str::to_string)
}

/// The failed-status error for a message naming media that was never uploaded.
pub(super) fn unknown_media_error(id: &str) -> Value {
    super::error::webhook_error(
        131_053,
        "Media upload error",
        &format!("Unable to retrieve media with id {id}: it was never uploaded or has been deleted."),
    )
}
