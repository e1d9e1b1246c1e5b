// Builds the conversation panel into one self-contained HTML file: the script and style inline,
// pinned by sha256 hashes in a Content-Security-Policy that allows nothing else (no network, no
// other scripts). `node panel/build.mjs` writes oh_mcp/panel/panel.html; `--check` exits 1 when
// that file differs from what the sources build to (tests/panel/test_panel_build.py runs it).
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "oh_mcp", "panel", "panel.html");

// zod (which the bridge validates messages with) bundles every language's error messages; the
// panel never shows them, so only English is kept (about 260 KB less to send on every open).
const englishOnlyZod = {
  name: "english-only-zod",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${sep}zod${sep}`) ? { path: join(args.resolveDir, "..", "locales"), namespace: "zod-en" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-en" }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: args.path,
      loader: "js",
    }));
  },
};

const bundle = await build({
  plugins: [englishOnlyZod],
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  platform: "browser",
  write: false,
  legalComments: "none",
  logLevel: "warning",
});
// "</script" inside the bundle would end the inline element early.
const script = bundle.outputFiles[0].text.replaceAll("</script", "<\\/script").trim();
const style = readFileSync(join(here, "src", "panel.css"), "utf8").trim();
const hash = (text) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
const csp = [
  "default-src 'none'",
  `script-src ${hash(script)}`,
  `style-src ${hash(style)}`,
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

const html = readFileSync(join(here, "src", "panel.html"), "utf8")
  .replace("%CSP%", () => csp)
  .replace("%STYLE%", () => style)
  .replace("%SCRIPT%", () => script);

if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(out, "utf8");
  } catch {}
  if (current !== html) {
    console.error(`${out} is stale: run \`npm run build:panel\` and commit it.`);
    process.exit(1);
  }
} else {
  writeFileSync(out, html);
}
