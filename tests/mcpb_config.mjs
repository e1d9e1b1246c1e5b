// How an MCP Bundle host turns a manifest's mcp_config and a person's settings into a command:
// @anthropic-ai/mcpb's own getMcpConfigForManifest, the substitution its hosts share.
// Usage: node tests/mcpb_config.mjs <unpacked bundle dir> < user_config.json; prints the config.
// The settings come on stdin: they hold the key, which never goes on a command line.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";

const [dir] = process.argv.slice(2);
const userConfig = readFileSync(0, "utf8");
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath: dir,
  systemDirs: { HOME: homedir() },
  userConfig: JSON.parse(userConfig),
  pathSeparator: "/",
});
process.stdout.write(JSON.stringify(config ?? null));
