import type { SiteInfo } from "../bindings/SiteInfo";

export function SitePanel({ info }: { info: SiteInfo }) {
  return (
    <section className="card" aria-labelledby="site-heading">
      <h2 id="site-heading">Site</h2>
      <dl className="facts">
        <dt>Name</dt>
        <dd>{info.site_name}</dd>
        <dt>Site ID</dt>
        <dd id="site-id">
          <code>{info.site_id}</code>
        </dd>
        <dt>URL</dt>
        <dd>{info.url ?? <span className="muted">not set</span>}</dd>
        <dt>Version</dt>
        <dd>{info.version}</dd>
      </dl>
    </section>
  );
}
