// Bundles the extension and its runtime dependencies into dist/extension.js, the manifest's
// `main`, so the .vsix carries one script instead of node_modules. `vscode` is the host's.
import { build } from "esbuild";

await build({
    entryPoints: ["src/extension.ts"],
    outfile: "dist/extension.js",
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node18",
    external: ["vscode"],
    minify: true,
    sourcemap: false,
    logLevel: "warning",
});
