// Drives oh-mcp with the TypeScript SDK 1.32.2's experimental tasks (the 2025-11-25 form), as an
// application would, and prints one JSON line per finding for the Python test. Usage:
//   node ts_sdk.mjs <stdio|http> <scenario> [url]
// Scenarios as in ext_tasks.mjs: complete, approve, cancel.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const [carrier, scenario, url] = process.argv.slice(2);
const say = (record) => process.stdout.write(JSON.stringify(record) + "\n");

const transport =
  carrier === "stdio"
    ? new StdioClientTransport({
        command: process.env.PYTHON ?? "python3",
        args: ["-m", "oh_mcp"],
        env: process.env,
        stderr: "ignore",
      })
    : new StreamableHTTPClientTransport(new URL(url));

const client = new Client(
  { name: "ts-sdk-driver", version: "1.32.2" },
  { capabilities: { elicitation: { form: {} }, tasks: { requests: {} } } },
);
const asked = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  asked.push({ message: request.params.message, meta: request.params._meta ?? null });
  return { action: "accept", content: { decision: "accept", reason: "" } };
});
await client.connect(transport);
await client.listTools(); // the SDK learns each tool's taskSupport from the listing

const tasks = client.experimental.tasks;
const message = { complete: "hello from the sdk", approve: "RUN: touch approved-by-sdk", cancel: "a long job" }[
  scenario
];
const args = { message, ...(scenario === "approve" ? { confirm: "always" } : {}) };

try {
  if (scenario === "cancel") {
    const stream = tasks.callToolStream({ name: "start_conversation", arguments: args }, CallToolResultSchema, {
      task: { ttl: 60000 },
    });
    let taskId;
    for await (const step of stream) {
      if (step.type === "taskCreated") taskId = step.task.taskId;
      if (step.type === "taskStatus" && (step.task.statusMessage ?? "").startsWith("running")) break;
    }
    say({ step: "created", taskId });
    const cancelled = await tasks.cancelTask(taskId);
    say({ step: "cancelled", status: cancelled.status });
    let refused = null;
    try {
      await tasks.cancelTask(taskId);
    } catch (error) {
      refused = { name: error?.name, message: String(error?.message ?? error), code: error?.code };
    }
    say({ step: "second cancel", refused });
  } else {
    const seen = [];
    let result = null;
    let failure = null;
    const stream = tasks.callToolStream({ name: "start_conversation", arguments: args }, CallToolResultSchema, {
      task: { ttl: 60000 },
      timeout: 60000,
    });
    for await (const step of stream) {
      seen.push(step.type === "taskStatus" ? `taskStatus:${step.task.status}` : step.type);
      if (step.type === "taskCreated") say({ step: "created", taskId: step.task.taskId });
      if (step.type === "result") result = step.result;
      if (step.type === "error") failure = String(step.error?.message ?? step.error);
    }
    say({ step: "outcome", seen, result, failure, asked });
  }
} catch (error) {
  say({ step: "error", name: error?.name, message: String(error?.stack ?? error) });
  process.exitCode = 1;
} finally {
  await client.close().catch(() => {});
}
