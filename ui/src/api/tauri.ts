import { invoke } from "@tauri-apps/api/core";
import { BackendError, isErrorBody, type Backend, type Doc } from "./backend";
import type { DocType } from "../bindings/DocType";
import type { DocTypeSummary } from "../bindings/DocTypeSummary";
import type { SiteInfo } from "../bindings/SiteInfo";

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    if (isErrorBody(e)) throw new BackendError(e);
    throw new BackendError({ exc_type: "InternalError", message: String(e) });
  }
}

/** Talks to the engine inside the desktop app through Tauri IPC commands. */
export const tauriBackend: Backend = {
  kind: "tauri",
  siteInfo: () => call<SiteInfo>("site_info"),
  listDoctypes: () => call<DocTypeSummary[]>("list_doctypes"),
  getDoctype: (doctype) => call<DocType>("get_doctype", { doctype }),
  listDocuments: (doctype, query) => call<Doc[]>("list_documents", { doctype, query }),
  getDocument: (doctype, name) => call<Doc>("get_document", { doctype, name }),
  insertDocument: (doctype, doc) => call<Doc>("insert_document", { doctype, doc }),
  updateDocument: (doctype, name, patch) => call<Doc>("update_document", { doctype, name, patch }),
  deleteDocument: (doctype, name) => call<void>("delete_document", { doctype, name }),
  method: (name, args) => call("call_method", { method: name, args: args ?? {} }),
  // The window is the site's own: whoever opens the app owns its data.
  login: async () => {},
  logout: async () => {},
};
