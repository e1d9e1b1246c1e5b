// Every button and every refresh goes through the server's own tools via the host, so read-only
// mode, approvals and error wording apply to the panel exactly as they do to the model.
import type { App } from "@modelcontextprotocol/ext-apps";

export type Outcome<T> = { ok: true; data: T } | { ok: false; message: string };

interface ToolResult {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content?: Array<{ type: string; text?: string }>;
}

export function textOf(result: ToolResult): string {
  return (result.content ?? [])
    .filter((block) => block.type === "text" && typeof block.text === "string")
    .map((block) => block.text)
    .join("\n");
}

export async function callTool<T>(app: App, name: string, args: Record<string, unknown>): Promise<Outcome<T>> {
  try {
    const result = (await app.callServerTool({ name, arguments: args })) as ToolResult;
    if (result.isError) {
      return { ok: false, message: textOf(result) || `${name} failed.` };
    }
    return { ok: true, data: (result.structuredContent ?? parseJson(textOf(result))) as T };
  } catch (err) {
    // The host refused the call or the connection failed: say so in the host's words.
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

// oh-mcp's results carry structured content; a text-only one is its JSON twin, or nothing usable.
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

/** The tools this server has, as oh-mcp wrote them into the page when serving it. */
export function serverTools(): Set<string> {
  const element = document.getElementById("oh-mcp-tools");
  try {
    const names: unknown = JSON.parse(element?.textContent ?? "[]");
    return new Set(Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : []);
  } catch {
    return new Set();
  }
}
