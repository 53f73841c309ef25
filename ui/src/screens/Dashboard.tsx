import { lazy, Suspense, useRef, useState } from "react";
import { api, BackendError } from "../api";
import type { HeldDoc } from "../bindings/HeldDoc";
import type { SyncProgress } from "../bindings/SyncProgress";
import type { SyncSummary } from "../bindings/SyncSummary";
import { KnownSites } from "../components/SiteName";
import { useConsumerStatus, useProducerStatus } from "../components/usePolled";
import { When } from "../components/When";

// The charts (and their library) load when a dashboard first shows them.
const Activity = lazy(() => import("../components/Activity").then((m) => ({ default: m.Activity })));

function fraction(s: SyncSummary | undefined): number | null {
  if (!s || s.target <= s.start) return null;
  return Math.min(1, Math.max(0, (s.cursor - s.start) / (s.target - s.start)));
}

/** One producer's Sync now outcome; `stillFailed`: earlier entries that are still Failed there. */
function resultLine(s: SyncSummary, stillFailed: number): string {
  if (s.error) return `${s.producer}: ${s.online ? "failed" : "offline"} — ${s.error}`;
  const sent = s.pushed > 0 ? `${s.pushed} sent${s.push_failed > 0 ? ` (${s.push_failed} failed there)` : ""}` : "";
  const pending =
    stillFailed > 0 ? `; ${stillFailed} earlier entr${stillFailed === 1 ? "y" : "ies"} still failed (see the Sync Log)` : "";
  if (s.pulled === 0) return `${s.producer}: ${sent ? `${sent}, nothing new received` : pending ? "nothing new received" : "up to date"}${pending}`;
  const skipped = s.skipped > 0 ? `, ${s.skipped} skipped` : "";
  const conflicts =
    s.conflicts > 0 ? `, ${s.conflicts} conflict${s.conflicts === 1 ? "" : "s"} settled (both versions in the Sync Log)` : "";
  return `${s.producer}: ${s.synced} synced, ${s.failed} failed${skipped}${conflicts} (${s.pulled} received)${sent ? `; ${sent}` : ""}${pending}`;
}

/** Documents a producer holds back because the row's condition cannot be
 * evaluated for them (the rest flows): shown on both sides with the reason. */
function Held(props: { owner: string; held: HeldDoc[] }) {
  if (props.held.length === 0) return null;
  return (
    <ul className="held" aria-label={`Held back for ${props.owner}`}>
      {props.held.map((h) => (
        <li key={`${h.ref_doctype}/${h.docname}`}>
          <strong>
            {h.ref_doctype} {h.docname}
          </strong>{" "}
          held back since {h.since.slice(0, 19)}: {h.error}
        </li>
      ))}
    </ul>
  );
}

/** Each producer's and consumer's health, and the big Sync now (SPEC F23).
 * A clerk (`manager` false) sees Sync now and how this site receives; the
 * sites it serves are a manager's business. */
