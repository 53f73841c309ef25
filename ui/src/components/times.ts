/** "5 minutes ago" in the user's locale, for a site timestamp
 * (`YYYY-MM-DD HH:MM:SS[.ffffff]`, the site's local time, as Frappe keeps it). */
export function relative(stamp: unknown, now = Date.now()): string {
  const at = parse(stamp);
  if (at === null) return "";
  const seconds = Math.round((at - now) / 1000);
  const fmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ["second", 60],
    ["minute", 60],
    ["hour", 24],
    ["day", 30],
    ["month", 12],
  ];
  let value = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size) return fmt.format(value, unit);
    value = Math.round(value / size);
  }
  return fmt.format(value, "year");
}

/** The exact time, in the user's locale and time zone (for a tooltip). */
export function exact(stamp: unknown): string {
  const at = parse(stamp);
  return at === null ? "" : new Date(at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

function parse(stamp: unknown): number | null {
  if (typeof stamp !== "string" || stamp === "") return null;
  // A stamp with its zone (UTC, RFC 3339) is read as it is; a site's
  // local one to milliseconds at most (not every engine reads six digits).
  const iso = /(Z|[+-]\d\d:\d\d)$/.test(stamp) ? stamp : stamp.replace(" ", "T").slice(0, 23);
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}
