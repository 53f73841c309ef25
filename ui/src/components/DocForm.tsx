import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { useBlocker } from "react-router";
import { api, backend, BackendError, type Doc } from "../api";
import type { DocField } from "../bindings/DocField";
import type { DocType } from "../bindings/DocType";
import { Alerts } from "./Alerts";
import { ChildTable } from "./ChildTable";
import { useConfirm } from "./Confirm";
import { defaults, FieldInput, labelOf } from "./Field";
import { RolePicker } from "./RolePicker";

/** A write-only input beside the declared fields (e.g. a pasted secret). */
export interface ExtraField {
  key: string;
  label: string;
  hint: string;
}

const STATUS = ["Draft", "Submitted", "Cancelled"];

/**
 * Read-only fields of a table that this site decides after all: the rows
 * of a producer that pushes here are approved on this site (SPEC F20).
 */
function decidedHere(doctype: string, doc: Record<string, unknown>, table: string): string[] {
  return doctype === "Event Producer" && doc.pushes_here === 1 && table === "producer_doctypes" ? ["status"] : [];
}

/** What the user may send: declared, editable fields (rows included). */
function editable(meta: DocType, doc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of meta.fields) {
    if (f.read_only && f.fieldtype !== "Table") continue;
    if (f.fieldname in doc) out[f.fieldname] = doc[f.fieldname];
  }
  return out;
}

