// A test host: embeds the panel the way MCP Apps hosts do (a sandboxed iframe holding the ui://
// resource's HTML) and runs the host side of the bridge with ext-apps' own AppBridge. Tool calls
// from the panel go to `window.ohCallTool`, which the Python test binds to a real oh-mcp.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
import type { McpUiTheme } from "@modelcontextprotocol/ext-apps/app-bridge";

type ToolResult = { content: Array<{ type: "text"; text: string }>; isError?: boolean; structuredContent?: Record<string, unknown> };

declare global {
  interface Window {
    ohCallTool(name: string, args: Record<string, unknown>): Promise<ToolResult>;
    ohHost: { mount(html: string, input: Record<string, unknown>, result: ToolResult, theme: McpUiTheme | null): Promise<void>; setTheme(theme: McpUiTheme): void; scrollPanel(away: boolean): void; calls: string[] };
  }
}

let bridge: AppBridge | undefined;
const calls: string[] = [];

async function mount(html: string, input: Record<string, unknown>, result: ToolResult, theme: McpUiTheme | null): Promise<void> {
  const iframe = document.createElement("iframe");
  iframe.id = "panel";
  // Scripts but no same-origin, as hosts sandbox apps: the panel cannot reach the host's DOM.
  iframe.setAttribute("sandbox", "allow-scripts");
  iframe.style.cssText = "width: 760px; height: 400px; border: 0; display: block";
  document.body.append(iframe);
  const frame = iframe.contentWindow;
  if (!frame) throw new Error("the iframe has no window");
  bridge = new AppBridge(null, { name: "oh-mcp test host", version: "1.0.0" }, { serverTools: {} }, { hostContext: theme ? { theme } : {} });
  bridge.oncalltool = async (params) => {
    calls.push(params.name);
    return (await window.ohCallTool(params.name, params.arguments ?? {})) as never;
  };
  // Hosts size the frame to what the panel reports, so the screenshots show the whole panel.
  bridge.onsizechange = ({ height }) => {
    if (height) iframe.style.height = `${Math.ceil(height)}px`;
  };
  const connected = bridge;
  const initialized = new Promise<void>((resolve) => {
    connected.oninitialized = () => resolve();
  });
  await connected.connect(new PostMessageTransport(frame, frame));
  iframe.srcdoc = html;
  await initialized;
  await connected.sendToolInput({ arguments: input });
  await connected.sendToolResult(result as never);
}

/** Scroll the panel out of the host's view and back, as a chat scrolls past it. */
function scrollPanel(away: boolean): void {
  document.body.style.paddingBottom = away ? "4000px" : "0";
  window.scrollTo(0, away ? 3000 : 0);
}

function setTheme(theme: McpUiTheme): void {
  document.body.style.background = theme === "dark" ? "#0d1117" : "#ffffff";
  void bridge?.sendHostContextChange({ theme });
}

window.ohHost = { mount, setTheme, scrollPanel, calls };
