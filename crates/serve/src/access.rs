//! Who may call the server: the API key (`Authorization: Bearer <key>`, as TEI's `--api-key`)
//! and the browser origins allowed by CORS (`--cors-allow-origin`).

use crate::error::ServeError;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The expected `Authorization` header value, `Bearer <key>`.
pub(crate) struct ApiKey(Vec<u8>);

impl ApiKey {
    /// The header a client must send for `key`; an empty key is refused (it would make
    /// `Authorization: Bearer ` a password).
    pub(crate) fn new(key: &str) -> Result<Self, ServeError> {
        if key.trim().is_empty() {
            return Err(ServeError::Config("api_key must not be empty".into()));
        }
        Ok(Self(format!("Bearer {key}").into_bytes()))
    }

    /// Whether `given` is exactly the expected header, compared in constant time (only the
    /// length can show through timing).
    fn accepts(&self, given: Option<&HeaderValue>) -> bool {
        given.is_some_and(|value| bool::from(value.as_bytes().ct_eq(&self.0)))
    }
}

/// Answers 401 (TEI's empty body, with `WWW-Authenticate: Bearer`) unless the request carries
/// the key.
pub(crate) async fn require_key(State(key): State<Arc<ApiKey>>, request: Request, next: Next) -> Response {
    if key.accepts(request.headers().get(header::AUTHORIZATION)) {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response()
    }
}

/// TEI's CORS layer for `origins` (`*` alone or among them: any origin), or `None` without
/// origins. Methods GET and POST; headers `Content-Type` and, for the API key, `Authorization`.
pub(crate) fn cors(origins: &[String]) -> Result<Option<CorsLayer>, ServeError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let parsed = origins
            .iter()
            .map(|o| {
                HeaderValue::from_str(o)
                    .map_err(|_| ServeError::Config(format!("cors_allow_origin: {o:?} is not a valid origin")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(parsed)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
            .allow_origin(allow),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_must_match_exactly() {
        let key = ApiKey::new("s3cret").unwrap();
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert!(key.accepts(Some(&h("Bearer s3cret"))));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret ",
            "bearer s3cret",
            "s3cret",
            "Bearer S3cret",
            "",
        ] {
            assert!(!key.accepts(Some(&h(wrong))), "{wrong:?}");
        }
        assert!(!key.accepts(None));
        assert!(ApiKey::new(" ").is_err());
    }

    #[test]
    fn origins_are_checked() {
        assert!(cors(&[]).unwrap().is_none());
        assert!(cors(&["*".into()]).unwrap().is_some());
        assert!(cors(&["http://localhost:3000".into()]).unwrap().is_some());
        assert!(cors(&["http://bad\norigin".into()]).is_err());
    }
}
