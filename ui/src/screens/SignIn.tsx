import { useState, type FormEvent } from "react";
import { setToken } from "../api/http";

/** Browser access to a headless site: sign in with an API key and secret. */
export function SignIn({ onSignedIn, message }: { onSignedIn: () => void; message: string }) {
  const [key, setKey] = useState("");
  const [secret, setSecret] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setToken(`${key.trim()}:${secret.trim()}`);
    onSignedIn();
  };
  return (
    <form className="card signin" onSubmit={submit}>
      <h2>Sign in to this Outpost site</h2>
      <p className="muted">{message}</p>
      <label>
        API key
        <input value={key} onChange={(e) => setKey(e.target.value)} autoComplete="username" required />
      </label>
      <label>
        API secret
        <input
          type="password"
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
          autoComplete="current-password"
          required
        />
      </label>
      <button type="submit">Sign in</button>
    </form>
  );
}
