import { useCallback, useEffect, useState } from "react";
import { api, backend } from "../api";
import type { UpdateLogLine } from "../bindings/UpdateLogLine";
import { Alerts } from "../components/Alerts";
import { usePolled } from "../components/usePolled";
import { When } from "../components/When";


/** Event Update Log (SPEC F10/F23): every change consumers may receive, and who received it. */
export function UpdateLog() {
  const [doctype, setDoctype] = useState("");
  const [open, setOpen] = useState<UpdateLogLine | null>(null);
  const [doctypes, setDoctypes] = useState<string[]>([]);
  useEffect(() => {
    backend
      .listDoctypes()
      .then((all) => setDoctypes(all.filter((d) => !d.istable).map((d) => d.name)))
      .catch(() => setDoctypes([]));
  }, []);
  const load = useCallback(() => api.updateLog(doctype || null), [doctype]);
  const { data: lines, error } = usePolled(load, 4000);

  return (
    <div className="split">
      <section className="card" aria-label="Event Update Log">
        <div className="toolbar">
          <h2>Event Update Log</h2>
          <label>
            DocType{" "}
            <select aria-label="DocType filter" value={doctype} onChange={(e) => setDoctype(e.target.value)}>
              <option value="">All</option>
              {doctypes.map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </label>
        </div>
        <Alerts error={error} />
        {lines === null ? (
          <p className="muted">Loading…</p>
        ) : lines.length === 0 ? (
          <p className="muted">No changes logged {doctype ? `for ${doctype}` : "yet (only subscribed doctypes are logged)"}.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Seq</th>
                <th>Type</th>
                <th>DocType</th>
                <th>Document</th>
                <th>When</th>
                <th>Received by</th>
              </tr>
            </thead>
            <tbody>
              {lines.map((l) => (
                <tr key={l.seq}>
                  <td>
                    <a href={`#update-${l.seq}`} onClick={(e) => { e.preventDefault(); setOpen(l); }}>
                      {l.seq}
                    </a>
                  </td>
                  <td>{l.update_type}</td>
                  <td>{l.ref_doctype}</td>
                  <td>{l.docname}</td>
                  <td className="muted">
                    <When stamp={l.creation} />
                  </td>
                  <td>{l.received_by.length === 0 ? <span className="muted">nobody yet</span> : l.received_by.join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {open && (
        <section className="card detail" aria-label={`Update ${open.seq}`}>
          <div className="toolbar">
            <h2>
              {open.update_type} {open.ref_doctype} {open.docname}
            </h2>
            <button type="button" className="secondary" onClick={() => setOpen(null)}>
              Close
            </button>
          </div>
          <p className="muted">
            Sequence {open.seq}, origin site {open.origin_site}
          </p>
          <pre className="json">{JSON.stringify(open.data, null, 2)}</pre>
        </section>
      )}
    </div>
  );
}
