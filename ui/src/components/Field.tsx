import { useEffect, useId, useState } from "react";
import { backend } from "../api";
import type { DocField } from "../bindings/DocField";
import type { DocType } from "../bindings/DocType";

const NUMERIC = ["Int", "Float", "Currency", "Percent"];
const LONG_TEXT = ["Small Text", "Text", "Long Text", "Text Editor", "Code", "JSON"];

export function labelOf(f: DocField): string {
  return f.label ?? f.fieldname;
}

/** Turns what an input holds into the value the site expects. */
function fromInput(f: DocField, raw: string | boolean): unknown {
  if (f.fieldtype === "Check") return raw ? 1 : 0;
  if (typeof raw === "boolean") return raw;
  if (raw === "") return null;
  if (NUMERIC.includes(f.fieldtype)) {
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw; // the site names the field if it is not a number
  }
  return raw;
}

function toInput(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Suggestions for a Link field, as the user types: names of the target
 * doctype that contain the text (whatever the case), 20 at most. */
function useLinkOptions(target: string | undefined, enabled: boolean, text: string): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    if (!enabled || !target || target === "DocType") return;
    const typed = text.trim();
    // A pause in typing, not every key, asks the site.
    const timer = window.setTimeout(() => {
      backend
        .listDocuments(target, {
          fields: ["name"],
          filters: typed ? { name: ["like", `%${typed}%`] } : undefined,
          limit_page_length: 20,
          order_by: "name asc",
        })
        .then((docs) => setNames(docs.map((d) => d.name)))
        .catch(() => setNames([]));
    }, 150);
    return () => window.clearTimeout(timer);
  }, [target, enabled, text]);
  return names;
}

/** One input generated from a field's declaration. */
export function FieldInput(props: {
  field: DocField;
  value: unknown;
  onChange: (v: unknown) => void;
  readOnly?: boolean;
  label?: string;
  invalid?: boolean;
  doctypes?: string[];
}) {
  const { field: f, value, onChange, invalid } = props;
  const id = useId();
  const readOnly = props.readOnly || f.read_only;
  const label = props.label ?? labelOf(f);
  const [focused, setFocused] = useState(false);
  const links = useLinkOptions(f.fieldtype === "Link" ? f.options : undefined, focused, toInput(value));
  const common = {
    id,
    "aria-label": label,
    "aria-invalid": invalid || undefined,
    disabled: readOnly,
    required: f.reqd,
  };
  if (f.fieldtype === "Check") {
    return (
      <input type="checkbox" {...common} checked={Number(value) === 1 || value === true} onChange={(e) => onChange(fromInput(f, e.target.checked))} />
    );
  }
  if (f.fieldtype === "Select") {
    const choices = (f.options ?? "").split("\n");
    if (readOnly) return <span className={`chip chip-${toInput(value).toLowerCase().replace(/\s+/g, "-")}`}>{toInput(value)}</span>;
    return (
      <select {...common} value={toInput(value)} onChange={(e) => onChange(fromInput(f, e.target.value))}>
        {!choices.includes("") && <option value="" />}
        {choices.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  }
  if (LONG_TEXT.includes(f.fieldtype)) {
    return <textarea {...common} rows={f.fieldtype === "Code" ? 4 : 3} value={toInput(value)} onChange={(e) => onChange(fromInput(f, e.target.value))} />;
  }
  const type = NUMERIC.includes(f.fieldtype) ? "number" : f.fieldtype === "Date" ? "date" : "text";
  const listId = `${id}-options`;
  const options = f.fieldtype === "Link" && f.options === "DocType" ? props.doctypes ?? [] : links;
  return (
    <>
      <input
        {...common}
        type={type}
        step={type === "number" ? "any" : undefined}
        list={f.fieldtype === "Link" ? listId : undefined}
        value={toInput(value)}
        onFocus={() => setFocused(true)}
        onChange={(e) => onChange(fromInput(f, e.target.value))}
      />
      {f.fieldtype === "Link" && (
        <datalist id={listId}>
          {options.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
      )}
    </>
  );
}

/** A new document's (or child row's) values: each field's declared default, tables empty. */
export function defaults(meta: DocType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of meta.fields) {
    if (f.fieldtype === "Table") out[f.fieldname] = [];
    else if (f.default === "Today") out[f.fieldname] = new Date().toLocaleDateString("sv-SE"); // YYYY-MM-DD, local
    else if (f.default !== undefined) {
      out[f.fieldname] = ["Check", "Int", "Float", "Currency", "Percent"].includes(f.fieldtype) ? Number(f.default) : f.default;
    }
  }
  return out;
}
