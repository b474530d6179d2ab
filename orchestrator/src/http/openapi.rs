//! The OpenAPI document, generated from the handlers' annotations and
//! committed as `orchestrator/openapi.json` (a test fails when it drifts),
//! served at `/api/v1/openapi.json` with an offline Swagger UI at `/docs`.

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Startales orchestrator API", version = "1", description = "Accounts, campaigns, pricing, matchmaking and billing for Startales."),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::health::metrics,
        super::accounts::sign_up,
        super::accounts::verify_email,
        super::accounts::log_in,
        super::accounts::refresh,
        super::accounts::log_out,
        super::accounts::log_out_everywhere,
        super::accounts::me,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "accounts", description = "Sign-up, verification and the caller's account"),
        (name = "sessions", description = "Log-in, token refresh and log-out"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline (the committed form).
pub fn document() -> String {
    let mut s = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}

/// `/api/v1/openapi.json` and the docs page at `/docs`.
pub fn routes() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", ApiDoc::openapi()))
}
