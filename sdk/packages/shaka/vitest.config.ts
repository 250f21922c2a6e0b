import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// P2P Media Loader's Shaka integration is loaded from its published modules in the tests. Its
// stream numbering imports only a logger from its core, which is stubbed (the core itself
// would load a WebRTC stack for Node).
export default defineConfig({
  resolve: { alias: { "p2p-media-loader-core": fileURLToPath(new URL("./test/pml-core-stub.ts", import.meta.url)) } },
  test: { server: { deps: { inline: ["p2p-media-loader-shaka"] } } },
});
