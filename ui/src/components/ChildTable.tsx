import { useEffect, useState } from "react";
import { backend } from "../api";
import type { DocField } from "../bindings/DocField";
import type { DocType } from "../bindings/DocType";
import { defaults, FieldInput, labelOf } from "./Field";

type Row = Record<string, unknown>;

/** The rows of a Table field, editable in place: add, change, remove. */
export function ChildTable(props: {
  field: DocField;
  rows: Row[];
  onChange: (rows: Row[]) => void;
  readOnly?: boolean;
  doctypes?: string[];
  /** Read-only fields this site may set here all the same. */
  unlocked?: string[];
}) {
  const { field, rows, onChange } = props;
  const [child, setChild] = useState<DocType | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!field.options) return;
    backend.getDoctype(field.options).then(setChild).catch((e: Error) => setError(e.message));
  }, [field.options]);
  if (error) return <div role="alert" className="error">{error}</div>;
  if (!child) return <p className="muted">Loading…</p>;
  const label = labelOf(field);
  const set = (i: number, fieldname: string, v: unknown) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, [fieldname]: v } : r)));
  return (
    <div className="child-table">
      <table aria-label={label}>
        <thead>
          <tr>
            <th>#</th>
            {child.fields.map((f) => (
              <th key={f.fieldname}>{labelOf(f)}</th>
            ))}
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={String(r.name ?? `new-${i}`)}>
              <td className="muted">{i + 1}</td>
              {child.fields.map((f) => (
                <td key={f.fieldname}>
                  <FieldInput
                    field={props.unlocked?.includes(f.fieldname) ? { ...f, read_only: false } : f}
                    value={r[f.fieldname]}
                    readOnly={props.readOnly}
                    label={`${labelOf(f)} row ${i + 1}`}
                    onChange={(v) => set(i, f.fieldname, v)}
                    doctypes={props.doctypes}
                  />
                </td>
              ))}
              <td>
                {!props.readOnly && (
                  <button type="button" className="secondary" aria-label={`Remove row ${i + 1} of ${label}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
                    ✕
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!props.readOnly && (
        <button type="button" className="secondary" onClick={() => onChange([...rows, defaults(child)])}>
          Add row to {label}
        </button>
      )}
    </div>
  );
}
