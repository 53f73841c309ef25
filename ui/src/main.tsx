// First: a system language Intl refuses is replaced before any library reads it.
import "./locale";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createHashRouter, RouterProvider } from "react-router";
import { App } from "./App";
import "./styles.css";

// Hash URLs: the same paths work from the hub's web server, from a file and
// from the desktop window, with no server-side routes. A data router, so
// that a form with unsaved changes can hold a navigation back (useBlocker).
const router = createHashRouter([{ path: "*", element: <App /> }]);

// Site answers, cached per question; a failure shows at once (the site's
// message says what is wrong) rather than after retries.
const queries = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: 1000 } } });

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queries}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </StrictMode>,
  );
}
