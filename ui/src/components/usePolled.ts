import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { BackendError } from "../api";

/**
 * Loads now and again every `everyMs` while shown (TanStack Query: answers
 * cached by `key` across screens, one request for screens asking the same,
 * no polling in a hidden tab); the latest data or error. While the next
 * key loads, the previous key's data stays (no flash of "Loading…").
 */
export function usePolled<T>(key: readonly unknown[], load: () => Promise<T>, everyMs: number) {
  const q = useQuery({
    queryKey: key,
    queryFn: load,
    refetchInterval: everyMs,
    placeholderData: keepPreviousData,
  });
  return {
    data: q.data ?? null,
    error: q.error ? (q.error as BackendError).message : null,
    refresh: () => void q.refetch(),
  };
}