export function Dashboard({ manager }: { manager: boolean }) {
  const [syncError, setError] = useState<string | null>(null);
  const [progress, setProgress] = useState<SyncProgress | null>(null);
  const [result, setResult] = useState<SyncSummary[] | null>(null);
  const [syncing, setSyncing] = useState(false);
  const poll = useRef<number | undefined>(undefined);

  const producerStatus = useProducerStatus();
  const consumerStatus = useConsumerStatus(manager);
  const producers = producerStatus.data;
  const consumers = (manager && consumerStatus.data) || [];
  const error = syncError ?? producerStatus.error ?? (manager ? consumerStatus.error : null);
  const refresh = () => {
    producerStatus.refresh();
    if (manager) consumerStatus.refresh();
  };

  const syncNow = async () => {
    setSyncing(true);
    setResult(null);
    setError(null);
    setProgress({ running: true, done: [] });
    poll.current = window.setInterval(() => {
      api.syncProgress().then(setProgress).catch(() => {});
    }, 250);
    try {
      setResult(await api.syncNow());
    } catch (e) {
      setError((e as BackendError).message);
    } finally {
      window.clearInterval(poll.current);
      setSyncing(false);
      setProgress(null);
      refresh();
    }
  };

  const [keysNote, setKeysNote] = useState<string | null>(null);
  const keysAction = async (act: () => Promise<unknown>, done: string) => {
    setKeysNote(null);
    setError(null);
    try {
      await act();
      setKeysNote(done);
    } catch (e) {
      setError((e as BackendError).message);
    }
  };
  /** New keys from a producer this site reaches: kept here at once. */
  const renewHere = (producer: string, name: string) =>
    keysAction(() => api.renewKeys(producer), `New keys from ${name}, kept here`);
  /** A site that reaches this one (a consumer, a shop pushing here) is asked
   * to renew at its next contact; its old keys work until then. */
  const askRenewal = (siteId: string, name: string) =>
    keysAction(() => api.askKeyRenewal(siteId), `${name} renews its keys the next time it syncs with this site`);

  const current = progress?.current;
  const frac = fraction(current);
  return (
    <div className="stack">
      <section className="card sync-card" aria-label="Sync">
        <div className="toolbar">
          <h2>Sync</h2>
        </div>
        <button type="button" className="big" onClick={() => void syncNow()} disabled={syncing}>
          {syncing ? "Syncing…" : "Sync now"}
        </button>
        {syncing && (
          <div className="progress" aria-live="polite">
            <progress aria-label="Sync progress" max={1} value={frac ?? undefined} />
            <span className="muted">
              {current ? `${producers?.find((p) => p.producer === current.producer)?.producer_name || current.producer}: ${current.synced} synced, ${current.failed} failed` : "Contacting producers…"}
              {frac !== null && ` — ${Math.round(frac * 100)}%`}
            </span>
          </div>
        )}
        {result && (
          <ul className="sync-result" role="status" aria-label="Sync result">
            {result.length === 0 && <li>No Event Producer is set up yet.</li>}
            {result.map((s) => {
              const stillFailed = producers?.find((p) => p.producer === s.producer)?.failed ?? 0;
              const nameOf = (producer: string) => producers?.find((p) => p.producer === producer)?.producer_name || producer;
              return (
                <li key={s.producer} className={s.error || s.failed > 0 || stillFailed > 0 ? "bad" : "good"}>
                  {resultLine({ ...s, producer: nameOf(s.producer) }, stillFailed)}
                </li>
              );
            })}
          </ul>
        )}
      </section>
      {error && (
        <div role="alert" className="error">
          {error}
        </div>
      )}
      {keysNote && (
        <div role="status" className="ok" aria-label="Keys">
          {keysNote}
        </div>
      )}
      <section className="card" aria-label="Producers">
        <h2>Producers (this site receives from)</h2>
        {producers === null ? (
          <p className="muted">Loading…</p>
        ) : producers.length === 0 ? (
          <p className="muted">{manager ? "None yet: set one up under Event Producers." : "This site receives from no other site yet: ask your manager to connect it."}</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Producer</th>
                <th>State</th>
                <th>Registration</th>
                <th>Last sync</th>
                <th>Failed</th>
                <th>Last error</th>
                {manager && <th>Keys</th>}
              </tr>
            </thead>
            <tbody>
              {producers.map((p) => (
                <tr key={p.producer} data-producer={p.producer}>
                  <td title={[p.producer, p.producer_site_id].filter(Boolean).join(" · ")}>{p.producer_name || p.producer}</td>
                  <td>
                    <span className={`chip ${p.online ? "chip-online" : "chip-offline"}`}>{p.online ? "online" : "offline"}</span>
                  </td>
                  <td>
                    {p.registration_status}
                    {p.push_waiting !== undefined && p.push_waiting !== null && (
                      <div className="muted push-waiting">
                        {p.push_waiting} change{p.push_waiting === 1 ? "" : "s"} waiting to be sent · last sent <When stamp={p.last_push} />
                      </div>
                    )}
                  </td>
                  <td className="muted">
                    <When stamp={p.last_sync} />
                  </td>
                  <td className={p.failed > 0 ? "bad" : ""}>{p.failed}</td>
                  <td className="muted">{p.last_error ?? ""}</td>
                  {manager && (
                    <td>
                      <button type="button" className="secondary" onClick={() =>
                          // A shop pushing here (Event Producer push:<its id>) cannot be called: it is asked.
                          void (p.producer.startsWith("push:") && p.producer_site_id
                            ? askRenewal(p.producer_site_id, p.producer_name || p.producer)
                            : renewHere(p.producer, p.producer_name || p.producer))
                        }>
                        Renew keys
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {producers?.map((p) => (
          <Held key={p.producer} owner={p.producer_name || p.producer} held={p.held} />
        ))}
      </section>
      {manager && (
      <section className="card" aria-label="Consumers">
        <h2>Consumers (this site sends to)</h2>
        {consumers.length === 0 ? (
          <p className="muted">No site has subscribed yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Consumer</th>
                <th>State</th>
                <th>Last pull</th>
                <th>Behind</th>
                <th>Approved</th>
                <th>Awaiting approval</th>
                <th>Keys</th>
              </tr>
            </thead>
            <tbody>
              {consumers.map((c) => (
                <tr key={c.consumer} data-consumer={c.consumer}>
                  <td title={c.consumer}>{c.consumer_name || c.consumer}</td>
                  <td>
                    <span className={`chip ${c.online ? "chip-online" : "chip-offline"}`}>{c.online ? "online" : "offline"}</span>
                  </td>
                  <td className="muted">
                    <When stamp={c.last_seen} />
                  </td>
                  <td>{c.behind}</td>
                  <td>{c.approved.join(", ")}</td>
                  <td className={c.pending.length > 0 ? "bad" : ""}>{c.pending.join(", ")}</td>
                  <td>
                    <button type="button" className="secondary" onClick={() => void askRenewal(c.consumer, c.consumer_name || c.consumer)}>
                      Renew keys
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {consumers.map((c) => (
          <Held key={c.consumer} owner={c.consumer_name || c.consumer} held={c.held} />
        ))}
      </section>
      )}
      <KnownSites consumers={manager}>
        <Suspense fallback={<p className="muted">Loading the last 24 hours…</p>}>
          <Activity />
        </Suspense>
      </KnownSites>
    </div>
  );
}
