import { defineConfig } from "vite";

// No React plugin: Vite's own transformer handles TSX (react-jsx from tsconfig).
export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    rollupOptions: {
      // TanStack Query marks modules "use client" for React Server
      // Components; a client-only bundle has nothing to keep of it.
      onwarn(warning, warn) {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
    },
  },
  clearScreen: false,
});
