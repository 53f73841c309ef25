import { useState, type FormEvent } from "react";
import { api, backend, BackendError } from "../api";
import type { SiteInfo } from "../bindings/SiteInfo";
import { Alerts } from "../components/Alerts";

type Role = "shop" | "hub";

/**
 * The window's first run: the site's name, its administrator (to sign in
 * from a browser), and whether it joins a hub (one pasted link) or is one.
 * Nothing else needs a terminal. It stays until everything it asked for is
 * done; a refused link is said here and can be pasted again.
 */
export function Wizard(props: { info: SiteInfo; onDone: (info: SiteInfo) => void }) {
  const [step, setStep] = useState(1);
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [role, setRole] = useState<Role>("shop");
  const [link, setLink] = useState("");
  const [url, setUrl] = useState(props.info.url ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const next = (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (step === 2 && password !== again) {
      setError("The two passwords differ: type the same one twice");
      return;
    }
    if (step === 2 && password.length < 8) {
      setError("Choose a password of at least 8 characters");
      return;
    }
    setStep(step + 1);
  };

  const finish = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const exists = await backend.getDocument("User", email).then(
        () => true,
        (err: BackendError) => (err.excType === "DoesNotExistError" ? false : Promise.reject(err)),
      );
      if (!exists) {
        await backend.insertDocument("User", { email, first_name: "Administrator", enabled: 1, roles: [{ role: "System Manager" }] });
      }
      await api.setPassword(email, password);
      // The name first: the hub shows it when the shop joins.
      let info = await api.configure(name, role === "hub" ? url : props.info.url ?? "");
      if (role === "shop") {
        await api.redeemInvitation(link);
        await api.syncNow().catch(() => undefined);
        info = await backend.siteInfo();
      }
      props.onDone(info);
    } catch (err) {
      setError((err as BackendError).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="wizard">
      <form className="card" aria-label="Set up Outpost" onSubmit={(e) => void (step === 3 ? finish(e) : next(e))}>
        <h2>Welcome to Outpost</h2>
        <p className="muted">Step {step} of 3</p>
        <Alerts error={error} />
        {step === 1 && (
          <label className="field">
            <span>What is this site called? (other sites see this name)</span>
            <input aria-label="Site name" value={name} onChange={(e) => setName(e.target.value)} placeholder="Shop 12 Recife" required autoFocus />
          </label>
        )}
        {step === 2 && (
          <>
            <p>
              The administrator signs in from a browser on another computer: open this site's address (the computer's name and the port
              Outpost listens on, e.g. <code>http://shop-laptop:8000</code>) and sign in with this email and password.
            </p>
            <label className="field">
              <span>Administrator's email</span>
              <input aria-label="Administrator email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus />
            </label>
            <label className="field">
              <span>Password (8 characters at least)</span>
              <input aria-label="Password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} required />
            </label>
            <label className="field">
              <span>The same password again</span>
              <input aria-label="Password again" type="password" value={again} onChange={(e) => setAgain(e.target.value)} required />
            </label>
          </>
        )}
        {step === 3 && (
          <>
            <fieldset className="choice" aria-label="This site">
              <label className="check">
                <input type="radio" name="role" checked={role === "shop"} onChange={() => setRole("shop")} /> Connect to a hub
              </label>
              <label className="check">
                <input type="radio" name="role" checked={role === "hub"} onChange={() => setRole("hub")} /> This is a hub
              </label>
            </fieldset>
            {role === "shop" ? (
              <label className="field">
                <span>The invitation link the hub's manager gave you</span>
                <input aria-label="Invitation link" value={link} onChange={(e) => setLink(e.target.value)} placeholder="https://hub.example.com/join#…" required autoFocus />
              </label>
            ) : (
              <label className="field">
                <span>The address shops reach this hub at (it goes into the invitations you make)</span>
                <input aria-label="Hub address" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://hub.example.com" required autoFocus />
              </label>
            )}
          </>
        )}
        <div className="actions">
          {step > 1 && (
            <button type="button" className="secondary" onClick={() => setStep(step - 1)} disabled={busy}>
              Back
            </button>
          )}
          <button type="submit" disabled={busy}>
            {step < 3 ? "Next" : busy ? "Setting up…" : "Finish"}
          </button>
        </div>
      </form>
    </div>
  );
}
