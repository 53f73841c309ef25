import { useEffect, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router";
import { backend, BackendError } from "../api";
import type { DocTypeSummary } from "../bindings/DocTypeSummary";
import { DocForm, type ExtraField } from "../components/DocForm";
import { DocList } from "../components/DocList";

/** A name from the URL: the router has decoded it already, but for `%2F`
 * (a `/` inside a name), which it leaves encoded. */
function fromUrl(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a `%` of the name's own
  }
}

/** The path segment of a new document's form, as in Frappe Desk (`…/new`). */
const NEW = "new";

/**
 * A list of one doctype's documents and, when one is open, its form. Which
 * one is open is the URL's: `base` lists, `base/new` makes one, `base/<name>`
 * opens one — so Back, Forward and reload keep the place.
 */
export function DocScreen(props: { base: string; doctype: string; extra?: ExtraField[]; intro?: string; rest?: string }) {
  const { base, doctype } = props;
  const navigate = useNavigate();
  const splat = useParams()["*"] ?? "";
  // What follows `base` in the URL (given by a screen that owns more of it).
  const rest = props.rest ?? splat;
  const open: string | null | undefined = rest === "" ? undefined : rest === NEW ? null : fromUrl(rest);
  // Another document gets a fresh form (no banner of the one before); a
  // new one that was just saved keeps its form, and its "Saved".
  const form = useRef({ open, n: 0 });
  if (form.current.open !== open) {
    form.current = { open, n: form.current.open === null ? form.current.n : form.current.n + 1 };
  }
  const path = (name?: string) => (name === undefined ? base : `${base}/${encodeURIComponent(name)}`);
  useEffect(() => {
    const what = open === undefined ? doctype : open === null ? `New ${doctype}` : `${open} — ${doctype}`;
    document.title = `${what} · Outpost`;
  }, [open, doctype]);
  return (
    <>
      {props.intro && open === undefined && <p className="intro muted">{props.intro}</p>}
      {open === undefined ? (
        <DocList doctype={doctype} onOpen={(name) => navigate(path(name))} onNew={() => navigate(`${base}/${NEW}`)} />
      ) : (
        <DocForm
          key={`${doctype}-${form.current.n}`}
          doctype={doctype}
          name={open}
          extra={props.extra}
          // A new document, once saved, is at its own URL (the form of
          // "new" is not kept in the history); a saved one stays where it is.
          onSaved={(d) => {
            if (d.name !== open) navigate(path(d.name), { replace: true });
          }}
          onClose={() => navigate(base)}
          onOpen={(name) => navigate(path(name))}
        />
      )}
    </>
  );
}

/** Documents of any doctype (SPEC F23): choose the doctype, then list or form. */
export function Documents() {
  // None until loaded: a select without its options would take a clerk's
  // typing (type-ahead) and do nothing with it.
  const [doctypes, setDoctypes] = useState<DocTypeSummary[] | null>(null);
  const navigate = useNavigate();
  // `/documents/<doctype>/<what DocScreen reads>`
  const [first, ...inner] = (useParams()["*"] ?? "").split("/");
  const doctype = fromUrl(first || "") || "Customer";
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    backend
      .listDoctypes()
      .then((all) => setDoctypes(all.filter((d) => !d.istable)))
      .catch((e: BackendError) => setError(e.message));
  }, []);
  return (
    <div className="stack">
      {doctypes === null ? (
        !error && <p role="status">Loading DocTypes…</p>
      ) : (
        <label className="doctype-picker">
          DocType{" "}
          <select id="doctype-select" aria-label="DocType" value={doctype} onChange={(e) => navigate(`/documents/${encodeURIComponent(e.target.value)}`)}>
            {doctypes.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {error && (
        <div role="alert" className="error">
          {error}
        </div>
      )}
      <DocScreen base={`/documents/${encodeURIComponent(doctype)}`} doctype={doctype} rest={inner.join("/")} />
    </div>
  );
}
