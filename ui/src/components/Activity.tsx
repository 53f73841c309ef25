import { useCallback, useEffect, useMemo, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { api } from "../api";
import type { ActivityPoint } from "../bindings/ActivityPoint";
import type { SyncRunRecord } from "../bindings/SyncRunRecord";
import { SiteName, useSiteLookup } from "./SiteName";
import { usePolled } from "./usePolled";
import { When } from "./When";

const MINUTE = 60;
const DAY_MINUTES = 24 * 60;
const COLOURS = ["#1f6f5c", "#c2571a", "#3b6fb6", "#8e44ad", "#b8860b", "#2e8b57", "#c0392b", "#5d6d7e"];

/** One line per other site and direction, over the last 24 hours, minute by minute. */
interface Series {
  key: string;
  label: string;
  entries: (number | null)[];
  backlog: (number | null)[];
}

function shape(points: ActivityPoint[], nameOf: (peer: string) => string): { times: number[]; series: Series[] } {
  const now = Math.floor(Date.now() / 1000 / MINUTE) * MINUTE;
  const times = Array.from({ length: DAY_MINUTES }, (_, i) => now - (DAY_MINUTES - 1 - i) * MINUTE);
  const index = new Map(times.map((t, i) => [t, i]));
  const byKey = new Map<string, Series>();
  for (const p of points) {
    const key = `${p.direction} ${p.peer}`;
    let s = byKey.get(key);
    if (!s) {
      s = {
        key,
        label: `${p.direction === "in" ? "from" : "to"} ${nameOf(p.peer)}`,
        entries: times.map(() => 0),
        backlog: times.map(() => null),
      };
      byKey.set(key, s);
    }
    const i = index.get(Date.parse(`${p.minute}:00Z`) / 1000);
    if (i === undefined) continue;
    s.entries[i] = p.entries;
    s.backlog[i] = p.backlog;
  }
  return { times, series: [...byKey.values()] };
}

/** A uPlot chart of `series` (one value list each) over `times`. */
function Chart(props: { title: string; times: number[]; series: { label: string; values: (number | null)[] }[]; summary: string }) {
  const box = useRef<HTMLDivElement>(null);
  const { times, series } = props;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(260, el.clientWidth);
    // The page's own colours, light or dark.
    const fg = getComputedStyle(el).color;
    const axis = { stroke: fg, grid: { stroke: "rgba(127, 127, 127, 0.2)" }, ticks: { stroke: "rgba(127, 127, 127, 0.3)" } };
    const plot = new uPlot(
      {
        width,
        height: 180,
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: true, points: { show: false } }))],
        axes: [axis, { ...axis, size: 50 }],
        scales: { x: { time: true } },
        legend: { show: true },
      },
      [times, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(260, el.clientWidth), height: 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series]);
  return (
    <figure className="chart" aria-label={props.title}>
      <figcaption>
        <strong>{props.title}</strong> <span className="muted">{props.summary}</span>
      </figcaption>
      <div ref={box} role="img" aria-label={`${props.title}: ${props.summary}`} />
    </figure>
  );
}

/**
 * The last 24 hours of sync, as the engine keeps them: entries synced per
 * minute and the backlog, per producer (received here) and, for a manager,
 * per consumer (taken from here); and the last syncs run from here.
 */
export function Activity() {
  const nameOf = useSiteLookup();
  const load = useCallback(() => api.syncActivity(), []);
  const { data: points } = usePolled(["sync-activity"], load, 15000);
  const shaped = useMemo(() => shape(points ?? [], (peer) => nameOf(peer)?.name ?? peer), [points, nameOf]);
  const total = (points ?? []).reduce((n, p) => n + p.entries, 0);
  const hourAgo = new Date(Date.now() - 3600_000).toISOString().slice(0, 16);
  const lastHour = (points ?? []).filter((p) => p.minute >= hourAgo).reduce((n, p) => n + p.entries, 0);
  const entries = useMemo(() => shaped.series.map((s) => ({ label: s.label, values: s.entries })), [shaped]);
  const backlog = useMemo(() => shaped.series.map((s) => ({ label: s.label, values: s.backlog })), [shaped]);
  const waiting = shaped.series.map((s) => [...s.backlog].reverse().find((v) => v !== null) ?? 0).reduce((a, b) => a + b, 0);
  return (
    <section className="card" aria-label="Sync activity">
      <h2>Last 24 hours</h2>
      {points === null ? (
        <p className="muted">Loading…</p>
      ) : points.length === 0 ? (
        <p className="muted">Nothing synced in the last 24 hours.</p>
      ) : (
        <div className="charts">
          <Chart
            title="Entries synced per minute"
            times={shaped.times}
            series={entries}
            summary={`${total.toLocaleString()} in 24 h, ${lastHour.toLocaleString()} in the last hour`}
          />
          <Chart title="Backlog" times={shaped.times} series={backlog} summary={`${waiting.toLocaleString()} waiting at the last sync`} />
        </div>
      )}
      <SyncHistory />
    </section>
  );
}

function SyncHistory() {
  const load = useCallback(() => api.syncHistory(20), []);
  const { data: runs } = usePolled(["sync-history"], load, 15000);
  if (!runs || runs.length === 0) return null;
  return (
    <>
      <h3>Recent syncs</h3>
      <div className="table-scroll">
        <table aria-label="Recent syncs">
          <thead>
            <tr>
              <th>When</th>
              <th>With</th>
              <th>Received</th>
              <th>Sent</th>
              <th>Failed</th>
              <th>Conflicts</th>
              <th>Error</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r: SyncRunRecord) => (
              <tr key={r.id} className={r.error || r.failed > 0 ? "bad-row" : undefined}>
                <td className="muted">
                  <When stamp={r.finished} />
                </td>
                <td>
                  <SiteName site={r.producer} />
                </td>
                <td>{r.pulled}</td>
                <td>{r.pushed}</td>
                <td>{r.failed}</td>
                <td>{r.conflicts}</td>
                <td className="muted">{r.error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