/** A form generated from a doctype's declaration: new or existing document. */
export function DocForm(props: {
  doctype: string;
  name: string | null;
  onSaved: (doc: Doc) => void;
  onClose: () => void;
  /** Opens another document of this doctype (an amendment). */
  onOpen: (name: string) => void;
  extra?: ExtraField[];
}) {
  const { doctype, name } = props;
  const [meta, setMeta] = useState<DocType | null>(null);
  const [doc, setDoc] = useState<Record<string, unknown>>({});
  const [extra, setExtra] = useState<Record<string, string>>({});
  const [error, setError] = useState<BackendError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [doctypes, setDoctypes] = useState<string[]>([]);
  const [ask, dialog] = useConfirm();
  // The document as last loaded or saved: the form is "dirty" when what
  // the user may send differs from it.
  const [saved, setSaved] = useState<string>("");

  const load = useCallback(async () => {
    const m = await backend.getDoctype(doctype);
    const d = name === null ? defaults(m) : await backend.getDocument(doctype, name);
    // Together: a form never shows its fields empty before the document arrives.
    setDoc(d);
    setMeta(m);
    setSaved(JSON.stringify(editable(m, d)));
  }, [doctype, name]);

  useEffect(() => {
    setError(null);
    load().catch((e: BackendError) => setError(e));
    backend.listDoctypes().then((all) => setDoctypes(all.map((d) => d.name))).catch(() => {});
  }, [load]);

  const typed = Object.values(extra).some((v) => v !== "");
  const dirty = meta !== null && (typed || JSON.stringify(editable(meta, doc)) !== saved);
  // Leaving with unsaved changes (Back to list, Back, another screen) asks first.
  // A ref, so that a save that moves to the document's URL in the same
  // tick is not held by the state of the render before it.
  const held = useRef(false);
  held.current = dirty;
  const blocker = useBlocker(({ currentLocation, nextLocation }) => held.current && currentLocation.pathname !== nextLocation.pathname);
  useEffect(() => {
    if (blocker.state !== "blocked") return;
    const what = name === null ? `this new ${doctype}` : `${doctype} ${name}`;
    void ask({
      title: "Discard unsaved changes?",
      body: `The changes to ${what} have not been saved; leaving drops them.`,
      action: "Discard changes",
      danger: true,
    }).then((yes) => (yes ? blocker.proceed() : blocker.reset()));
  }, [blocker, ask, doctype, name]);
  // Closing or reloading the page with unsaved changes: the browser asks.
  useEffect(() => {
    if (!dirty) return;
    const hold = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", hold);
    return () => window.removeEventListener("beforeunload", hold);
  }, [dirty]);
  // Ctrl+S (⌘S) saves, as in Desk.
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
        e.preventDefault();
        form.current?.requestSubmit();
      }
    };
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  }, []);

  if (!meta) return error ? <div role="alert" className="error">{error.message}</div> : <p className="muted">Loading…</p>;

  const docstatus = Number(doc.docstatus ?? 0);
  const locked = docstatus !== 0;
  // An edit makes "Saved" (or any earlier outcome) stale.
  const set = (f: DocField, v: unknown) => {
    setNotice(null);
    setDoc((d) => ({ ...d, [f.fieldname]: v }));
  };

  const act = async (what: string, op: () => Promise<Doc | void>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const saved = await op();
      if (saved) {
        setDoc(saved);
        setSaved(JSON.stringify(editable(meta, saved)));
        setExtra({});
        held.current = false;
        props.onSaved(saved);
      }
      setNotice(what);
    } catch (e) {
      setError(e as BackendError);
    } finally {
      setBusy(false);
    }
  };

  const save = (e: FormEvent) => {
    e.preventDefault();
    const body = { ...editable(meta, doc), ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== "")) };
    if (name === null) {
      if (meta.autoname === "prompt" && doc.name) body.name = doc.name;
      void act("Saved", () => backend.insertDocument(doctype, body));
    } else {
      void act("Saved", () => backend.updateDocument(doctype, name, body));
    }
  };

  const title = name === null ? `New ${doctype}` : `${doctype} ${name}`;
  return (
    // The site checks every rule and names the field (and row) at fault.
    <form ref={form} className="card doc-form" onSubmit={save} aria-label={title} noValidate>
      {dialog}
      <div className="toolbar">
        <h2>{title}</h2>
        {name !== null && meta.is_submittable && <span className={`chip chip-${STATUS[docstatus]?.toLowerCase()}`}>{STATUS[docstatus]}</span>}
        <button type="button" className="secondary" onClick={props.onClose}>
          Back to list
        </button>
      </div>
      <Alerts error={error?.message} notice={notice} />
      <div className="fields">
        {name === null && meta.autoname === "prompt" && (
          <label className="field">
            <span>Name</span>
            <input aria-label="Name" value={String(doc.name ?? "")} required onChange={(e) => setDoc((d) => ({ ...d, name: e.target.value }))} />
          </label>
        )}
        {meta.fields
          .filter((f) => f.fieldtype !== "Table")
          .map((f) => (
            <label key={f.fieldname} className={`field${error?.field === f.fieldname ? " invalid" : ""}`}>
              <span>
                {labelOf(f)}
                {f.reqd && <span aria-hidden="true"> *</span>}
              </span>
              <FieldInput field={f} value={doc[f.fieldname]} readOnly={locked} invalid={error?.field === f.fieldname} onChange={(v) => set(f, v)} doctypes={doctypes} />
              {f.description && <small className="field-help">{f.description}</small>}
            </label>
          ))}
        {props.extra?.map((x) => (
          <label key={x.key} className={`field${error?.field === x.key ? " invalid" : ""}`}>
            <span>{x.label}</span>
            <input type="password" aria-label={x.label} autoComplete="off" placeholder={name === null ? "" : x.hint} value={extra[x.key] ?? ""} onChange={(e) => {
                setNotice(null);
                setExtra((v) => ({ ...v, [x.key]: e.target.value }));
              }} />
          </label>
        ))}
      </div>
      {meta.fields
        .filter((f) => f.fieldtype === "Table")
        .map((f) => (
          <section key={f.fieldname} className={`table-field${error?.field === f.fieldname ? " invalid" : ""}`}>
            <h3>{labelOf(f)}</h3>
            {f.options === "Has Role" ? (
              <RolePicker rows={(doc[f.fieldname] as Record<string, unknown>[]) ?? []} readOnly={locked} onChange={(rows) => set(f, rows)} />
            ) : (
              <ChildTable field={f} rows={(doc[f.fieldname] as Record<string, unknown>[]) ?? []} readOnly={locked} onChange={(rows) => set(f, rows)} doctypes={doctypes} unlocked={decidedHere(doctype, doc, f.fieldname)} />
            )}
          </section>
        ))}
      <div className="actions">
        {!locked && (
          <button type="submit" disabled={busy}>
            Save
          </button>
        )}
        {name !== null && meta.is_submittable && docstatus === 0 && (
          <button
            type="button"
            disabled={busy || dirty}
            title={dirty ? "Save your changes first" : undefined}
            onClick={() =>
              void ask({
                title: `Submit ${doctype} ${name}?`,
                body: "A submitted document can no longer be edited: to change it later you cancel it and make a new one.",
                action: "Submit",
              }).then<unknown>((yes) => yes && act("Submitted", () => backend.updateDocument(doctype, name, { docstatus: 1 })))
            }
          >
            Submit
          </button>
        )}
        {name !== null && meta.is_submittable && docstatus === 1 && (
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void ask({
                title: `Cancel ${doctype} ${name}?`,
                body: "It stays on record, marked Cancelled, and cannot be submitted again; sites that receive it get the cancellation too.",
                action: "Cancel document",
                danger: true,
              }).then<unknown>((yes) => yes && act("Cancelled", () => backend.updateDocument(doctype, name, { docstatus: 2 })))
            }
          >
            Cancel document
          </button>
        )}
        {name !== null && docstatus === 2 && meta.fields.some((f) => f.fieldname === "amended_from") && (
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void act("Amended", async () => {
                const draft = await api.amend(doctype, name);
                props.onOpen(draft.name);
              })
            }
          >
            Amend
          </button>
        )}
        {name !== null && docstatus !== 1 && (
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={() =>
              void ask({
                title: `Delete ${doctype} ${name}?`,
                body: "It is gone from this site, and sites that receive it delete their copy too. This cannot be undone.",
                action: "Delete",
                danger: true,
              }).then<unknown>(
                (yes) =>
                  yes &&
                  act("Deleted", async () => {
                    await backend.deleteDocument(doctype, name);
                    held.current = false;
                    props.onClose();
                  }),
              )
            }
          >
            Delete
          </button>
        )}
      </div>
    </form>
  );
}
