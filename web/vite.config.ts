import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The build lands in dist/ui, which the Go package embeds. In development,
// `npm run dev` proxies the API to an interp serve on :8080.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist/ui",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { "/v1": "http://127.0.0.1:8080" },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
