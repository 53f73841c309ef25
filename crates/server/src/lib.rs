//! Outpost's HTTP API over the engine (SPEC F7), shared by `outpostd` and
//! the desktop shell. [`app`] builds the router so tests can drive it
//! without sockets; [`serve`] runs it on a listener.

pub mod config;
pub mod error;
pub mod extract;
mod memory;
pub mod notify;
pub mod routes;
pub mod scheduler;
pub mod state;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{any, get};
use axum::{Json, Router};
use outpost_engine::ExcType;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub use state::AppState;

/// Largest request body accepted.
pub use outpost_engine::MAX_BODY_BYTES;

#[derive(OpenApi)]
#[openapi(
    info(title = "Outpost site API", description = "Frappe-shaped REST API of an Outpost site. Authenticate with `Authorization: token <api_key>:<api_secret>`, or in a browser sign in with `/api/method/login` (session cookie; changes also need the header `X-Outpost-UI: 1`)."),
    modifiers(&TokenAuth),
    security(("token" = []))
)]
struct ApiDoc;

struct TokenAuth;

impl utoipa::Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "token <api_key>:<api_secret>",
            ))),
        );
    }
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::resource::list, routes::resource::insert))
        .routes(routes!(
            routes::resource::get_one,
            routes::resource::update,
            routes::resource::delete
        ))
        .routes(routes!(routes::session::login))
        .routes(routes!(routes::session::logout))
        .routes(routes!(routes::invite::accept))
        .routes(routes!(routes::method::call_post, routes::method::call_get))
        .routes(routes!(routes::live::updates))
}

/// The OpenAPI document of every route [`app`] serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

async fn no_endpoint() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ExcType::DoesNotExistError,
        "No such endpoint: see /api/openapi.json",
    )
}

/// The UI as installed (`/usr/share/outpost/ui` beside `/usr/bin/outpostd`,
/// from the package), else next to the sources this binary was built from.
pub fn default_ui_dir() -> Option<std::path::PathBuf> {
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|bin| bin.join("../share/outpost/ui")));
    let built = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/dist"));
    installed
        .into_iter()
        .chain(std::iter::once(built))
        .find(|dir| dir.join("index.html").is_file())
}

pub fn app(state: AppState) -> Router {
    let (router, doc) = api().split_for_parts();
    let router = router
        .route("/api/openapi.json", get(move || async move { Json(doc) }))
        .route("/api", any(no_endpoint))
        .route("/api/{*rest}", any(no_endpoint));
    // The UI (SPEC F26): the same screens as the desktop, for a browser.
    let router = match &state.ui_dir {
        Some(dir) => router.fallback_service(
            tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(dir.join("index.html"))),
        ),
        None => router.fallback(no_endpoint),
    };
    router
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ExcType::ValidationError,
                "Method not allowed on this endpoint",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Logs to stderr, filtered by `OUTPOST_LOG` (a tracing filter).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OUTPOST_LOG")
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = state.clone();
    let shutdown = async move {
        shutdown.await;
        tracing::info!("stopping: answers in progress finish, live channels end");
        stopping.stop();
    };
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
