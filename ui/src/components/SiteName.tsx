import { createContext, useContext, useMemo, type ReactNode } from "react";
import { backend } from "../api";
import { useConsumerStatus, useProducerStatus, usePolled } from "./usePolled";

/** A site as people know it: its name, and its address and id for a tooltip. */
export interface KnownSite {
  name: string;
  detail: string;
}

type Lookup = (idOrUrl: string) => KnownSite | null;

const Sites = createContext<Lookup>(() => null);

/**
 * The sites this one knows (itself, its producers and — `consumers`, for a
 * manager — its consumers), by address and by id, for every screen below it.
 * The same questions as the Dashboard's: answered once for both.
 */
export function KnownSites({ consumers: withConsumers, children }: { consumers: boolean; children: ReactNode }) {
  const { data: info } = usePolled(["site-info"], backend.siteInfo, 30000);
  const { data: producers } = useProducerStatus();
  const { data: consumers } = useConsumerStatus(withConsumers);
  const known = useMemo(() => {
    const known = new Map<string, KnownSite>();
    const add = (name: string | undefined, ...keys: (string | null | undefined)[]) => {
      if (!name) return;
      const site = { name, detail: keys.filter(Boolean).join(" · ") };
      for (const k of keys) if (k) known.set(k, site);
    };
    if (info) add(info.site_name ? `${info.site_name} (this site)` : "This site", info.url, info.site_id);
    for (const p of producers ?? []) add(p.producer_name, p.producer, p.producer_site_id);
    for (const c of (withConsumers && consumers) || []) add(c.consumer_name, c.consumer);
    return known;
  }, [info, producers, consumers, withConsumers]);
  const lookup = useMemo<Lookup>(() => (key) => known.get(key) ?? null, [known]);
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
