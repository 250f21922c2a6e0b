// Builds one package: ESM (dist/index.js), a browser IIFE bundle (dist/<name>.iife.js, exposing a
// global) and type definitions (tsc), plus a package's extra bundles. Usage: node build.mjs core|hlsjs|shaka|media
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const name = process.argv[2];
const globals = { core: "SwarmcastCore", hlsjs: "SwarmcastHls", shaka: "SwarmcastShaka", media: "P2PEngineMedia" };
// The browser bundle's entry where it is not src/index.ts (the global is then that module's export).
const browserEntry = { media: "src/browser.cjs" };
// Scripts that are not the package's API: the media engine's ServiceWorker.
const extra = { media: [{ entry: "src/sw/index.ts", out: "sw.js", globalName: "MediaProxy" }] };
if (!globals[name]) throw new Error(`unknown package ${name}`);
const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "packages", name);
const require = createRequire(join(dir, "package.json"));
const pkg = require("./package.json");
rmSync(join(dir, "dist"), { recursive: true, force: true });

const common = {
  entryPoints: [join(dir, "src/index.ts")],
  bundle: true,
  target: "es2020",
  sourcemap: true,
  define: { __SWARMCAST_VERSION__: JSON.stringify(pkg.version) },
  logLevel: "warning",
};
// ESM: dependencies stay imports, so bundlers dedupe them.
await build({
  ...common,
  format: "esm",
  outfile: join(dir, "dist/index.js"),
  external: [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})],
});
// IIFE: our own code inlined, hls.js expected as the page's global `Hls`.
await build({
  ...common,
  entryPoints: [join(dir, browserEntry[name] ?? "src/index.ts")],
  format: "iife",
  globalName: globals[name],
  minify: true,
  outfile: join(dir, `dist/${name}.iife.js`),
  external: Object.keys(pkg.peerDependencies ?? {}),
  plugins: [
    {
      name: "global-hls",
      setup(b) {
        b.onResolve({ filter: /^hls\.js$/ }, () => ({ path: "hls.js", namespace: "global-hls" }));
        b.onLoad({ filter: /.*/, namespace: "global-hls" }, () => ({ contents: "module.exports = globalThis.Hls;", loader: "js" }));
      },
    },
  ],
});
for (const x of extra[name] ?? []) {
  await build({ ...common, entryPoints: [join(dir, x.entry)], format: "iife", globalName: x.globalName, minify: true, outfile: join(dir, "dist", x.out) });
}
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { stdio: "inherit" });
console.log(`built ${pkg.name}@${pkg.version}`);
