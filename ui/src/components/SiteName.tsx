import { createContext, useCallback, useContext, useMemo, type ReactNode } from "react";
import { api, backend } from "../api";
import { usePolled } from "./usePolled";

/** A site as people know it: its name, and its address and id for a tooltip. */
export interface KnownSite {
  name: string;
  detail: string;
}

type Lookup = (idOrUrl: string) => KnownSite | null;

const Sites = createContext<Lookup>(() => null);

/**
 * The sites this one knows (itself, its producers, its consumers), by
 * address and by id, for every screen below it. A manager's screens only:
 * the consumers are theirs to see.
 */
export function KnownSites({ children }: { children: ReactNode }) {
  const load = useCallback(async () => {
    const [info, producers, consumers] = await Promise.all([
      backend.siteInfo(),
      api.producerStatus().catch(() => []),
      api.consumerStatus().catch(() => []),
    ]);
    const known = new Map<string, KnownSite>();
    const add = (name: string | undefined, ...keys: (string | null | undefined)[]) => {
      if (!name) return;
      const site = { name, detail: keys.filter(Boolean).join(" · ") };
      for (const k of keys) if (k) known.set(k, site);
    };
    add(info.site_name ? `${info.site_name} (this site)` : "This site", info.url, info.site_id);
    for (const p of producers) add(p.producer_name, p.producer, p.producer_site_id);
    for (const c of consumers) add(c.consumer_name, c.consumer);
    return known;
  }, []);
  const { data } = usePolled(["known-sites"], load, 30000);
  const lookup = useMemo<Lookup>(() => (key) => data?.get(key) ?? null, [data]);
  return <Sites.Provider value={lookup}>{children}</Sites.Provider>;
}

/** The lookup of the sites known to the screen (`KnownSites` above it). */
export function useSiteLookup(): Lookup {
  return useContext(Sites);
}

/** A site's name where it is known (the address or id on hover), else what was given. */
export function SiteName({ site }: { site: string }) {
  const known = useContext(Sites)(site);
  return known ? <span title={known.detail}>{known.name}</span> : <span title={site}>{site}</span>;
}
