// Turns the tools' structured results into what a person sees. Pure DOM writes, no calls.
import { byId, el } from "./dom";

/** One of get_conversation's pending_actions: what the agent waits for approval to do. */
export interface PendingAction {
  id: string;
  tool?: string | null;
  does: string;
  risk?: string | null;
}

export interface Conversation {
  id: string;
  title?: string | null;
  sandbox_status: string;
  execution_status?: string | null;
  repository?: string | null;
  branch?: string | null;
  llm_model?: string | null;
  cost_usd?: number | null;
  tokens?: { prompt: number; completion: number } | null;
  pending_actions?: PendingAction[] | null;
}

export interface Step {
  id: string;
  time?: string | null;
  source?: string | null;
  kind: string;
  text: string;
  is_error?: boolean;
}

/** The agent is at work (or about to be): worth polling quickly and offering Interrupt. */
export function isActive(c: Conversation): boolean {
  return c.execution_status === "running" || c.sandbox_status === "STARTING";
}

export function statusText(c: Conversation): string {
  if (c.sandbox_status !== "RUNNING") return `sandbox ${c.sandbox_status.toLowerCase()}`;
  return (c.execution_status ?? "unknown").replaceAll("_", " ");
}

export function renderHeader(c: Conversation): void {
  byId("title").textContent = c.title || c.id;
  const where = [c.repository, c.branch].filter(Boolean).join(" @ ");
  byId("meta").textContent = [where || "no repository", c.llm_model].filter(Boolean).join(" · ");
  const status = byId("status");
  status.textContent = statusText(c);
  status.dataset.state = c.sandbox_status === "RUNNING" ? (c.execution_status ?? "unknown") : c.sandbox_status;
  const usage: string[] = [];
  if (c.cost_usd != null) usage.push(`$${c.cost_usd.toFixed(4)}`);
  if (c.tokens) usage.push(`${c.tokens.prompt.toLocaleString("en")} in / ${c.tokens.completion.toLocaleString("en")} out tokens`);
  byId("usage").textContent = usage.join(" · ");
}

/** Steps arrive newest first, a page at a time; keep every one seen, in the order they happened. */
// State changes show in the status badge; as steps they would only repeat it.
const NOT_STEPS = new Set(["ConversationStateUpdateEvent"]);

export class StepList {
  private readonly seen = new Set<string>();

  add(newestFirst: Step[]): number {
    const list = byId("steps");
    let added = 0;
    for (const step of [...newestFirst].reverse()) {
      if (this.seen.has(step.id) || NOT_STEPS.has(step.kind)) continue;
      this.seen.add(step.id);
      const item = el("li", step.is_error ? "step error" : "step");
      item.dataset.kind = step.kind;
      item.append(el("span", "who", step.source ?? ""), el("span", "kind", step.kind), el("span", "text", step.text));
      list.append(item);
      added += 1;
    }
    return added;
  }
}

export function renderPending(actions: PendingAction[]): void {
  const list = byId("pending-list");
  list.replaceChildren(
    ...actions.map((a) => {
      const item = el("li");
      item.dataset.id = a.id;
      const head = el("div", "head");
      head.append(el("code", "tool", a.tool ?? "action"));
      if (a.risk) head.append(el("span", `risk ${a.risk.toLowerCase()}`, a.risk));
      // Whole and line by line: `echo ok` then `rm -rf …` must not read as one harmless echo.
      item.append(head, el("pre", "does", a.does));
      return item;
    }),
  );
}
