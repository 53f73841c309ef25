import { defineConfig } from "vite";

// No React plugin: Vite's own transformer handles TSX (react-jsx from tsconfig).
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  clearScreen: false,
});
