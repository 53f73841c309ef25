//! IPC commands: each calls the same engine function as its HTTP route,
//! on the same blocking pool, and fails with the same error body.

use outpost_engine::doctype::{DocType, DocTypeSummary};
use outpost_engine::{Actor, Doc, ErrorBody, ListQuery, SiteInfo};
use outpost_server::AppState;
use serde_json::Value;
use tauri::State;

type CmdResult<T> = Result<T, ErrorBody>;

/// The desktop window acts as the site's own administrator: whoever can
/// open the app on this laptop owns its data directory.
fn local_actor() -> Actor {
    Actor::system()
}

async fn run<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&outpost_engine::Site) -> outpost_engine::Result<T> + Send + 'static,
) -> CmdResult<T> {
    state.run(f).await.map_err(|e| e.body)
}

#[tauri::command]
pub async fn site_info(state: State<'_, AppState>) -> CmdResult<SiteInfo> {
    run(&state, |site| site.info()).await
}

#[tauri::command]
pub async fn list_doctypes(state: State<'_, AppState>) -> CmdResult<Vec<DocTypeSummary>> {
    run(&state, |site| Ok(site.doctypes().summaries())).await
}

#[tauri::command]
pub async fn get_doctype(state: State<'_, AppState>, doctype: String) -> CmdResult<DocType> {
    run(&state, move |site| {
        Ok(DocType::clone(site.doctypes().require(&doctype)?))
    })
    .await
}

#[tauri::command]
pub async fn list_documents(
    state: State<'_, AppState>,
    doctype: String,
    query: ListQuery,
) -> CmdResult<Vec<Doc>> {
    run(&state, move |site| {
        site.list(&local_actor(), &doctype, &query)
    })
    .await
}

#[tauri::command]
pub async fn get_document(
    state: State<'_, AppState>,
    doctype: String,
    name: String,
) -> CmdResult<Doc> {
    run(&state, move |site| {
        site.get(&local_actor(), &doctype, &name)
    })
    .await
}

#[tauri::command]
pub async fn insert_document(
    state: State<'_, AppState>,
    doctype: String,
    doc: Value,
) -> CmdResult<Doc> {
    run(&state, move |site| {
        site.insert(&local_actor(), &doctype, doc)
    })
    .await
}

#[tauri::command]
pub async fn update_document(
    state: State<'_, AppState>,
    doctype: String,
    name: String,
    patch: Value,
) -> CmdResult<Doc> {
    run(&state, move |site| {
        site.update(&local_actor(), &doctype, &name, patch)
    })
    .await
}

#[tauri::command]
pub async fn delete_document(
    state: State<'_, AppState>,
    doctype: String,
    name: String,
) -> CmdResult<()> {
    run(&state, move |site| {
        site.delete(&local_actor(), &doctype, &name)
    })
    .await
}

/// Any site method (the same dispatch table as `/api/method/{method}`).
#[tauri::command]
pub async fn call_method(
    state: State<'_, AppState>,
    method: String,
    args: Option<Value>,
) -> CmdResult<outpost_server::routes::method::Answer> {
    run(&state, move |site| {
        let args = match args {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(outpost_engine::Error::bad_input(
                    "Method arguments must be a JSON object",
                ))
            }
        };
        outpost_server::routes::method::dispatch(site, &local_actor(), &method, &args)
    })
    .await
}
