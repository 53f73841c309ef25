import { useCallback, useEffect, useMemo, useState } from "react";
import { backend, BackendError, type Doc } from "../api";
import type { DocType } from "../bindings/DocType";
import type { DocTypeSummary } from "../bindings/DocTypeSummary";

const REFRESH_MS = 3000;

function show(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** The documents of one doctype, newest first, refreshed while shown. */
export function Documents() {
  const [doctypes, setDoctypes] = useState<DocTypeSummary[]>([]);
  const [doctype, setDoctype] = useState("Customer");
  const [meta, setMeta] = useState<DocType | null>(null);
  const [docs, setDocs] = useState<Doc[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    backend
      .listDoctypes()
      .then((all) => setDoctypes(all.filter((d) => !d.istable)))
      .catch((e: BackendError) => setError(e.message));
  }, []);

  useEffect(() => {
    setMeta(null);
    setDocs(null);
    backend
      .getDoctype(doctype)
      .then(setMeta)
      .catch((e: BackendError) => setError(e.message));
  }, [doctype]);

  const columns = useMemo(
    () => (meta ? meta.fields.filter((f) => f.in_list_view && f.fieldtype !== "Table") : []),
    [meta],
  );

  const refresh = useCallback(() => {
    if (!meta) return;
    backend
      .listDocuments(doctype, {
        fields: ["name", "modified", "docstatus", ...columns.map((c) => c.fieldname)],
        order_by: "modified desc",
        limit_page_length: 100,
      })
      .then((d) => {
        setDocs(d);
        setError(null);
      })
      .catch((e: BackendError) => setError(e.message));
  }, [doctype, meta, columns]);

  useEffect(() => {
    refresh();
    const timer = window.setInterval(refresh, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [refresh]);

  return (
    <section className="card documents" aria-labelledby="documents-heading">
      <div className="toolbar">
        <h2 id="documents-heading">Documents</h2>
        <label>
          DocType{" "}
          <select id="doctype-select" value={doctype} onChange={(e) => setDoctype(e.target.value)}>
            {doctypes.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" id="refresh" onClick={refresh}>
          Refresh
        </button>
      </div>
      {error && (
        <div role="alert" className="error">
          {error}
        </div>
      )}
      {docs === null ? (
        <p className="muted">Loading…</p>
      ) : docs.length === 0 ? (
        <p className="muted" id="no-documents">
          No {doctype} yet.
        </p>
      ) : (
        <table id="documents-table">
          <thead>
            <tr>
              <th>Name</th>
              {columns.map((c) => (
                <th key={c.fieldname}>{c.label ?? c.fieldname}</th>
              ))}
              <th>Status</th>
              <th>Modified</th>
            </tr>
          </thead>
          <tbody>
            {docs.map((d) => (
              <tr key={d.name} data-name={d.name}>
                <td className="doc-name">{d.name}</td>
                {columns.map((c) => (
                  <td key={c.fieldname}>{show(d[c.fieldname])}</td>
                ))}
                <td>{["Draft", "Submitted", "Cancelled"][Number(d.docstatus)] ?? ""}</td>
                <td className="muted">{show(d.modified).slice(0, 19)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
