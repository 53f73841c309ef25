import type { Backend } from "./backend";
import { httpBackend } from "./http";
import { tauriBackend } from "./tauri";

export * from "./backend";
export * from "./outpost";

/** Inside the desktop app: IPC. In a browser: the site's HTTP API. */
export const backend: Backend = "__TAURI_INTERNALS__" in window ? tauriBackend : httpBackend;
