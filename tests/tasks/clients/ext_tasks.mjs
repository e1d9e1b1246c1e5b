// Drives oh-mcp with the official task client, @modelcontextprotocol/ext-tasks on
// @modelcontextprotocol/client, the way an application would, and prints one JSON line per
// finding for the Python test to check. Usage:
//   node ext_tasks.mjs <2026|2025> <stdio|http> <scenario> [url]
// Scenarios: complete (a task completes, its result passes the client's own schema), approve (an
// approval reaches the client's input handler, which accepts), cancel (cancel a running task).
// Over stdio the server is `python -m oh_mcp` with this process's environment (OPENHANDS_URL set
// by the test); PYTHON names the interpreter.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import {
  createApplicationInputHandler,
  createTaskSessionFromClient,
  toolDeclarationFromMcpTool,
} from "@modelcontextprotocol/ext-tasks/client";

const [form, carrier, scenario, url] = process.argv.slice(2);
const MODERN = "2026-07-28";
const TASKS = "io.modelcontextprotocol/tasks";
const say = (record) => process.stdout.write(JSON.stringify(record) + "\n");

const clientInfo = { name: "ext-tasks-driver", version: "0.2.2" };
const capabilities =
  form === "2026"
    ? { elicitation: { form: {} }, extensions: { [TASKS]: {} } }
    : { elicitation: { form: {} }, tasks: { requests: {} } };

const transport =
  carrier === "stdio"
    ? new StdioClientTransport({
        command: process.env.PYTHON ?? "python3",
        args: ["-m", "oh_mcp"],
        env: process.env,
        stderr: "ignore",
      })
    : new StreamableHTTPClientTransport(new URL(url));

const client = new Client(clientInfo, {
  capabilities,
  ...(form === "2026" ? { versionNegotiation: { mode: { pin: MODERN } } } : {}),
});
await client.connect(transport);

// ext-tasks needs a raw request path for the 2026 shapes the SDK's own codecs reject: requests go
// out on the same transport under ids of our own, and their answers are taken off it before the SDK
// sees them.
function rawWire(wire) {
  const waiting = new Map();
  let counter = 0;
  const sdkOnMessage = wire.onmessage;
  wire.onmessage = (message, extra) => {
    const resolve = typeof message?.id === "string" && !("method" in message) ? waiting.get(message.id) : undefined;
    if (resolve) {
      if (process.env.DRIVER_DEBUG) process.stderr.write("RAW " + JSON.stringify(message) + "\n");
      waiting.delete(message.id);
      resolve("error" in message ? { kind: "error", error: message.error } : { kind: "result", result: message.result });
      return;
    }
    sdkOnMessage?.call(wire, message, extra);
  };
  return async (request) => {
    const id = `raw-${(counter += 1)}`;
    const answered = new Promise((resolve) => waiting.set(id, resolve));
    await wire.send({ jsonrpc: "2.0", id, method: request.method, params: request.params });
    return await answered;
  };
}

const asked = [];
const session = createTaskSessionFromClient(client, {
  endpointId: `oh-mcp-${carrier}-${form}`,
  ...(form === "2026"
    ? {
        rawDispatch: rawWire(transport),
        v2RequestFraming: { protocolVersion: MODERN, clientInfo, clientCapabilities: capabilities },
      }
    : {}),
  onInputRequest: createApplicationInputHandler({
    elicitation: async (request) => {
      asked.push(String(request.params.message ?? ""));
      return { action: "accept", content: { decision: "accept", reason: "" } };
    },
    sampling: async () => {
      throw new Error("no sampling here");
    },
    roots: async () => ({ roots: [] }),
  }),
});

async function declaration(name) {
  if (form !== "2025") return undefined;
  const { tools } = await client.listTools();
  return toolDeclarationFromMcpTool(tools.find((t) => t.name === name));
}

async function call(name, args) {
  const options = { task: { preference: "require" }, requestTimeoutMs: 60000 };
  const declared = await declaration(name);
  return await session.callTool(name, args, declared ? { ...options, declaration: declared } : options);
}

try {
  const message = {
    complete: "hello from ext-tasks",
    approve: "RUN: touch approved-by-ext-tasks",
    cancel: "a long job",
  }[scenario];
  const args = { message, ...(scenario === "approve" ? { confirm: "always" } : {}) };
  const execution = await call("start_conversation", args);
  say({ step: "created", kind: execution.kind, taskId: execution.handle?.taskId });
  if (scenario === "cancel") {
    const controller = session.task(execution.handle.taskId);
    for (let i = 0; i < 100; i++) {
      const view = await controller.snapshot();
      if (view.status === "working" && (view.statusMessage ?? "").startsWith("running")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await execution.cancel();
    say({ step: "cancelled", status: (await controller.snapshot()).status });
    let refused = null;
    try {
      await controller.cancel();
    } catch (error) {
      refused = { name: error?.name, message: String(error?.message ?? error), code: error?.code ?? error?.cause?.code };
    }
    say({ step: "second cancel", refused });
  } else {
    const { outcome } = await execution.settle();
    say({
      step: "outcome",
      status: outcome.status,
      result: outcome.status === "completed" ? outcome.result : undefined,
      error: outcome.status === "failed" ? String(outcome.error?.message ?? outcome.error) : undefined,
      asked,
    });
  }
} catch (error) {
  say({ step: "error", name: error?.name, message: String(error?.stack ?? error) });
  process.exitCode = 1;
} finally {
  await session.close().catch(() => {});
  await client.close().catch(() => {});
}
