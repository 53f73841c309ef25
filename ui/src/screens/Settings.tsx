import { useEffect, useState, type FormEvent } from "react";
import { api, backend, BackendError } from "../api";
import type { SiteInfo } from "../bindings/SiteInfo";
import { Alerts } from "../components/Alerts";


/** Settings (SPEC F23): the site's name, public URL and sync schedule. */
export function Settings(props: { info: SiteInfo; onChanged: (i: SiteInfo) => void }) {
  const [name, setName] = useState(props.info.site_name);
  const [url, setUrl] = useState(props.info.url ?? "");
  const [interval, setIntervalText] = useState(props.info.sync_interval?.toString() ?? "");
  const [keep, setKeep] = useState(props.info.keep_in_background);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    setName(props.info.site_name);
    setUrl(props.info.url ?? "");
    setIntervalText(props.info.sync_interval?.toString() ?? "");
    setKeep(props.info.keep_in_background);
  }, [props.info]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    try {
      await api.configure(name, url);
      const seconds = interval.trim() === "" ? null : Number(interval);
      if (seconds !== null && !Number.isFinite(seconds)) throw new Error("The sync interval must be a number of seconds");
      let info = await api.setSyncInterval(seconds);
      if (backend.kind === "tauri" && keep !== info.keep_in_background) info = await api.setKeepInBackground(keep);
      props.onChanged(info);
      setNotice("Settings saved");
    } catch (e) {
      setError((e as BackendError).message);
    }
  };

  return (
    <form className="card" onSubmit={(e) => void save(e)} aria-label="Settings">
      <h2>Settings</h2>
      <Alerts error={error} notice={notice} />
      <dl className="facts">
        <dt>Site ID</dt>
        <dd id="site-id">
          <code>{props.info.site_id}</code>
        </dd>
        <dt>Version</dt>
        <dd>{props.info.version}</dd>
      </dl>
      <div className="fields">
        <label className="field">
          <span>Site name</span>
          <input aria-label="Site name" value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label className="field">
          <span>Public URL (how other sites reach this one)</span>
          <input aria-label="Public URL" value={url} placeholder="https://hub.example.com" onChange={(e) => setUrl(e.target.value)} />
        </label>
        <label className="field">
          <span>Seconds between scheduled pulls (empty: the start-up value)</span>
          <input aria-label="Sync interval" type="number" min={1} step="any" value={interval} onChange={(e) => setIntervalText(e.target.value)} />
        </label>
        {backend.kind === "tauri" && (
          <label className="field check">
            <input type="checkbox" aria-label="Keep syncing in the background" checked={keep} onChange={(e) => setKeep(e.target.checked)} />
            Keep syncing in the background when the window is closed (tray icon)
          </label>
        )}
      </div>
      <button type="submit">Save settings</button>
    </form>
  );
}
