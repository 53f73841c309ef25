// The one interface every screen codes against. Two implementations: Tauri
// IPC inside the desktop app, HTTP in a browser (the headless hub).
import type { DocType } from "../bindings/DocType";
import type { DocTypeSummary } from "../bindings/DocTypeSummary";
import type { ErrorBody } from "../bindings/ErrorBody";
import type { ExcType } from "../bindings/ExcType";
import type { ListQuery } from "../bindings/ListQuery";
import type { SiteInfo } from "../bindings/SiteInfo";

/** A document: standard fields, declared fields, child rows inline. */
export type Doc = Record<string, unknown> & { name: string };

export interface Backend {
  readonly kind: "tauri" | "http";
  siteInfo(): Promise<SiteInfo>;
  listDoctypes(): Promise<DocTypeSummary[]>;
  getDoctype(doctype: string): Promise<DocType>;
  listDocuments(doctype: string, query: ListQuery): Promise<Doc[]>;
  getDocument(doctype: string, name: string): Promise<Doc>;
  insertDocument(doctype: string, doc: Record<string, unknown>): Promise<Doc>;
  updateDocument(doctype: string, name: string, patch: Record<string, unknown>): Promise<Doc>;
  deleteDocument(doctype: string, name: string): Promise<void>;
  /** Any site method (`/api/method/{name}` or the same dispatch over IPC). */
  method<T>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** Browser sign-in; the desktop window needs none. */
  login(usr: string, pwd: string): Promise<void>;
  logout(): Promise<void>;
}

/** Every failure, from either backend, in the site's error shape. */
export class BackendError extends Error {
  readonly excType: ExcType | "NetworkError";
  readonly field?: string;

  constructor(body: ErrorBody | { exc_type: "NetworkError"; message: string; field?: string }) {
    super(body.message);
    this.excType = body.exc_type;
    this.field = body.field;
  }
}

export function isErrorBody(v: unknown): v is ErrorBody {
  return typeof v === "object" && v !== null && "exc_type" in v && "message" in v;
}
