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

/// Keyset paging cursors: `<sort key>_<id>` of the last row of a page,
/// for listings in one order only, and `<order>.<sort key>_<id>` for
/// listings a client may sort several ways, so that a cursor is only good
/// for the order it was made in.
pub mod cursor {
    use super::ApiError;

    fn bad(message: &str) -> ApiError {
        ApiError::Invalid {
            field: "cursor".into(),
            message: message.into(),
        }
    }

    /// The cursor after a row with this sort key and id.
    pub fn after(key: i64, id: &str) -> String {
        format!("{key}_{id}")
    }

    /// The cursor after a row with this sort key and id in a listing in
    /// order `order` (a word without dots, such as `price`).
    pub fn after_in(order: &str, key: i64, id: &str) -> String {
        format!("{order}.{}", after(key, id))
    }

    /// Reads a cursor given back by a client (422 naming `cursor` if it is
    /// not one this API made).
    pub fn parse(cursor: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
        let Some(c) = cursor else { return Ok(None) };
        let not_ours = || bad("use the next value of a previous page");
        let (key, id) = c.split_once('_').ok_or_else(not_ours)?;
        // Rows always have ids; an empty one would page from nowhere.
        if id.is_empty() {
            return Err(not_ours());
        }
        Ok(Some((
            key.parse::<i64>().map_err(|_| not_ours())?,
            id.to_string(),
        )))
    }

    /// Reads a cursor of a listing in order `order` (422 naming `cursor`
    /// if it was made for another order, or not by this API).
    pub fn parse_in(order: &str, cursor: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
        let Some(c) = cursor else { return Ok(None) };
        let (made_for, rest) = c
            .split_once('.')
            .ok_or_else(|| bad("use the next value of a previous page"))?;
        if made_for != order {
            return Err(bad(&format!(
                "was made for another sort order than {order}; page on in the order it came from, \
                 or start again without a cursor"
            )));
        }
        parse(Some(rest))
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
