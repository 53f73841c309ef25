import type { Conflict } from "../bindings/Conflict";

/** Meta fields a person does not compare. */
const HIDDEN = new Set(["owner", "creation", "modified", "modified_by", "idx", "doctype", "_versions"]);

function show(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Both versions of a document that changed on two sites while apart, field by field. */
export function ConflictView({ conflict }: { conflict: Conflict }) {
  const here = conflict.here.doc;
  const incoming = conflict.incoming.doc;
  const fields = Array.from(new Set([...Object.keys(here ?? {}), ...Object.keys(incoming ?? {})])).filter(
    (f) => !HIDDEN.has(f),
  );
  const label = (side: "here" | "incoming") =>
    `${side === "here" ? "Here" : "Incoming"}${conflict.kept === side ? " (kept)" : " (lost)"}`;
  return (
    <div className="table-scroll">
      <table aria-label="Both versions">
        <thead>
          <tr>
            <th>Field</th>
            <th title={conflict.here.version ?? ""}>{label("here")}</th>
            <th title={conflict.incoming.version ?? ""}>{label("incoming")}</th>
          </tr>
        </thead>
        <tbody>
          {here === null || incoming === null ? (
            <tr>
              <td>—</td>
              <td>{here === null ? "deleted" : "edited"}</td>
              <td>{incoming === null ? "deleted" : "edited"}</td>
            </tr>
          ) : null}
          {fields.map((f) => {
            const a = show(here?.[f]);
            const b = show(incoming?.[f]);
            return (
              <tr key={f} data-field={f} className={a !== b ? "differs" : ""}>
                <td>{f}</td>
                <td>{a}</td>
                <td>{b}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
