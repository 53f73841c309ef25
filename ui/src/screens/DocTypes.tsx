import { useCallback, useEffect, useState, type FormEvent } from "react";
import { backend, BackendError } from "../api";
import type { DocType } from "../bindings/DocType";
import type { DocTypeSummary } from "../bindings/DocTypeSummary";
import type { FieldType } from "../bindings/FieldType";
import { Alerts } from "../components/Alerts";
import { labelOf } from "../components/Field";

const FIELD_TYPES: FieldType[] = [
  "Data", "Small Text", "Text", "Long Text", "Text Editor", "Int", "Float", "Currency", "Percent",
  "Check", "Date", "Datetime", "Select", "Link", "Dynamic Link", "Table", "JSON", "Code",
];

/**
 * DocTypes (SPEC F3, System Manager): each DocType's fields, a custom field
 * added to one, or a whole DocType imported as JSON — so that a sync that
 * failed on "Unknown field shelf for DocType Note" is fixed here.
 */
export function DocTypes() {
  const [all, setAll] = useState<DocTypeSummary[]>([]);
  const [chosen, setChosen] = useState("Note");
  const [meta, setMeta] = useState<DocType | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setAll(await backend.listDoctypes());
      setMeta(await backend.getDoctype(chosen));
    } catch (e) {
      setError((e as BackendError).message);
    }
  }, [chosen]);
  useEffect(() => void refresh(), [refresh]);

  const run = async (what: string, op: () => Promise<unknown>) => {
    setError(null);
    setNotice(null);
    try {
      await op();
      setNotice(what);
      await refresh();
      return true;
    } catch (e) {
      setError((e as BackendError).message);
      return false;
    }
  };

  return (
    <div className="stack">
      <Alerts error={error} notice={notice} />
      <section className="card" aria-label="Fields of a DocType">
        <div className="toolbar">
          <h2>Fields</h2>
          <label>
            DocType{" "}
            <select aria-label="DocType" value={chosen} onChange={(e) => setChosen(e.target.value)}>
              {all.map((d) => (
                <option key={d.name} value={d.name}>
                  {d.name}
                  {d.custom ? " (custom)" : ""}
                </option>
              ))}
            </select>
          </label>
        </div>
        {meta && (
          <div className="table-scroll">
            <table aria-label={`Fields of ${meta.name}`}>
              <thead>
                <tr>
                  <th>Field</th>
                  <th>Label</th>
                  <th>Type</th>
                  <th>Options</th>
                  <th>Mandatory</th>
                </tr>
              </thead>
              <tbody>
                {meta.fields.map((f) => (
                  <tr key={f.fieldname} data-field={f.fieldname}>
                    <td>
                      <code>{f.fieldname}</code>
                    </td>
                    <td>{labelOf(f)}</td>
                    <td>{f.fieldtype}</td>
                    <td className="muted">{f.options ?? ""}</td>
                    <td>{f.reqd ? "yes" : ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <CustomField doctype={chosen} onAdd={(field) => run(`Field ${String(field.fieldname)} added to ${chosen}`, () => backend.method("outpost.doctype.add_custom_field", { doctype: chosen, field }))} />
      </section>
      <ImportDocType onImport={(definition) => run(`DocType ${String(definition.name ?? "")} imported`, () => backend.method("outpost.doctype.import", { definition }))} />
    </div>
  );
}

/** A custom field for one DocType: what Frappe's Customize Form adds. */
function CustomField(props: { doctype: string; onAdd: (field: Record<string, unknown>) => Promise<boolean> }) {
  const [fieldname, setFieldname] = useState("");
  const [label, setLabel] = useState("");
  const [fieldtype, setFieldtype] = useState<FieldType>("Data");
  const [options, setOptions] = useState("");
  const [reqd, setReqd] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const field: Record<string, unknown> = { fieldname: fieldname.trim(), fieldtype, reqd };
    if (label.trim()) field.label = label.trim();
    if (options.trim()) field.options = options;
    if (await props.onAdd(field)) {
      setFieldname("");
      setLabel("");
      setOptions("");
      setReqd(false);
    }
  };
  return (
    <form className="inline-form" aria-label={`Add a field to ${props.doctype}`} onSubmit={(e) => void submit(e)}>
      <h3>Add a field to {props.doctype}</h3>
      <div className="fields">
        <Text label="Field name" shown="Field name" value={fieldname} hint="shelf" onChange={setFieldname} />
        <Text label="Field label" shown="Label" value={label} hint="Shelf" onChange={setLabel} />
        <label className="field">
          <span>Type</span>
          <select aria-label="Field type" value={fieldtype} onChange={(e) => setFieldtype(e.target.value as FieldType)}>
            {FIELD_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <Text label="Field options" shown="Options" value={options} hint="Link: a DocType; Select: one choice a line" onChange={setOptions} />
        <label className="field check">
          <input type="checkbox" aria-label="Mandatory" checked={reqd} onChange={(e) => setReqd(e.target.checked)} /> Mandatory
        </label>
      </div>
      <button type="submit">Add field</button>
    </form>
  );
}

/** One labelled text input of the field form. */
function Text(props: { label: string; shown: string; value: string; hint: string; onChange: (v: string) => void }) {
  return (
    <label className="field">
      <span>{props.shown}</span>
      <input aria-label={props.label} value={props.value} placeholder={props.hint} onChange={(e) => props.onChange(e.target.value)} />
    </label>
  );
}

/** A whole DocType from its JSON declaration (as Frappe exports one). */
function ImportDocType(props: { onImport: (definition: Record<string, unknown>) => Promise<boolean> }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    let definition: unknown;
    try {
      definition = JSON.parse(text);
    } catch (err) {
      setError(`This is not JSON: ${(err as Error).message}`);
      return;
    }
    if (typeof definition !== "object" || definition === null || Array.isArray(definition)) {
      setError('A DocType is one JSON object: {"name": …, "fields": [ … ]}');
      return;
    }
    if (await props.onImport(definition as Record<string, unknown>)) setText("");
  };
  return (
    <form className="card" aria-label="Import a DocType" onSubmit={(e) => void submit(e)}>
      <h2>Import a DocType</h2>
      <Alerts error={error} />
      <textarea
        aria-label="DocType JSON"
        rows={8}
        value={text}
        placeholder={'{"name": "Shelf", "autoname": "field:code", "fields": [{"fieldname": "code", "fieldtype": "Data", "reqd": 1}]}'}
        onChange={(e) => setText(e.target.value)}
      />
      <div className="actions">
        <button type="submit">Import</button>
      </div>
    </form>
  );
}
