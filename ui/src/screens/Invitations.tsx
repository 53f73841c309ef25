import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, backend, BackendError } from "../api";
import type { Invitation } from "../bindings/Invitation";
import { Alerts } from "../components/Alerts";
import { usePolled } from "../components/usePolled";
import { When } from "../components/When";

/** Doctypes a shop usually sends and receives; any other can be ticked. */
const USUAL_PUSH = ["Sales Invoice", "Customer"];
const USUAL_PULL = ["Item", "Customer"];

/**
 * Invite a shop (hub side): which doctypes flow each way, how long the
 * link lasts, whether they flow before anyone approves. The link is shown
 * once, to be pasted in the shop's wizard or Settings.
 */
export function Invitations() {
  const [doctypes, setDoctypes] = useState<string[]>([]);
  const [label, setLabel] = useState("");
  const [push, setPush] = useState<string[]>(USUAL_PUSH);
  const [pull, setPull] = useState<string[]>(USUAL_PULL);
  const [hours, setHours] = useState("48");
  const [preApproved, setPreApproved] = useState(false);
  const [made, setMade] = useState<Invitation | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    backend
      .listDoctypes()
      .then((all) => setDoctypes(all.filter((d) => !d.istable && !d.security).map((d) => d.name)))
      .catch((e: BackendError) => setError(e.message));
  }, []);
  const load = useCallback(() => api.invitations(), []);
  const { data: invitations, refresh } = usePolled(["invitations"], load, 10000);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setMade(null);
    try {
      setMade(
        await api.createInvitation({
          label,
          push_doctypes: push,
          pull_doctypes: pull.map((d) => ({ ref_doctype: d })),
          expires_in_hours: Number(hours),
          pre_approved: preApproved,
        }),
      );
      refresh();
    } catch (e) {
      setError((e as BackendError).message);
    }
  };

  return (
    <div className="stack">
      <form className="card" onSubmit={(e) => void create(e)} aria-label="Invite a shop">
        <h2>Invite a shop</h2>
        <p className="intro muted">
          One link sets a shop up: pasted into the shop's first-run wizard (or its Settings), it makes the shop's user and keys here and
          sets up what flows each way. It works once and expires.
        </p>
        <Alerts error={error} />
        <div className="fields">
          <label className="field">
            <span>Shop</span>
            <input aria-label="Shop name" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="Shop 12 Recife" required />
          </label>
          <label className="field">
            <span>Link valid for (hours)</span>
            <input aria-label="Valid for hours" type="number" min={1} max={720} value={hours} onChange={(e) => setHours(e.target.value)} />
          </label>
        </div>
        <div className="split">
          <DoctypeChecks label="The shop sends here" doctypes={doctypes} chosen={push} onChange={setPush} />
          <DoctypeChecks label="The shop receives from here" doctypes={doctypes} chosen={pull} onChange={setPull} />
        </div>
        <label className="field check">
          <input type="checkbox" aria-label="Approved in advance" checked={preApproved} onChange={(e) => setPreApproved(e.target.checked)} />
          Approved in advance (documents flow as soon as the shop joins; otherwise approve them under Event Consumers and Event Producers)
        </label>
        <button type="submit">Make the invitation</button>
        {made?.link && (
          <div className="ok" role="status" aria-label="Invitation link">
            <p>
              Give this link to {made.label} (it is shown only now; it works once, until <When stamp={made.expires} />):
            </p>
            <code className="link" id="invitation-link">
              {made.link}
            </code>{" "}
            <button type="button" className="secondary" onClick={() => void navigator.clipboard?.writeText(made.link ?? "")}>
              Copy
            </button>
          </div>
        )}
      </form>
      <section className="card" aria-label="Invitations">
        <h2>Invitations</h2>
        {!invitations || invitations.length === 0 ? (
          <p className="muted">None yet.</p>
        ) : (
          <div className="table-scroll">
            <table>
              <thead>
                <tr>
                  <th>Shop</th>
                  <th>Sends</th>
                  <th>Receives</th>
                  <th>Made</th>
                  <th>State</th>
                </tr>
              </thead>
              <tbody>
                {invitations.map((i) => (
                  <tr key={i.id}>
                    <td>{i.label}</td>
                    <td>{i.push_doctypes.join(", ")}</td>
                    <td>{i.pull_doctypes.map((r) => r.ref_doctype).join(", ")}</td>
                    <td className="muted">
                      <When stamp={i.creation} />
                    </td>
                    <td>
                      {i.redeemed_at ? (
                        <span className="chip chip-approved">Joined: {i.redeemed_by_name || i.redeemed_by}</span>
                      ) : i.expires < new Date().toISOString() ? (
                        <span className="chip chip-rejected">Expired</span>
                      ) : (
                        <span className="chip chip-pending">
                          Waiting, expires <When stamp={i.expires} />
                        </span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}

/** A check box per doctype: which of them flow one way. */
function DoctypeChecks(props: { label: string; doctypes: string[]; chosen: string[]; onChange: (l: string[]) => void }) {
  const { chosen, onChange } = props;
  return (
    <fieldset className="role-picker" aria-label={props.label}>
      <legend>{props.label}</legend>
      {props.doctypes.map((d) => (
        <label key={d} className="check">
          <input type="checkbox" checked={chosen.includes(d)} onChange={(e) => onChange(e.target.checked ? [...chosen, d] : chosen.filter((x) => x !== d))} /> {d}
        </label>
      ))}
    </fieldset>
  );
}

/** Join a hub with the link it gave (shop side): everything else is set up from it. */
export function JoinHub(props: { onJoined?: () => void }) {
  const [link, setLink] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const join = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const ep = await api.redeemInvitation(link);
      setNotice(`Joined ${String(ep.producer_name || ep.producer_url)}: the first sync runs now`);
      setLink("");
      await api.syncNow().catch(() => undefined);
      props.onJoined?.();
    } catch (e) {
      setError((e as BackendError).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={(e) => void join(e)} aria-label="Join a hub">
      <h2>Join a hub</h2>
      <p className="intro muted">Paste the invitation link the hub's manager gave you.</p>
      <Alerts error={error} notice={notice} />
      <label className="field">
        <span>Invitation link</span>
        <input aria-label="Invitation link" value={link} onChange={(e) => setLink(e.target.value)} placeholder="https://hub.example.com/join#…" required />
      </label>
      <button type="submit" disabled={busy}>
        {busy ? "Joining…" : "Join"}
      </button>
    </form>
  );
}
