import { useCallback, useEffect, useState, type ReactNode } from "react";
import { api, backend, BackendError, type Me } from "./api";
import type { SiteInfo } from "./bindings/SiteInfo";
import { Dashboard } from "./screens/Dashboard";
import { DocScreen, Documents } from "./screens/DocScreen";
import { Settings } from "./screens/Settings";
import { SignIn } from "./screens/SignIn";
import { SyncLog } from "./screens/SyncLog";
import { UpdateLog } from "./screens/UpdateLog";
import { Users } from "./screens/Users";

const SCREENS = [
  ["dashboard", "Dashboard"],
  ["documents", "Documents"],
  ["producers", "Event Producers"],
  ["consumers", "Event Consumers"],
  ["mappings", "Document Type Mappings"],
  ["update-log", "Event Update Log"],
  ["sync-log", "Event Sync Log"],
  ["users", "Users & keys"],
  ["settings", "Settings"],
] as const;

type Screen = (typeof SCREENS)[number][0];

/** What a clerk (no System Manager role) works with: no menu entry leads to
 * a screen that would only answer "not permitted". */
const CLERK_SCREENS: readonly Screen[] = ["dashboard", "documents"];

function screenFromHash(): Screen {
  const h = window.location.hash.replace(/^#\/?/, "");
  return (SCREENS.find(([id]) => id === h)?.[0] ?? "dashboard") as Screen;
}

export function App() {
  const [info, setInfo] = useState<SiteInfo | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const user = me?.user ?? null;
  const [error, setError] = useState<BackendError | null>(null);
  const [screen, setScreen] = useState<Screen>(screenFromHash);
  // Choosing a screen again starts it afresh (back to its list).
  const [visit, setVisit] = useState(0);

  const load = useCallback(() => {
    Promise.all([backend.siteInfo(), api.me()])
      .then(([i, m]) => {
        setInfo(i);
        setMe(m);
        setError(null);
      })
      .catch((e: BackendError) => setError(e));
  }, []);
  useEffect(load, [load]);
  useEffect(() => {
    const on = () => setScreen(screenFromHash());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);

  if (error?.excType === "AuthenticationError" && backend.kind === "http") {
    return <SignIn onSignedIn={load} message={error.message} />;
  }

  const manager = me?.system_manager ?? false;
  const allowed = SCREENS.filter(([id]) => manager || CLERK_SCREENS.includes(id));
  const shown: Screen = allowed.some(([id]) => id === screen) ? screen : "dashboard";

  const views: Record<Screen, ReactNode> = {
    dashboard: <Dashboard manager={manager} />,
    documents: <Documents />,
    producers: (
      <DocScreen
        doctype="Event Producer"
        intro="Sites this one receives documents from. Paste the API key and secret generated on the producer; the secret goes to the OS keyring, never to the database."
        extra={[{ key: "api_secret", label: "API Secret", hint: "kept in the keyring — paste a new one to replace it" }]}
      />
    ),
    consumers: <DocScreen doctype="Event Consumer" intro="Sites subscribed to this one. Open one and set each DocType to Approved or Rejected." />,
    mappings: <DocScreen doctype="Document Type Mapping" intro="Store a remote DocType as a local one whose fields differ." />,
    "update-log": <UpdateLog />,
    "sync-log": <SyncLog />,
    users: <Users />,
    settings: info ? <Settings info={info} onChanged={setInfo} /> : <p className="muted">Loading…</p>,
  };

  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Outpost</span>
        <span className="site-name" id="site-name">
          {info?.site_name ?? "…"}
        </span>
        <span className="muted who">
          {backend.kind === "tauri" ? "desktop" : user ?? ""}
        </span>
        {backend.kind === "http" && user && (
          <button type="button" className="secondary" onClick={() => void backend.logout().then(load)}>
            Sign out
          </button>
        )}
      </header>
      <div className="body">
        <nav aria-label="Screens">
          <ul>
            {allowed.map(([id, label]) => (
              <li key={id}>
                <a href={`#/${id}`} aria-current={shown === id ? "page" : undefined} onClick={() => setVisit((v) => v + 1)}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main className="content">
          {error && (
            <div role="alert" className="error">
              {error.message}
            </div>
          )}
          {me === null && !error ? (
            <p className="muted">Loading…</p>
          ) : (
            <div key={`${shown}-${visit}`} className="stack">
              {views[shown]}
            </div>
          )}
        </main>
      </div>
    </div>
  );
}
