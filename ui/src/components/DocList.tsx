import { useCallback, useEffect, useMemo, useState } from "react";
import { backend, BackendError, type Doc } from "../api";
import type { DocType } from "../bindings/DocType";
import { Alerts } from "./Alerts";
import { usePolled } from "./usePolled";
import { labelOf } from "./Field";

const REFRESH_MS = 3000;
const STATUS = ["Draft", "Submitted", "Cancelled"];

function show(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** The documents of one doctype, newest first, filterable, refreshed while shown. */
export function DocList(props: { doctype: string; onOpen: (name: string) => void; onNew: () => void }) {
  const { doctype } = props;
  const [meta, setMeta] = useState<DocType | null>(null);
  const [metaError, setError] = useState<string | null>(null);
  const [field, setField] = useState("name");
  const [value, setValue] = useState("");

  useEffect(() => {
    setMeta(null);
    setField("name");
    setValue("");
    backend.getDoctype(doctype).then(setMeta).catch((e: BackendError) => setError(e.message));
  }, [doctype]);

  const columns = useMemo(() => (meta ? meta.fields.filter((f) => f.in_list_view && f.fieldtype !== "Table") : []), [meta]);
  const filterable = useMemo(() => (meta ? meta.fields.filter((f) => f.fieldtype !== "Table") : []), [meta]);

  const load = useCallback(async (): Promise<Doc[] | null> => {
    if (!meta) return null;
    const f = meta.fields.find((x) => x.fieldname === field);
    const textual = !f || ["Data", "Small Text", "Text", "Long Text", "Text Editor", "Link", "Dynamic Link", "Code"].includes(f.fieldtype);
    const filters = value.trim() === "" ? undefined : { [field]: textual ? ["like", `%${value.trim()}%`] : value.trim() };
    return backend.listDocuments(doctype, {
      fields: ["name", "modified", "docstatus", ...columns.map((c) => c.fieldname)],
      filters,
      order_by: "modified desc",
      limit_page_length: 100,
    });
  }, [doctype, meta, columns, field, value]);
  const { data: docs, error: listError } = usePolled(load, REFRESH_MS);
  const error = metaError ?? listError;

  return (
    <section className="card documents" aria-label={`${doctype} list`}>
      <div className="toolbar">
        <h2>{doctype}</h2>
        <label>
          Filter{" "}
          <select aria-label="Filter field" value={field} onChange={(e) => setField(e.target.value)}>
            <option value="name">Name</option>
            {filterable.map((f) => (
              <option key={f.fieldname} value={f.fieldname}>
                {labelOf(f)}
              </option>
            ))}
          </select>
        </label>
        <input aria-label="Filter value" placeholder="contains…" value={value} onChange={(e) => setValue(e.target.value)} />
        <button type="button" onClick={props.onNew}>
          New {doctype}
        </button>
      </div>
      <Alerts error={error} />
      {docs === null ? (
        <p className="muted">Loading…</p>
      ) : docs.length === 0 ? (
        <p className="muted" id="no-documents">
          No {doctype} {value ? "matches" : "yet"}.
        </p>
      ) : (
        <table id="documents-table">
          <thead>
            <tr>
              <th>Name</th>
              {columns.map((c) => (
                <th key={c.fieldname}>{labelOf(c)}</th>
              ))}
              <th>Status</th>
              <th>Modified</th>
            </tr>
          </thead>
          <tbody>
            {docs.map((d) => (
              <tr key={d.name} data-name={d.name}>
                <td className="doc-name">
                  <a href={`#open-${encodeURIComponent(d.name)}`} onClick={(e) => { e.preventDefault(); props.onOpen(d.name); }}>
                    {d.name}
                  </a>
                </td>
                {columns.map((c) => (
                  <td key={c.fieldname}>
                    {c.fieldtype === "Select" && c.read_only ? <span className={`chip chip-${show(d[c.fieldname]).toLowerCase().replace(/\s+/g, "-")}`}>{show(d[c.fieldname])}</span> : show(d[c.fieldname])}
                  </td>
                ))}
                <td>{STATUS[Number(d.docstatus)] ?? ""}</td>
                <td className="muted">{show(d.modified).slice(0, 19)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
