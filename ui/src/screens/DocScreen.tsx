import { useEffect, useState } from "react";
import { backend, BackendError } from "../api";
import type { DocTypeSummary } from "../bindings/DocTypeSummary";
import { DocForm, type ExtraField } from "../components/DocForm";
import { DocList } from "../components/DocList";

/** A list of one doctype's documents and, when one is open, its form. */
export function DocScreen(props: { doctype: string; extra?: ExtraField[]; intro?: string }) {
  const [open, setOpen] = useState<string | null | undefined>(undefined); // undefined: the list; null: a new one
  useEffect(() => setOpen(undefined), [props.doctype]);
  return (
    <>
      {props.intro && open === undefined && <p className="intro muted">{props.intro}</p>}
      {open === undefined ? (
        <DocList doctype={props.doctype} onOpen={setOpen} onNew={() => setOpen(null)} />
      ) : (
        <DocForm
          doctype={props.doctype}
          name={open}
          extra={props.extra}
          onSaved={(d) => setOpen(d.name)}
          onClose={() => setOpen(undefined)}
        />
      )}
    </>
  );
}

/** Documents of any doctype (SPEC F23): choose the doctype, then list or form. */
export function Documents() {
  const [doctypes, setDoctypes] = useState<DocTypeSummary[]>([]);
  const [doctype, setDoctype] = useState("Customer");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    backend
      .listDoctypes()
      .then((all) => setDoctypes(all.filter((d) => !d.istable)))
      .catch((e: BackendError) => setError(e.message));
  }, []);
  return (
    <div className="stack">
      <label className="doctype-picker">
        DocType{" "}
        <select id="doctype-select" value={doctype} onChange={(e) => setDoctype(e.target.value)}>
          {doctypes.map((d) => (
            <option key={d.name} value={d.name}>
              {d.name}
            </option>
          ))}
        </select>
      </label>
      {error && (
        <div role="alert" className="error">
          {error}
        </div>
      )}
      <DocScreen doctype={doctype} />
    </div>
  );
}
