import { BackendError, isErrorBody, type Backend, type Doc } from "./backend";
import type { DocType } from "../bindings/DocType";
import type { DocTypeSummary } from "../bindings/DocTypeSummary";
import type { ListQuery } from "../bindings/ListQuery";
import type { SiteInfo } from "../bindings/SiteInfo";

/** The browser is signed in by an HttpOnly session cookie; this header
 * (which no cross-site form can send) lets it make changes. */
const UI_HEADER = "X-Outpost-UI";

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", [UI_HEADER]: "1" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new BackendError({ exc_type: "NetworkError", message: `The site cannot be reached: ${String(e)}` });
  }
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    if (isErrorBody(json)) throw new BackendError(json);
    throw new BackendError({ exc_type: "InternalError", message: `The site answered ${res.status}` });
  }
  return json as T;
}

const resource = (doctype: string, name?: string) =>
  `/api/resource/${encodeURIComponent(doctype)}` + (name === undefined ? "" : `/${encodeURIComponent(name)}`);

function listParams(q: ListQuery): string {
  const p = new URLSearchParams();
  if (q.filters !== undefined) p.set("filters", JSON.stringify(q.filters));
  if (q.fields) p.set("fields", JSON.stringify(q.fields));
  if (q.order_by) p.set("order_by", q.order_by);
  if (q.search) p.set("search", q.search);
  if (q.limit_start !== undefined) p.set("limit_start", String(q.limit_start));
  if (q.limit_page_length !== undefined) p.set("limit_page_length", String(q.limit_page_length));
  return p.toString();
}

const method = async <T>(name: string, args: Record<string, unknown> = {}) =>
  (await request<{ message: T }>("POST", `/api/method/${name}`, args)).message;

/** Talks to a site's REST API (the headless hub in a browser). */
export const httpBackend: Backend = {
  kind: "http",
  siteInfo: () => method<SiteInfo>("outpost.site.info"),
  listDoctypes: () => method<DocTypeSummary[]>("outpost.doctype.list"),
  getDoctype: (doctype) => method<DocType>("outpost.doctype.get", { doctype }),
  listDocuments: async (doctype, q) =>
    (await request<{ data: Doc[] }>("GET", `${resource(doctype)}?${listParams(q)}`)).data,
  getDocument: async (doctype, name) => (await request<{ data: Doc }>("GET", resource(doctype, name))).data,
  insertDocument: async (doctype, doc) => (await request<{ data: Doc }>("POST", resource(doctype), doc)).data,
  updateDocument: async (doctype, name, patch) =>
    (await request<{ data: Doc }>("PUT", resource(doctype, name), patch)).data,
  deleteDocument: async (doctype, name) => {
    await request<{ data: string }>("DELETE", resource(doctype, name));
  },
  method,
  login: async (usr, pwd) => {
    await request("POST", "/api/method/login", { usr, pwd });
  },
  logout: async () => {
    await request("POST", "/api/method/logout");
  },
};
