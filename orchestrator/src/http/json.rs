//! A JSON body extractor whose rejections use the API's error shape.

use axum::extract::{FromRequest, Request};

use super::error::ApiError;

/// Like `axum::Json`, but bad bodies answer with [`ApiError::BadRequest`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

/// Like `axum::extract::Query`, but bad query strings answer with
/// [`ApiError::BadRequest`] in the API's error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        Ok(Query(value))
    }
}

/// Keyset paging cursors: `<sort key>_<id>` of the last row of a page.
pub mod cursor {
    use super::ApiError;

    /// The cursor after a row with this sort key and id.
    pub fn after(key: i64, id: &str) -> String {
        format!("{key}_{id}")
    }

    /// Reads a cursor given back by a client (422 naming `cursor` if it is
    /// not one this API made).
    pub fn parse(cursor: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
        let Some(c) = cursor else { return Ok(None) };
        let bad = || ApiError::Invalid {
            field: "cursor".into(),
            message: "use the next value of a previous page".into(),
        };
        let (key, id) = c.split_once('_').ok_or_else(bad)?;
        Ok(Some((
            key.parse::<i64>().map_err(|_| bad())?,
            id.to_string(),
        )))
    }

    /// The next page's cursor: only when this page came back full.
    pub fn next<T>(rows: &[T], limit: i64, key: impl Fn(&T) -> (i64, &str)) -> Option<String> {
        if rows.len() as i64 != limit {
            return None;
        }
        rows.last().map(|r| {
            let (k, id) = key(r);
            after(k, id)
        })
    }
}
