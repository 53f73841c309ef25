import { useCallback, useEffect, useState } from "react";
import { backend, BackendError } from "./api";
import type { SiteInfo } from "./bindings/SiteInfo";
import { Documents } from "./screens/Documents";
import { SignIn } from "./screens/SignIn";
import { SitePanel } from "./screens/SitePanel";

export function App() {
  const [info, setInfo] = useState<SiteInfo | null>(null);
  const [error, setError] = useState<BackendError | null>(null);

  const load = useCallback(() => {
    backend
      .siteInfo()
      .then((i) => {
        setInfo(i);
        setError(null);
      })
      .catch((e: BackendError) => setError(e));
  }, []);
  useEffect(load, [load]);

  if (error?.excType === "AuthenticationError" && backend.kind === "http") {
    return <SignIn onSignedIn={load} message={error.message} />;
  }
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Outpost</span>
        <span className="site-name" id="site-name">
          {info?.site_name ?? "…"}
        </span>
        <span className="muted">{backend.kind === "tauri" ? "desktop" : "browser"}</span>
      </header>
      {error && (
        <div role="alert" className="error">
          {error.message}
        </div>
      )}
      <main className="content">
        {info && <SitePanel info={info} />}
        <Documents />
      </main>
    </div>
  );
}
