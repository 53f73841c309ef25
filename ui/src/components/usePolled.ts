import { useCallback, useEffect, useState } from "react";
import type { BackendError } from "../api";

/** Loads now and again every `everyMs` while shown; the latest data or error. */
export function usePolled<T>(load: () => Promise<T>, everyMs: number) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = useCallback(() => {
    load()
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e: BackendError) => setError(e.message));
  }, [load]);
  useEffect(() => {
    refresh();
    const timer = window.setInterval(refresh, everyMs);
    return () => window.clearInterval(timer);
  }, [refresh, everyMs]);
  return { data, error, refresh };
}
