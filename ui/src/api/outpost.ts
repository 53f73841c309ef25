// Typed calls of the site's methods, over whichever backend is in use.
import type { Backend, Doc } from "./backend";
import type { ActivityPoint } from "../bindings/ActivityPoint";
import type { ConsumerStatus } from "../bindings/ConsumerStatus";
import type { Invitation } from "../bindings/Invitation";
import type { InvitationRequest } from "../bindings/InvitationRequest";
import type { SyncRunRecord } from "../bindings/SyncRunRecord";
import type { ProducerStatus } from "../bindings/ProducerStatus";
import type { SiteInfo } from "../bindings/SiteInfo";
import type { SyncLogEntry } from "../bindings/SyncLogEntry";
import type { SyncProgress } from "../bindings/SyncProgress";
import type { SyncSummary } from "../bindings/SyncSummary";
import type { UpdateLogLine } from "../bindings/UpdateLogLine";

export interface GeneratedKeys {
  user: string;
  api_key: string;
  api_secret: string;
}

/** The signed-in user and what the app shows them. */
export interface Me {
  user: string;
  roles: string[];
  system_manager: boolean;
}

export function outpost(b: Backend) {
  return {
    loggedUser: () => b.method<string>("frappe.auth.get_logged_user"),
    me: () => b.method<Me>("outpost.user.me"),
    producerStatus: () => b.method<ProducerStatus[]>("outpost.event.producer_status"),
    consumerStatus: () => b.method<ConsumerStatus[]>("outpost.event.consumer_status"),
    syncNow: (producer?: string) => b.method<SyncSummary[]>("outpost.event.sync_now", producer ? { producer } : {}),
    /** Hub side: an invitation for a shop, with its link (said once). */
    createInvitation: (req: InvitationRequest) => b.method<Invitation>("outpost.invite.create", req as unknown as Record<string, unknown>),
    /** New keys from a producer this site pulls from (kept here at once). */
    renewKeys: (producer: string) => b.method<Doc>("outpost.event.renew_keys", { producer }),
    /** Asks a site that reaches this one to renew its keys at its next contact. */
    askKeyRenewal: (siteId: string) => b.method<string>("outpost.event.ask_key_renewal", { site_id: siteId }),
    invitations: () => b.method<Invitation[]>("outpost.invite.list"),
    /** Shop side: join the hub the link names; the Event Producer made for it. */
    redeemInvitation: (link: string) => b.method<Doc>("outpost.invite.redeem", { link }),
    /** The last 24 hours of traffic per minute (oldest first). */
    syncActivity: () => b.method<ActivityPoint[]>("outpost.event.sync_activity"),
    /** The last syncs run from here, newest first. */
    syncHistory: (limit = 20) => b.method<SyncRunRecord[]>("outpost.event.sync_history", { limit }),
    syncProgress: () => b.method<SyncProgress>("outpost.event.sync_progress"),
    /** Newest first; `before`: only lines older than that id (the next page). */
    syncLog: (status: string | null, limit = 200, before: number | null = null) =>
      b.method<SyncLogEntry[]>("outpost.event.sync_log", { status, limit, ...(before === null ? {} : { before }) }),
    syncLogCount: (status: string | null) => b.method<number>("outpost.event.sync_log_count", { status }),
    resync: (id: number) => b.method<SyncLogEntry>("outpost.event.resync", { id }),
    reapplyConflict: (id: number) => b.method<SyncLogEntry>("outpost.event.reapply_conflict", { id }),
    /** Newest first; `before`: only entries older than that sequence (the next page). */
    updateLog: (refDoctype: string | null, limit = 200, before: number | null = null) =>
      b.method<UpdateLogLine[]>("outpost.event.update_log", { ref_doctype: refDoctype, limit, ...(before === null ? {} : { before }) }),
    updateLogCount: (refDoctype: string | null) => b.method<number>("outpost.event.update_log_count", { ref_doctype: refDoctype }),
    /** A new draft from a cancelled document (Amend, as in Desk). */
    amend: (doctype: string, name: string) => b.method<Doc>("outpost.document.amend", { doctype, name }),
    generateKeys: (user: string) => b.method<GeneratedKeys>("outpost.user.generate_keys", { user }),
    apiKeyOf: (user: string) => b.method<string | null>("outpost.user.get_api_key", { user }),
    setPassword: (user: string, password: string) =>
      b.method<string>("outpost.user.set_password", { user, password }),
    configure: (siteName: string, url: string) =>
      b.method<SiteInfo>("outpost.site.configure", { site_name: siteName, url }),
    setKeepInBackground: (enabled: boolean) =>
      b.method<SiteInfo>("outpost.site.set_keep_in_background", { enabled }),
    setSyncInterval: (seconds: number | null) =>
      b.method<SiteInfo>("outpost.site.set_sync_interval", { sync_interval: seconds }),
  };
}
