// The conversation panel: one OpenHands conversation, live. The host renders it for a
// get_conversation call; everything after that goes through the host bridge to oh-mcp's tools.
import { App, applyDocumentTheme, applyHostStyleVariables, type McpUiHostContext } from "@modelcontextprotocol/ext-apps";
import { type Changes, renderChanges } from "./diff";
import { byId } from "./dom";
import { Poller } from "./poll";
import { type Conversation, isActive, renderHeader, renderPending, type Step, StepList } from "./render";
import { callTool, serverTools } from "./tools";

const tools = serverTools();
const app = new App({ name: "oh-mcp conversation panel", version: "1.0.0" }, {});
const steps = new StepList();
let conversationId: string | undefined;
let conversation: Conversation | undefined;
let poller: Poller | undefined;
let changesKey = "";
let pollFailed = false;

function say(id: "error" | "notice", message: string | undefined): void {
  const box = byId(id);
  box.textContent = message ?? "";
  box.hidden = !message;
}

function showError(message: string | undefined): void {
  say("error", message);
}

function applyTheme(context: McpUiHostContext | undefined): void {
  if (context?.theme) applyDocumentTheme(context.theme);
  if (context?.styles?.variables) applyHostStyleVariables(context.styles.variables);
}

function show(c: Conversation): void {
  conversation = c;
  renderHeader(c);
  byId("interrupt").hidden = !(tools.has("interrupt_agent") && c.execution_status === "running");
  // Approve and Reject name the actions they answer, so they need actions to name.
  const pending = c.execution_status === "waiting_for_confirmation" ? (c.pending_actions ?? []) : [];
  byId("pending").hidden = !(pending.length && tools.has("respond_to_action"));
  renderPending(pending);
  byId("send-form").hidden = !tools.has("send_message");
}

async function refreshChanges(id: string, c: Conversation): Promise<void> {
  // The diff is the costliest read: fetch it when the agent's state moves on, not every tick.
  const key = `${c.execution_status}|${c.sandbox_status}|${isActive(c) ? Math.floor(Date.now() / 10000) : ""}`;
  if (!tools.has("get_changes") || c.sandbox_status !== "RUNNING" || key === changesKey) return;
  changesKey = key;
  const result = await callTool<Changes>(app, "get_changes", { conversation_id: id });
  if (!result.ok) return; // a workspace with no repository has nothing to show; steps still do.
  const more = result.data.next_page_id ? " · more files on further pages of get_changes" : "";
  byId("changes").hidden = !result.data.repositories.some((repo) => repo.files.length);
  byId("changes-summary").textContent = result.data.summary + more;
  byId("files").replaceChildren(...renderChanges(result.data));
}

async function refresh(): Promise<boolean> {
  const id = conversationId;
  if (!id) return false;
  const got = await callTool<Conversation>(app, "get_conversation", { conversation_id: id });
  if (!got.ok) {
    showError(got.message);
    pollFailed = true;
    return conversation ? isActive(conversation) : false;
  }
  // A refresh clears its own earlier failure, never the message of a button the person pressed.
  if (pollFailed) showError(undefined);
  pollFailed = false;
  show(got.data);
  const events = await callTool<{ events: Step[] }>(app, "get_conversation_events", { conversation_id: id, limit: 20 });
  if (events.ok) steps.add(events.data.events);
  await refreshChanges(id, got.data);
  return isActive(got.data);
}

function follow(id: string): void {
  if (conversationId === id) return;
  conversationId = id;
  poller ??= new Poller(refresh);
  void poller.now();
}

/** Run one button's tool call; its refusal or failure is shown as the server worded it. */
async function act(button: HTMLButtonElement, name: string, args: Record<string, unknown>): Promise<boolean> {
  if (!conversationId) return false;
  button.disabled = true;
  try {
    const result = await callTool<{ interrupted?: boolean; next_step?: string }>(app, name, {
      conversation_id: conversationId,
      ...args,
    });
    showError(result.ok ? undefined : result.message);
    pollFailed = false;
    // A call that did nothing (an interrupt after the agent stopped) says why; that is no error.
    say("notice", result.ok && result.data.interrupted === false ? result.data.next_step : undefined);
    if (result.ok) await poller?.now();
    return result.ok;
  } finally {
    button.disabled = false;
  }
}

function wireControls(): void {
  const approve = byId<HTMLButtonElement>("approve");
  const reject = byId<HTMLButtonElement>("reject");
  const reason = byId<HTMLInputElement>("reason");
  const respond = (button: HTMLButtonElement, accept: boolean) => async () => {
    // The ids the person saw: if the agent's pending actions changed meanwhile, the tool answers
    // nothing and says so, rather than approving something nobody looked at.
    const args: Record<string, unknown> = { accept, action_ids: (conversation?.pending_actions ?? []).map((a) => a.id) };
    if (!accept && reason.value.trim()) args.reason = reason.value.trim();
    if (await act(button, "respond_to_action", args)) reason.value = "";
  };
  approve.addEventListener("click", respond(approve, true));
  reject.addEventListener("click", respond(reject, false));
  const interrupt = byId<HTMLButtonElement>("interrupt");
  interrupt.addEventListener("click", () => void act(interrupt, "interrupt_agent", {}));
  // A click and Enter, not a form: hosts sandbox the panel without allow-forms, which blocks submit.
  const message = byId<HTMLInputElement>("message");
  const send = byId<HTMLButtonElement>("send");
  const sendMessage = () => {
    const text = message.value.trim();
    if (!text || send.disabled) return;
    void act(send, "send_message", { message: text }).then((ok) => {
      if (ok) message.value = "";
    });
  };
  send.addEventListener("click", sendMessage);
  message.addEventListener("keydown", (event) => {
    if (event.key === "Enter") sendMessage();
  });
}

app.ontoolinput = ({ arguments: args }) => {
  const id = args?.conversation_id;
  if (typeof id === "string" && id) follow(id);
};
app.ontoolresult = (result) => {
  const data = result.structuredContent as Conversation | undefined;
  if (result.isError || !data?.id) return;
  show(data);
  follow(data.id);
};
app.onhostcontextchanged = (context) => applyTheme(context);
app.onteardown = async () => {
  poller?.stop();
  return {};
};

wireControls();
void app.connect().then(() => applyTheme(app.getHostContext()));
