import type { Backend } from "./backend";
import { httpBackend } from "./http";
import { outpost } from "./outpost";
import { tauriBackend } from "./tauri";

export * from "./backend";
export * from "./outpost";

/** Inside the desktop app: IPC. In a browser: the site's HTTP API. */
export const backend: Backend = "__TAURI_INTERNALS__" in window ? tauriBackend : httpBackend;

/** The site's methods, typed, over that backend. */
export const api = outpost(backend);
