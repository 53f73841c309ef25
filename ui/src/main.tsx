import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { HashRouter } from "react-router";
import { App } from "./App";
import "./styles.css";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      {/* Hash URLs: the same paths work from the hub's web server, from a
          file and from the desktop window, with no server-side routes. */}
      <HashRouter>
        <App />
      </HashRouter>
    </StrictMode>,
  );
}
