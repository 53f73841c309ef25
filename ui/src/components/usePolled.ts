import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, type BackendError } from "../api";

/**
 * Loads now and again every `everyMs` while shown (TanStack Query: answers
 * cached by `key` across screens, one request for screens asking the same,
 * no polling in a hidden tab); the latest data or error. While the next
 * key loads, the previous key's data stays (no flash of "Loading…").
 */
export function usePolled<T>(key: readonly unknown[], load: () => Promise<T>, everyMs: number, enabled = true) {
  const q = useQuery({
    queryKey: key,
    queryFn: load,
    refetchInterval: everyMs,
    placeholderData: keepPreviousData,
    enabled,
  });
  return {
    data: q.data ?? null,
    error: q.error ? (q.error as BackendError).message : null,
    refresh: () => void q.refetch(),
  };
}

/** Each Event Producer's state: one question, whichever screens ask it. */
export function useProducerStatus() {
  return usePolled(["producer-status"], api.producerStatus, 5000);
}

/** The consumers' state (a manager's question: `enabled` false for others). */
export function useConsumerStatus(enabled: boolean) {
  return usePolled(["consumer-status"], api.consumerStatus, 5000, enabled);
}
