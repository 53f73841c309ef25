import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router";
import { api, backend } from "../api";
import type { UpdateLogLine } from "../bindings/UpdateLogLine";
import { Alerts } from "../components/Alerts";
import { LogPager, useLogPages } from "../components/LogPages";
import { KnownSites, SiteName } from "../components/SiteName";
import { usePolled } from "../components/usePolled";
import { When } from "../components/When";

/** Entries a page. */
const PAGE = 100;

/** A link to the document an entry is about, unless it was deleted. */
function DocLink({ line }: { line: UpdateLogLine }) {
  if (line.update_type === "Delete") return <>{line.docname}</>;
  return <Link to={`/documents/${encodeURIComponent(line.ref_doctype)}/${encodeURIComponent(line.docname)}`}>{line.docname}</Link>;
}

/** Event Update Log (SPEC F10/F23): every change consumers may receive, and who received it. */
export function UpdateLog() {
  return (
    <KnownSites consumers>
      <UpdateLogScreen />
    </KnownSites>
  );
}

function UpdateLogScreen() {
  const [doctype, setDoctype] = useState("");
  const [open, setOpen] = useState<UpdateLogLine | null>(null);
  const [doctypes, setDoctypes] = useState<string[]>([]);
  useEffect(() => {
    backend
      .listDoctypes()
      .then((all) => setDoctypes(all.filter((d) => !d.istable).map((d) => d.name)))
      .catch(() => setDoctypes([]));
  }, []);
  const pages = useLogPages(PAGE, doctype);
  const before = pages.before;
  const load = useCallback(async () => {
    const [lines, total] = await Promise.all([
      api.updateLog(doctype || null, PAGE, before),
      api.updateLogCount(doctype || null),
    ]);
    return { lines, total };
  }, [doctype, before]);
  const { data, error } = usePolled(["update-log", doctype, before], load, 4000);
  const lines = data?.lines ?? null;
  const total = data?.total ?? 0;

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
          <>
            <div className="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th>Seq</th>
                    <th>Type</th>
                    <th>DocType</th>
                    <th>Document</th>
                    <th>Made on</th>
                    <th>When</th>
                    <th>Received by</th>
                  </tr>
                </thead>
                <tbody>
                  {lines.map((l) => (
                    <tr key={l.seq} className={open?.seq === l.seq ? "selected" : ""}>
                      <td>
                        <a href={`#update-${l.seq}`} onClick={(e) => { e.preventDefault(); setOpen(l); }}>
                          {l.seq}
                        </a>
                      </td>
                      <td>{l.update_type}</td>
                      <td>{l.ref_doctype}</td>
                      <td>
                        <DocLink line={l} />
                      </td>
                      <td className="muted">
                        <SiteName site={l.origin_site} />
                      </td>
                      <td className="muted">
                        <When stamp={l.creation} />
                      </td>
                      <td>
                        {l.received_by.length === 0 ? (
                          <span className="muted">nobody yet</span>
                        ) : (
                          l.received_by.map((c, i) => (
                            <span key={c}>
                              {i > 0 && ", "}
                              <SiteName site={c} />
                            </span>
                          ))
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <LogPager pages={pages} shown={lines.length} total={total} last={lines[lines.length - 1].seq} />
          </>
        )}
      </section>
      {open && (
        <section className="card detail" aria-label={`Update ${open.seq}`}>
          <div className="toolbar">
            <h2>
              {open.update_type} {open.ref_doctype} <DocLink line={open} />
            </h2>
            <button type="button" className="secondary" onClick={() => setOpen(null)}>
              Close
            </button>
          </div>
          <p className="muted">
            Sequence {open.seq}, made on <SiteName site={open.origin_site} />
          </p>
          <pre className="json">{JSON.stringify(open.data, null, 2)}</pre>
        </section>
      )}
    </div>
  );
}
