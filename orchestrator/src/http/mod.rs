//! The HTTP API under `/api/v1`: one router per resource, assembled here
//! with the cross-cutting layers (request ids, tracing, metrics, security
//! headers, CORS, body limits, rate limits).

pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod billing;
pub mod campaigns;
pub mod error;
pub mod friends;
pub mod health;
pub mod json;
pub mod matchmaking;
pub mod openapi;
pub mod parties;
pub mod play;
pub mod pricing;
pub mod profiles;
pub mod reports;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::PeerIpKeyExtractor;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::accounts::api_keys::{KEY_PREFIX, Scope};
use crate::accounts::tokens::hash_token;
use crate::accounts::{AccessClaims, Passwords, Role, TokenKeys, check_standing};
use crate::metrics::Metrics;
use crate::store::Store;
pub use error::ApiError;

/// The time source: Unix milliseconds. Tests move it by hand.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| jiff::Timestamp::now().as_millisecond()))
    }

    /// A clock reading `f`.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// Now, Unix ms.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Limits on how fast clients may call.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Sign-up, log-in and token calls per IP: one per this many ms, with a burst.
    pub auth_period_ms: u64,
    /// Burst for the above.
    pub auth_burst: u32,
    /// Every other call per IP: one per this many ms, with a burst.
    pub general_period_ms: u64,
    /// Burst for the above.
    pub general_burst: u32,
    /// Calls per credential (access token or API key): one per this many
    /// ms, with a burst; so one user cannot use up an address shared with
    /// others, nor many addresses at once.
    pub user_period_ms: u64,
    /// Burst for the above.
    pub user_burst: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            auth_period_ms: 6_000,
            auth_burst: 10,
            general_period_ms: 5,
            general_burst: 500,
            user_period_ms: 10,
            user_burst: 300,
        }
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Password hashing.
    pub passwords: Passwords,
    /// Access-token keys.
    pub keys: TokenKeys,
    /// The time.
    pub clock: Clock,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// How seats are paid for.
    pub payments: std::sync::Arc<dyn crate::seats::PaymentProvider>,
    /// The price book in force.
    pub prices: crate::price_books::PriceBooks,
    /// Where game servers run.
    pub runtime: Arc<dyn crate::runtime::Runtime>,
    /// The join-token keys.
    pub join_keys: crate::play::JoinKeys,
    /// Session warm-up lead and grace.
    pub timing: crate::scheduler::decide::Timing,
}

/// Options for [`router`].
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Origins allowed to call from browsers; empty means same-origin only.
    pub cors_origins: Vec<String>,
    /// Rate limits.
    pub rate_limits: RateLimits,
}

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole application. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (rate limits key
/// on the peer address).
pub fn router(state: AppState, options: &HttpOptions) -> Router {
    let limits = options.rate_limits;
    let auth_limit = GovernorConfigBuilder::default()
        .per_millisecond(limits.auth_period_ms.max(1))
        .burst_size(limits.auth_burst.max(1))
        .key_extractor(PeerIpKeyExtractor)
        .finish()
        .map(Arc::new);
    let general_limit = GovernorConfigBuilder::default()
        .per_millisecond(limits.general_period_ms.max(1))
        .burst_size(limits.general_burst.max(1))
        .key_extractor(PeerIpKeyExtractor)
        .finish()
        .map(Arc::new);

    let user_limit = GovernorConfigBuilder::default()
        .per_millisecond(limits.user_period_ms.max(1))
        .burst_size(limits.user_burst.max(1))
        .key_extractor(CredentialKeyExtractor)
        .finish()
        .map(Arc::new);

    let mut auth = accounts::auth_routes();
    if let Some(cfg) = auth_limit {
        auth = auth.layer(GovernorLayer::new(cfg));
    }
    let mut api = Router::new()
        .merge(accounts::routes())
        .merge(profiles::routes())
        .merge(api_keys::routes())
        .merge(friends::routes())
        .merge(parties::routes())
        .merge(reports::routes())
        .merge(admin::routes())
        .merge(campaigns::routes())
        .merge(pricing::routes())
        .merge(matchmaking::routes())
        .merge(billing::routes())
        .merge(play::routes());
    // Credential routes (log-in, sign-up, reset) have their own strict
    // limit and carry no user yet.
    if let Some(cfg) = user_limit {
        api = api.layer(GovernorLayer::new(cfg));
    }
    api = api.merge(auth);
    if let Some(cfg) = general_limit {
        api = api.layer(GovernorLayer::new(cfg));
    }

    let cors = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .allow_origin(AllowOrigin::list(
            options
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        ))
        .max_age(Duration::from_secs(600));

    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .nest("/api/v1", api)
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(play::page_routes())
        .layer(middleware::from_fn_with_state(state.clone(), track_metrics))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(cors)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string();
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Keys the per-user limit on the caller's credential (a hash of the bearer
/// token or API key), or on the peer address for anonymous calls. The
/// credential is not verified here (that happens in [`AuthUser`]); a forged
/// one only spends its own bucket.
#[derive(Debug, Clone, Copy)]
struct CredentialKeyExtractor;

impl tower_governor::key_extractor::KeyExtractor for CredentialKeyExtractor {
    type Key = String;

    fn extract<T>(
        &self,
        req: &axum::http::Request<T>,
    ) -> Result<Self::Key, tower_governor::GovernorError> {
        if let Some(token) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            return Ok(hash_token(token.trim()));
        }
        PeerIpKeyExtractor.extract(req).map(|ip| format!("ip:{ip}"))
    }
}

/// Counts requests and their latency by route template and status.
async fn track_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    state.metrics.observe_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The caller, from a valid `Authorization: Bearer` access token or API
/// key, whose account is in good standing. The role is the account's
/// current one (a change takes effect at once, not at token expiry).
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// Account id.
    pub id: String,
    /// Role.
    pub role: Role,
    /// The log-in this token belongs to (none for API keys).
    pub session: Option<String>,
    /// Whether the log-in passed a second factor.
    pub mfa: bool,
    /// The key's scopes, when the caller used an API key.
    pub api_key: Option<Vec<Scope>>,
}

