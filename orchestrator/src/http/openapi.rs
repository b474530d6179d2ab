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
        super::accounts::change_password,
        super::accounts::request_password_reset,
        super::accounts::confirm_password_reset,
        super::accounts::enrol_totp,
        super::accounts::confirm_totp,
        super::accounts::export,
        super::accounts::delete_account,
        super::profiles::my_profile,
        super::profiles::update_profile,
        super::profiles::user_profile,
        super::profiles::avatar,
        super::api_keys::list,
        super::api_keys::create,
        super::api_keys::revoke,
        super::friends::list,
        super::friends::request,
        super::friends::accept,
        super::friends::remove,
        super::friends::blocks,
        super::friends::block,
        super::friends::unblock,
        super::parties::create,
        super::parties::mine,
        super::parties::invite,
        super::parties::accept,
        super::parties::decline,
        super::parties::leave,
        super::parties::disband,
        super::reports::file,
        super::reports::mine,
        super::admin::queue,
        super::admin::resolve,
        super::admin::account,
        super::admin::act,
        super::admin::set_role,
        super::admin::audit_log,
        super::admin::price_book,
        super::admin::set_price_book,
        super::admin::reset_price_book,
        super::pricing::quote,
        super::campaigns::my_seats,
        super::matchmaking::open,
        super::matchmaking::show,
        super::matchmaking::cancel,
        super::campaigns::update,
        super::campaigns::make_calendar_feed,
        super::campaigns::end_calendar_feed,
        super::campaigns::calendar_feed,
        super::campaigns::create,
        super::campaigns::show,
        super::campaigns::preview,
        super::campaigns::publish,
        super::campaigns::cancel,
        super::campaigns::mine,
        super::campaigns::discover,
        super::campaigns::join,
        super::campaigns::leave,
        super::campaigns::roster,
        super::campaigns::remove_player,
        super::campaigns::campaign_calendar,
        super::campaigns::campaign_sessions,
        super::campaigns::my_calendar,
        super::campaigns::rotate_invite_code,
        super::billing::stripe_webhook,
        super::billing::my_payments,
        super::billing::my_subscription,
        super::billing::subscribe,
        super::billing::billing_portal,
        super::billing::campaign_revenue,
        super::billing::admin_revenue,
        super::billing::admin_disputes,
        super::play::join_token,
        super::play::play_socket,
        super::play::server_status,
        super::play::server_action,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "accounts", description = "Sign-up, verification and the caller's account"),
        (name = "sessions", description = "Log-in, token refresh and log-out"),
        (name = "profiles", description = "Profiles, privacy and avatars"),
        (name = "api-keys", description = "Keys for programmatic access"),
        (name = "social", description = "Friends and blocks"),
        (name = "parties", description = "Parties that join campaigns together"),
        (name = "safety", description = "Reports of users"),
        (name = "campaigns", description = "Setting up, previewing, publishing and finding campaigns"),
        (name = "matchmaking", description = "Quick join: tickets matched to open campaigns"),
        (name = "play", description = "Join tokens and the game's WebSocket"),
        (name = "billing", description = "Payments, refunds, subscriptions, revenue and Stripe's webhook"),
        (name = "admin", description = "Moderation, roles and the audit log (admins with a second factor)"),
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
