//! The OpenAPI document (at TEI's path, `/api-doc/openapi.json`), generated from the handlers'
//! annotations and the request/response types, and the `/docs` page that renders it.
//!
//! The page is one self-contained HTML file (`docs.html`, no external scripts, styles or fonts):
//! Swagger UI would have to be downloaded at build time or from a CDN at view time, and the
//! service must build and be browsable offline.

use crate::api::{PruneRequest, PruneResponse, Rank, RerankRequest, TruncationDirection};
use crate::error::{ErrorResponse, ErrorType};
use crate::info::{ClassifierModel, Info, ModelType};
use crate::routes;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, PathItem};
use utoipa::{Modify, OpenApi};

/// Where the document is served (TEI's path).
pub(crate) const DOCUMENT_PATH: &str = "/api-doc/openapi.json";
/// Where the page that renders it is served (TEI's path).
pub(crate) const PAGE_PATH: &str = "/docs";
/// The page.
pub(crate) const PAGE: &str = include_str!("docs.html");
/// Tag of the routes TEI has.
pub(crate) const TEI_TAG: &str = "Text Embeddings Inference";
/// Tag of our own routes.
pub(crate) const OURS_TAG: &str = "open-provence";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "open-provence-rs serve",
        description = "Reranking (text-embeddings-inference's API) and context pruning with an OpenProvence model.",
        license(name = "MIT")
    ),
    paths(routes::rerank, routes::prune, routes::health, routes::info, routes::metrics),
    components(schemas(
        RerankRequest,
        TruncationDirection,
        Rank,
        PruneRequest,
        PruneResponse,
        Info,
        ModelType,
        ClassifierModel,
        ErrorResponse,
        ErrorType
    )),
    modifiers(&ApiKeyScheme),
    tags(
        (name = TEI_TAG, description = "text-embeddings-inference's API for a reranker"),
        (name = OURS_TAG, description = "Context pruning")
    )
)]
struct ApiDoc;

/// The `api_key` bearer scheme the guarded operations name.
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut Document) {
        let scheme = SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("The server's --api-key, when it has one"))
                .build(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", scheme);
    }
}

/// The same route served at other paths: `(path, method, served like)`, as TEI routes them for
/// a reranker.
const ALIASES: [(&str, &str, &str); 4] = [
    ("/", "post", "/rerank"),
    ("/invocations", "post", "/rerank"),
    ("/", "get", "/health"),
    ("/ping", "get", "/health"),
];

/// The whole document, aliases included (each with its own `operationId`).
pub(crate) fn document() -> Document {
    let mut doc = ApiDoc::openapi();
    for (path, method, like) in ALIASES {
        let Some(mut operation) = doc
            .paths
            .paths
            .get(like)
            .and_then(|item| operation(item, method))
            .cloned()
        else {
            continue;
        };
        let name = if path == "/" {
            "root"
        } else {
            path.trim_start_matches('/')
        };
        operation.operation_id = Some(format!("{method}_{name}"));
        let item = doc.paths.paths.entry(path.to_string()).or_default();
        match method {
            "post" => item.post = Some(operation),
            _ => item.get = Some(operation),
        }
    }
    doc
}

fn operation<'a>(item: &'a PathItem, method: &str) -> Option<&'a utoipa::openapi::path::Operation> {
    match method {
        "post" => item.post.as_ref(),
        _ => item.get.as_ref(),
    }
}
