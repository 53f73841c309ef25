import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, backend, BackendError, type Doc, type GeneratedKeys } from "../api";
import { Alerts } from "../components/Alerts";
import { useConfirm } from "../components/Confirm";


/** Users & keys (SPEC F23): who may use this site, their API keys (the secret shown once) and passwords. */
export function Users() {
  const [users, setUsers] = useState<Doc[] | null>(null);
  const [keys, setKeys] = useState<Record<string, string | null>>({});
  const [shown, setShown] = useState<GeneratedKeys | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [email, setEmail] = useState("");
  const [fullName, setFullName] = useState("");
  const [role, setRole] = useState("System Manager");
  const [pwFor, setPwFor] = useState<string | null>(null);
  const [password, setPassword] = useState("");
  const [ask, dialog] = useConfirm();

  const refresh = useCallback(async () => {
    try {
      const list = await backend.listDocuments("User", { fields: ["name", "full_name", "enabled"], order_by: "name asc", limit_page_length: 500 });
      setUsers(list);
      const entries = await Promise.all(list.map(async (u) => [u.name, await api.apiKeyOf(u.name)] as const));
      setKeys(Object.fromEntries(entries));
    } catch (e) {
      setError((e as BackendError).message);
    }
  }, []);
  useEffect(() => void refresh(), [refresh]);

  const run = async (op: () => Promise<void>) => {
    setError(null);
    setNotice(null);
    try {
      await op();
    } catch (e) {
      setError((e as BackendError).message);
    }
  };

  const addUser = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await backend.insertDocument("User", {
        email: email.trim(),
        full_name: fullName.trim() || null,
        roles: role ? [{ role }] : [],
      });
      setEmail("");
      setFullName("");
      setNotice(`User ${email.trim()} added`);
      await refresh();
    });
  };

  const setPw = (e: FormEvent) => {
    e.preventDefault();
    if (!pwFor) return;
    void run(async () => {
      await api.setPassword(pwFor, password);
      setNotice(`Password set for ${pwFor}`);
      setPwFor(null);
      setPassword("");
    });
  };


  /** New keys; where the user has keys already, after saying what stops working. */
  const generate = async (user: string) => {
    const replacing = Boolean(keys[user]);
    if (
      replacing &&
      !(await ask({
        title: `Generate new keys for ${user}?`,
        body: "The current key and secret stop working at once: every site (Event Producer set-up) and script that uses them must be given the new ones.",
        action: "Generate new keys",
        danger: true,
      }))
    ) {
      return;
    }
    await run(async () => {
      setShown(await api.generateKeys(user));
      await refresh();
    });
  };
  return (
    <div className="stack">
      {dialog}
      <Alerts error={error} notice={notice} />
      {shown && (
        <section className="card keys-card" aria-label="New API keys">
          <h2>Keys for {shown.user}</h2>
          <p>Copy the secret now: it is shown only once and is never stored here in a readable form.</p>
          <dl className="facts">
            <dt>API key</dt>
            <dd>
              <code id="new-api-key">{shown.api_key}</code>
            </dd>
            <dt>API secret</dt>
            <dd>
              <code id="new-api-secret">{shown.api_secret}</code>
            </dd>
          </dl>
          <button type="button" className="secondary" onClick={() => setShown(null)}>
            I have copied them
          </button>
        </section>
      )}
      <section className="card" aria-label="Users">
        <h2>Users &amp; keys</h2>
        {users === null ? (
          <p className="muted">Loading…</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>User</th>
                <th>Name</th>
                <th>API key</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.name} data-user={u.name}>
                  <td>{u.name}</td>
                  <td>{String(u.full_name ?? "")}</td>
                  <td>{keys[u.name] ? <code>{keys[u.name]}</code> : <span className="muted">none</span>}</td>
                  <td className="row-actions">
                    <button type="button" aria-label={`Generate keys for ${u.name}`} onClick={() => void generate(u.name)}>
                      Generate keys
                    </button>
                    <button type="button" className="secondary" aria-label={`Set password for ${u.name}`} onClick={() => setPwFor(u.name)}>
                      Set password
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {pwFor && (
        <form className="card" onSubmit={setPw} aria-label="Set password">
          <h2>Password for {pwFor}</h2>
          <label className="field">
            <span>New password (8 characters or more)</span>
            <input type="password" aria-label="New password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
          </label>
          <div className="actions">
            <button type="submit">Set password</button>
            <button type="button" className="secondary" onClick={() => setPwFor(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <form className="card" onSubmit={addUser} aria-label="Add a user">
        <h2>Add a user</h2>
        <div className="fields">
          <label className="field">
            <span>Email</span>
            <input aria-label="New user email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
          </label>
          <label className="field">
            <span>Full name</span>
            <input aria-label="New user full name" value={fullName} onChange={(e) => setFullName(e.target.value)} />
          </label>
          <label className="field">
            <span>Role</span>
            <select aria-label="New user role" value={role} onChange={(e) => setRole(e.target.value)}>
              <option value="System Manager">System Manager</option>
              <option value="Event Subscriber">Event Subscriber — the key another site subscribes with</option>
              <option value="Sales User">Sales User</option>
              <option value="Stock User">Stock User</option>
              <option value="">No role</option>
            </select>
          </label>
        </div>
        <button type="submit">Add user</button>
      </form>
    </div>
  );
}
