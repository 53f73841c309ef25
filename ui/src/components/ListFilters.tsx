import type { DocField } from "../bindings/DocField";
import { FieldInput, labelOf } from "./Field";

/** One condition of a list, as the user set it: a field and what it holds. */
export interface ListFilter {
  key: number;
  field: string;
  /** Equality, a text to contain, or the ends of a range (either may be empty). */
  value: string;
  to: string;
}

const TEXT = ["Data", "Small Text", "Text", "Long Text", "Text Editor", "Code", "Dynamic Link", "JSON"];
const RANGE = ["Date", "Datetime", "Int", "Float", "Currency", "Percent"];
const NUMERIC = ["Int", "Float", "Currency", "Percent"];

/** The name field, which every doctype has but does not declare. */
const NAME: DocField = { fieldname: "name", label: "Name", fieldtype: "Data" } as DocField;

function fieldOf(fields: DocField[], name: string): DocField {
  return fields.find((f) => f.fieldname === name) ?? NAME;
}

/** The site's `[[field, operator, value], …]` for the filters that hold a value. */
export function toSiteFilters(fields: DocField[], filters: ListFilter[]): unknown[][] {
  const out: unknown[][] = [];
  for (const x of filters) {
    const f = fieldOf(fields, x.field);
    const value = x.value.trim();
    const to = x.to.trim();
    const typed = (v: string) => (NUMERIC.includes(f.fieldtype) ? Number(v) : v);
    if (RANGE.includes(f.fieldtype)) {
      if (value) out.push([x.field, ">=", typed(value)]);
      // A date range ends at the end of its last day.
      if (to) out.push([x.field, "<=", f.fieldtype === "Datetime" ? `${to} 23:59:59.999999` : typed(to)]);
    } else if (!value) {
      continue;
    } else if (f.fieldtype === "Check") {
      out.push([x.field, "=", value === "yes" ? 1 : 0]);
    } else if (TEXT.includes(f.fieldtype)) {
      // LIKE matches whatever the case.
      out.push([x.field, "like", `%${value}%`]);
    } else {
      out.push([x.field, "=", value]);
    }
  }
  return out;
}

/**
 * The list's filters, as in Desk: any number at once, each with the widget its
 * field's type calls for — a dropdown for a Select, a Link picker that
 * searches as one types, a range of dates or numbers, Yes/No for a Check,
 * "contains" for text.
 */
export function ListFilters(props: { fields: DocField[]; filters: ListFilter[]; onChange: (f: ListFilter[]) => void }) {
  const { fields, filters, onChange } = props;
  const choices = [NAME, ...fields.filter((f) => f.fieldtype !== "Table")];
  const set = (key: number, patch: Partial<ListFilter>) =>
    onChange(filters.map((x) => (x.key === key ? { ...x, ...patch } : x)));
  const add = () => {
    const taken = new Set(filters.map((x) => x.field));
    const next = choices.find((f) => !taken.has(f.fieldname)) ?? NAME;
    onChange([...filters, { key: Date.now() + Math.random(), field: next.fieldname, value: "", to: "" }]);
  };
  return (
    <div className="filters" role="group" aria-label="Filters">
      {filters.map((x, i) => {
        const f = fieldOf(fields, x.field);
        const label = labelOf(f);
        const n = i + 1;
        return (
          <div className="filter" key={x.key} data-field={x.field}>
            <select aria-label={`Filter ${n} field`} value={x.field} onChange={(e) => set(x.key, { field: e.target.value, value: "", to: "" })}>
              {choices.map((c) => (
                <option key={c.fieldname} value={c.fieldname}>
                  {labelOf(c)}
                </option>
              ))}
            </select>
            {RANGE.includes(f.fieldtype) ? (
              <>
                <input
                  aria-label={`${label} from`}
                  type={NUMERIC.includes(f.fieldtype) ? "number" : "date"}
                  value={x.value}
                  onChange={(e) => set(x.key, { value: e.target.value })}
                />
                <span aria-hidden="true">–</span>
                <input
                  aria-label={`${label} to`}
                  type={NUMERIC.includes(f.fieldtype) ? "number" : "date"}
                  value={x.to}
                  onChange={(e) => set(x.key, { to: e.target.value })}
                />
              </>
            ) : f.fieldtype === "Check" ? (
              <select aria-label={`${label} is`} value={x.value} onChange={(e) => set(x.key, { value: e.target.value })}>
                <option value="">any</option>
                <option value="yes">Yes</option>
                <option value="no">No</option>
              </select>
            ) : f.fieldtype === "Select" || f.fieldtype === "Link" ? (
              <FieldInput
                field={{ ...f, reqd: false, read_only: false }}
                label={`${label} is`}
                value={x.value}
                onChange={(v) => set(x.key, { value: v === null || v === undefined ? "" : String(v) })}
              />
            ) : (
              <input aria-label={`${label} contains`} placeholder="contains…" value={x.value} onChange={(e) => set(x.key, { value: e.target.value })} />
            )}
            <button type="button" className="secondary icon" aria-label={`Remove filter ${n} (${label})`} onClick={() => onChange(filters.filter((y) => y.key !== x.key))}>
              ✕
            </button>
          </div>
        );
      })}
      <button type="button" className="secondary" onClick={add}>
        + Add filter
      </button>
      {filters.length > 1 && (
        <button type="button" className="secondary" onClick={() => onChange([])}>
          Clear filters
        </button>
      )}
    </div>
  );
}
