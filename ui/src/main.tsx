import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createHashRouter, RouterProvider } from "react-router";
import { App } from "./App";
import "./styles.css";

// Hash URLs: the same paths work from the hub's web server, from a file and
// from the desktop window, with no server-side routes. A data router, so
// that a form with unsaved changes can hold a navigation back (useBlocker).
const router = createHashRouter([{ path: "*", element: <App /> }]);

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <RouterProvider router={router} />
    </StrictMode>,
  );
}
