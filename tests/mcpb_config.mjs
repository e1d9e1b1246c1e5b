// How an MCP Bundle host turns a manifest's mcp_config and a person's settings into a command:
// @anthropic-ai/mcpb's own getMcpConfigForManifest, the substitution its hosts share.
// Usage: node tests/mcpb_config.mjs <unpacked bundle dir> <user_config JSON>; prints the config.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";

const [dir, userConfig] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath: dir,
  systemDirs: { HOME: homedir() },
  userConfig: JSON.parse(userConfig),
  pathSeparator: "/",
});
process.stdout.write(JSON.stringify(config ?? null));
