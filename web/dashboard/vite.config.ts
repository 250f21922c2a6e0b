import { defineConfig } from 'vite';

// `npm run dev` proxies the API to a running console (CONSOLE_URL, default :9090).
declare const process: { env: Record<string, string | undefined> };

// Relative asset URLs, so the console can serve the build from any path.
export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 600 },
  server: { proxy: { '/api': process.env.CONSOLE_URL ?? 'http://127.0.0.1:9090' } },
});
