import { useEffect, useState } from "react";

/**
 * Paging back in time through a log, newest first: each older page starts
 * before the last line of the one shown (kept, so "Newer" goes back).
 * Another `filter` starts again from the newest.
 */
export function useLogPages(size: number, filter: unknown) {
  const [starts, setStarts] = useState<(number | null)[]>([null]);
  useEffect(() => setStarts([null]), [filter]);
  return {
    /** Lines older than this (null: the newest page). */
    before: starts[starts.length - 1],
    /** The number, from 1, of the first line shown. */
    from: (starts.length - 1) * size + 1,
    newest: starts.length === 1,
    older: (lastShown: number) => setStarts((s) => [...s, lastShown]),
    newer: () => setStarts((s) => s.slice(0, -1)),
  };
}

/** "1–100 of 245" with Newer and Older. `last`: the key of the last line shown. */
export function LogPager(props: { pages: ReturnType<typeof useLogPages>; shown: number; total: number; last: number }) {
  const { pages, shown, total, last } = props;
  const to = pages.from + shown - 1;
  return (
    <div className="pager" role="group" aria-label="Pages">
      <span role="status" aria-label="Shown">
        {pages.from.toLocaleString()}–{to.toLocaleString()} of {total.toLocaleString()}
      </span>
      <button type="button" className="secondary" disabled={pages.newest} onClick={pages.newer}>
        Newer
      </button>
      <button type="button" className="secondary" disabled={to >= total} onClick={() => pages.older(last)}>
        Older
      </button>
    </div>
  );
}
