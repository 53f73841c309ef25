import { useState, type FormEvent } from "react";
import { backend, BackendError } from "../api";

/** Browser access to a headless site: sign in with email and password. */
export function SignIn({ onSignedIn, message }: { onSignedIn: () => void; message: string }) {
  const [usr, setUsr] = useState("");
  const [pwd, setPwd] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await backend.login(usr.trim(), pwd);
      onSignedIn();
    } catch (err) {
      setError((err as BackendError).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card signin" onSubmit={(e) => void submit(e)} aria-label="Sign in">
      <h2>Sign in to this Outpost site</h2>
      <p className="muted">{message}</p>
      {error && (
        <div role="alert" className="error">
          {error}
        </div>
      )}
      <label>
        Email
        <input value={usr} onChange={(e) => setUsr(e.target.value)} autoComplete="username" required />
      </label>
      <label>
        Password
        <input type="password" value={pwd} onChange={(e) => setPwd(e.target.value)} autoComplete="current-password" required />
      </label>
      <button type="submit" disabled={busy}>
        Sign in
      </button>
    </form>
  );
}
