import { useCallback, useEffect, useState } from "react";
import { api, backend, BackendError } from "../api";
import type { SyncLogEntry } from "../bindings/SyncLogEntry";
import { Alerts } from "../components/Alerts";
import { useConfirm } from "../components/Confirm";
import { ConflictView } from "../components/ConflictView";
import { LogPager, useLogPages } from "../components/LogPages";
import { KnownSites, SiteName } from "../components/SiteName";
import { usePolled } from "../components/usePolled";
import { When } from "../components/When";
import { Link } from "react-router";


/** Lines a page. */
const PAGE = 100;

/** Event Sync Log (SPEC F13/F23): every received update, Failed ones with their error and Resync. */
export function SyncLog() {
  return (
    <KnownSites consumers>
      <SyncLogScreen />
    </KnownSites>
  );
}

function SyncLogScreen() {
  const [status, setStatus] = useState<string>("");
  const [open, setOpen] = useState<SyncLogEntry | null>(null);
  const [actionError, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [ask, dialog] = useConfirm();
  const pages = useLogPages(PAGE, status);
  const before = pages.before;
  const load = useCallback(
    async () => {
      const [lines, total] = await Promise.all([api.syncLog(status || null, PAGE, before), api.syncLogCount(status || null)]);
      return { lines, total };
    },
    [status, before],
  );
  const { data, error: loadError, refresh } = usePolled(["sync-log", status, before], load, 4000);
  const lines = data?.lines ?? null;
  const total = data?.total ?? 0;
  const error = actionError ?? loadError;

  const resync = async (entry: SyncLogEntry) => {
    setBusy(true);
    try {
      const after = await api.resync(entry.id);
      setOpen(after);
      setError(after.status === "Failed" ? `Still failing: ${after.error ?? ""}` : null);
      refresh();
    } catch (e) {
      setError((e as BackendError).message);
    } finally {
      setBusy(false);
    }
  };

  const reapply = async (entry: SyncLogEntry) => {
    const lost = entry.conflict?.kept === "here" ? "incoming version" : "version that was here";
    const yes = await ask({
      title: `Re-apply the ${lost} of ${entry.ref_doctype} ${entry.docname ?? entry.remote_docname}?`,
      body: "It replaces the document here as a new change, and every site it syncs with takes it.",
      action: "Re-apply",
    });
    if (!yes) return;
    setBusy(true);
    try {
      setOpen(await api.reapplyConflict(entry.id));
      setError(null);
      refresh();
    } catch (e) {
      setError((e as BackendError).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="split">
      {dialog}
      <section className="card" aria-label="Event Sync Log">
        <div className="toolbar">
          <h2>Event Sync Log</h2>
          <label>
            Status{" "}
            <select aria-label="Status filter" value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">All</option>
              <option value="Synced">Synced</option>
              <option value="Failed">Failed</option>
              <option value="Conflict">Conflict</option>
              <option value="Skipped">Skipped</option>
            </select>
          </label>
        </div>
        <Alerts error={error} />
        {lines === null ? (
          <p className="muted">Loading…</p>
        ) : lines.length === 0 ? (
          <p className="muted">Nothing received yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>#</th>
                <th>Status</th>
                <th>Type</th>
                <th>DocType</th>
                <th>Document</th>
                <th>Producer</th>
                <th>When</th>
              </tr>
            </thead>
            <tbody>
              {lines.map((l) => (
                <tr key={l.id} data-status={l.status} className={open?.id === l.id ? "selected" : ""}>
                  <td>
                    <a href={`#sync-${l.id}`} onClick={(e) => { e.preventDefault(); setOpen(l); }}>
                      {l.id}
                    </a>
                  </td>
                  <td>
                    <span className={`chip chip-${l.status.toLowerCase()}`}>{l.status}</span>
                  </td>
                  <td>{l.update_type}</td>
                  <td>{l.ref_doctype}</td>
                  <td>
                    {l.docname && l.status !== "Failed" && l.update_type !== "Delete" ? (
                      <Link to={`/documents/${encodeURIComponent(l.ref_doctype)}/${encodeURIComponent(l.docname)}`}>{l.docname}</Link>
                    ) : (
                      (l.docname ?? l.remote_docname)
                    )}
                  </td>
                  <td className="muted">
                    <SiteName site={l.event_producer} />
                  </td>
                  <td className="muted">
                    <When stamp={l.modified} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {lines !== null && lines.length > 0 && (
          <LogPager pages={pages} shown={lines.length} total={total} last={lines[lines.length - 1].id} />
        )}
      </section>
      {open && (
        <section className="card detail" aria-label={`Sync log ${open.id}`}>
          <div className="toolbar">
            <h2>Sync log {open.id}</h2>
            <button type="button" className="secondary" onClick={() => setOpen(null)}>
              Close
            </button>
          </div>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <span className={`chip chip-${open.status.toLowerCase()}`}>{open.status}</span>
            </dd>
            <dt>Update</dt>
            <dd>
              {open.update_type} of {open.ref_doctype}{" "}
              {open.docname && open.status !== "Failed" && open.update_type !== "Delete" ? (
                <Link to={`/documents/${encodeURIComponent(open.ref_doctype)}/${encodeURIComponent(open.docname)}`}>{open.docname}</Link>
              ) : (
                open.docname ?? ""
              )}
            </dd>
            <dt>Producer's name</dt>
            <dd>{open.remote_docname}</dd>
            <dt>Producer</dt>
            <dd>
              <SiteName site={open.event_producer} />
            </dd>
            <dt>Made on site</dt>
            <dd>
              <SiteName site={open.origin_site} />
            </dd>
            {open.mapping && (
              <>
                <dt>Mapping</dt>
                <dd>{open.mapping}</dd>
              </>
            )}
            <dt>Attempts</dt>
            <dd>{open.attempts}</dd>
          </dl>
          {open.error && (
            // A Failed line's error; on a Synced or Skipped line, a note on what was done.
            <div className={open.status === "Failed" ? "error" : "note"} aria-label={open.status === "Failed" ? "Sync error" : "Sync note"}>
              {open.error}
            </div>
          )}
          {open.status === "Failed" && (
            <button type="button" disabled={busy} onClick={() => void resync(open)}>
              Resync
            </button>
          )}
          {open.conflict && (
            <>
              <h3>Both versions</h3>
              <ConflictView conflict={open.conflict} />
              {open.conflict.reapplied ? (
                <p className="note">
                  Re-applied by {open.conflict.reapplied.by} at {open.conflict.reapplied.at.slice(0, 19)}
                </p>
              ) : (
                <button type="button" disabled={busy} onClick={() => void reapply(open)}>
                  Re-apply the version that lost
                </button>
              )}
            </>
          )}
          <h3>Data</h3>
          {open.data === null && open.update_type === "Create" && open.docname ? (
            <Received doctype={open.ref_doctype} name={open.docname} />
          ) : (
            <pre className="json">{JSON.stringify(open.data, null, 2)}</pre>
          )}
        </section>
      )}
    </div>
  );
}

/** A document created as it came: the line points at it (no second copy is kept). */
function Received({ doctype, name }: { doctype: string; name: string }) {
  const [doc, setDoc] = useState<unknown>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setDoc(null);
    setError(null);
    backend
      .getDocument(doctype, name)
      .then((d) => live && setDoc(d))
      .catch((e: BackendError) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [doctype, name]);
  return (
    <>
      <p className="muted">
        Created here as received; the document as it is now ({doctype} {name}):
      </p>
      {error ? <p className="muted">{error}</p> : <pre className="json">{doc ? JSON.stringify(doc, null, 2) : "Loading…"}</pre>}
    </>
  );
}
