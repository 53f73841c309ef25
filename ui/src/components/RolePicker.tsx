import { useEffect, useState } from "react";
import { backend, BackendError } from "../api";

/**
 * A user's roles as check boxes, one per Role of the site (Desk's role
 * picker), instead of a table of rows to type role names into. Rows of
 * roles the site does not list (disabled ones) are kept.
 */
export function RolePicker(props: {
  rows: Record<string, unknown>[];
  readOnly: boolean;
  onChange: (rows: Record<string, unknown>[]) => void;
}) {
  const { rows, readOnly, onChange } = props;
  const [roles, setRoles] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    backend
      .listDocuments("Role", { fields: ["name"], filters: [["disabled", "!=", 1]], order_by: "name asc", limit_page_length: 1000 })
      .then((docs) => setRoles(docs.map((d) => d.name)))
      .catch((e: BackendError) => setError(e.message));
  }, []);
  const held = new Set(rows.map((r) => String(r.role ?? "")));
  const toggle = (role: string, on: boolean) =>
    onChange(on ? [...rows, { role }] : rows.filter((r) => r.role !== role));
  if (error) return <p className="muted">Roles cannot be listed: {error}</p>;
  if (roles === null) return <p className="muted">Loading roles…</p>;
  return (
    <fieldset className="role-picker" aria-label="Roles">
      {[...new Set([...roles, ...held])].filter(Boolean).map((role) => (
        <label key={role} className="check">
          <input type="checkbox" checked={held.has(role)} disabled={readOnly} onChange={(e) => toggle(role, e.target.checked)} /> {role}
        </label>
      ))}
    </fieldset>
  );
}