impl AuthUser {
    /// The caller the request's credentials name: a valid access token's
    /// claims, or a live API key's account (its standing not yet checked).
    async fn from_credentials(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
        let now = state.clock.now();
        if token.starts_with(KEY_PREFIX) {
            let key = state
                .store
                .use_api_key(&hash_token(token), now)
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized("the API key is invalid or revoked".into())
                })?;
            let scopes = Scope::parse_list(&key.scopes);
            let reads = matches!(parts.method, Method::GET | Method::HEAD);
            if !reads && !scopes.contains(&Scope::Write) {
                return Err(ApiError::Forbidden(
                    "this API key may only read (scope read)".into(),
                ));
            }
            return Ok(AuthUser {
                id: key.account_id,
                role: Role::Player,
                session: None,
                mfa: false,
                api_key: Some(scopes),
            });
        }
        let claims: AccessClaims = state.keys.verify(token, now).ok_or_else(|| {
            ApiError::Unauthorized("the access token is invalid or expired".into())
        })?;
        Ok(AuthUser {
            id: claims.sub,
            role: claims.role,
            session: Some(claims.sid),
            mfa: claims.mfa,
            api_key: None,
        })
    }

    /// Refuses an account that is gone or not in good standing, and takes
    /// its current role.
    async fn in_good_standing(mut self, state: &AppState) -> Result<Self, ApiError> {
        let standing = state
            .store
            .standing(&self.id)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
        check_standing(
            &standing.standing,
            standing.suspended_until,
            state.clock.now(),
        )?;
        self.role = Role::from_stored(&standing.role);
        Ok(self)
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        AuthUser::from_credentials(parts, state)
            .await?
            .in_good_standing(state)
            .await
    }
}

/// A caller with a valid access token whose standing the handler's own
/// query reads along with what it reads anyway (one query less on a hot
/// path), so the handler must refuse one not in good standing before it
/// changes or shows anything. Its role is the token's. API keys are looked
/// up in the database anyway, so theirs is checked here as for
/// [`AuthUser`].
#[derive(Debug, Clone)]
pub struct TokenUser(pub AuthUser);

impl FromRequestParts<AppState> for TokenUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_credentials(parts, state).await?;
        Ok(TokenUser(if user.api_key.is_some() {
            user.in_good_standing(state).await?
        } else {
            user
        }))
    }
}

/// A caller signed in with a session (not an API key): needed to manage
/// keys, passwords, second factors and the account itself.
#[derive(Debug, Clone)]
pub struct SessionUser(pub AuthUser);

impl FromRequestParts<AppState> for SessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.api_key.is_some() {
            return Err(ApiError::Forbidden(
                "API keys cannot do this; sign in with your password".into(),
            ));
        }
        Ok(SessionUser(user))
    }
}

/// An admin signed in with their second factor.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let SessionUser(user) = SessionUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(ApiError::Forbidden("admins only".into()));
        }
        if !user.mfa {
            return Err(ApiError::Forbidden(
                "admin calls need a log-in with the second factor: set one up at \
                 POST /api/v1/me/totp, then log in with its code"
                    .into(),
            ));
        }
        Ok(AdminUser(user))
    }
}

/// Serves the app on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
