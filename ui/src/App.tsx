import { useCallback, useEffect, useState, type ReactNode } from "react";
import { Navigate, NavLink, Route, Routes, useLocation } from "react-router";
import { api, backend, BackendError, type Me } from "./api";
import type { SiteInfo } from "./bindings/SiteInfo";
import { Dashboard } from "./screens/Dashboard";
import { DocTypes } from "./screens/DocTypes";
import { DocScreen, Documents } from "./screens/DocScreen";
import { Settings } from "./screens/Settings";
import { SignIn } from "./screens/SignIn";
import { SyncLog } from "./screens/SyncLog";
import { UpdateLog } from "./screens/UpdateLog";
import { Users } from "./screens/Users";
import { Invitations, JoinHub } from "./screens/Invitations";
import { Wizard } from "./screens/Wizard";

const SCREENS = [
  ["dashboard", "Dashboard"],
  ["documents", "Documents"],
  ["producers", "Event Producers"],
  ["consumers", "Event Consumers"],
  ["mappings", "Document Type Mappings"],
  ["doctypes", "DocTypes"],
  ["update-log", "Event Update Log"],
  ["sync-log", "Event Sync Log"],
  ["users", "Users & keys"],
  ["invitations", "Invite a shop"],
  ["settings", "Settings"],
] as const;

type Screen = (typeof SCREENS)[number][0];

/** What a clerk (no System Manager role) works with: no menu entry leads to
 * a screen that would only answer "not permitted". */
const CLERK_SCREENS: readonly Screen[] = ["dashboard", "documents"];

/** The screen a path belongs to (its first segment). */
function screenOf(pathname: string): Screen | undefined {
  const first = pathname.split("/")[1] ?? "";
  return SCREENS.find(([id]) => id === first)?.[0];
}

export function App() {
  const [info, setInfo] = useState<SiteInfo | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const user = me?.user ?? null;
  const [error, setError] = useState<BackendError | null>(null);
  const location = useLocation();
  const screen = screenOf(location.pathname);
  // On a narrow screen the menu folds away behind a button; choosing a
  // screen folds it again.
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [location.pathname]);

  // The window's first run (a site with no name yet): the wizard, until it is done.
  const [wizard, setWizard] = useState(false);
  useEffect(() => {
    if (backend.kind === "tauri" && info && !info.named) setWizard(true);
  }, [info]);

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
  // A screen's title; the document screens set their own (deeper paths).
  const label = SCREENS.find(([id]) => id === screen)?.[1];
  const top = location.pathname.split("/").filter(Boolean).length <= 1;
  useEffect(() => {
    if (label && top) document.title = `${label} · Outpost`;
  }, [label, top]);

  if (error?.excType === "AuthenticationError" && backend.kind === "http") {
    return <SignIn onSignedIn={load} message={error.message} />;
  }

  const manager = me?.system_manager ?? false;
  const allowed = SCREENS.filter(([id]) => manager || CLERK_SCREENS.includes(id));
  const permitted = (id: Screen) => allowed.some(([a]) => a === id);

  const views: Record<Screen, ReactNode> = {
    dashboard: <Dashboard manager={manager} />,
    documents: <Documents />,
    producers: (
      <DocScreen
        base="/producers"
        doctype="Event Producer"
        intro="Sites this one receives documents from. Paste the API key and secret generated on the producer; the secret goes to the OS keyring, never to the database."
        extra={[{ key: "api_secret", label: "API Secret", hint: "kept in the keyring — paste a new one to replace it" }]}
      />
    ),
    consumers: <DocScreen base="/consumers" doctype="Event Consumer" intro="Sites subscribed to this one. Open one and set each DocType to Approved or Rejected." />,
    mappings: <DocScreen base="/mappings" doctype="Document Type Mapping" intro="Store a remote DocType as a local one whose fields differ." />,
    doctypes: <DocTypes />,
    "update-log": <UpdateLog />,
    "sync-log": <SyncLog />,
    users: <Users />,
    invitations: <Invitations />,
    settings: info ? (
      <div className="stack">
        <Settings info={info} onChanged={setInfo} />
        <JoinHub />
      </div>
    ) : (
      <p className="muted">Loading…</p>
    ),
  };

  if (wizard && info) {
    return (
      <Wizard
        info={info}
        onDone={(i) => {
          setInfo(i);
          setWizard(false);
          load();
        }}
      />
    );
  }

  return (
    <div className="app">
      <header className="topbar">
        <button
          type="button"
          className="menu-toggle secondary"
          aria-expanded={menuOpen}
          aria-controls="screens-nav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          Menu
        </button>
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
        <nav id="screens-nav" aria-label="Screens" className={menuOpen ? "open" : undefined}>
          <ul>
            {allowed.map(([id, label]) => (
              <li key={id}>
                <NavLink to={`/${id}`} end={false}>
                  {label}
                </NavLink>
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
            <div className="stack">
              <Routes>
                {SCREENS.filter(([id]) => permitted(id)).map(([id]) => (
                  <Route key={id} path={`/${id}/*`} element={views[id]} />
                ))}
                {/* Anything else (or a screen this user may not use): the Dashboard. */}
                <Route path="*" element={<Navigate to="/dashboard" replace />} />
              </Routes>
            </div>
          )}
        </main>
      </div>
    </div>
  );
}
