//! The OpenAPI document: served, and committed without drift.

use reqwest::{Method, StatusCode};

use crate::helpers::spawn_app;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == orchestrator::http::openapi::document(),
        "orchestrator/openapi.json is out of date; regenerate it with\n  \
         cargo run -p orchestrator -- openapi > orchestrator/openapi.json"
    );
}

#[tokio::test]
async fn the_document_and_the_docs_page_are_served() {
    let app = spawn_app().await;
    let (status, doc) = app
        .json(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/api/v1/sessions"]["post"].is_object());
    let page = app.call(Method::GET, "/docs/", None, None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger"));
}
