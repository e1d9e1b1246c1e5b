// Polls through the host while someone can see the panel or the agent is still at work, and stops
// once the agent has stopped and the panel is out of sight: each poll is a tool call the host
// relays, so an idle, hidden panel should cost nothing.

export const ACTIVE_MS = 2000;
export const IDLE_MS = 15000;

export class Poller {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private visible = true;
  private active = true;
  private busy = false;
  private stopped = false;

  /** `tick` refreshes the panel and says whether the agent is still active. */
  constructor(private readonly tick: () => Promise<boolean>) {
    document.addEventListener("visibilitychange", () => this.setVisible(document.visibilityState === "visible"));
    // Inside a host the iframe can be scrolled out of the chat's view while the tab stays visible.
    new IntersectionObserver((entries) => this.setVisible(entries.some((e) => e.isIntersecting))).observe(
      document.body,
    );
  }

  /** Refresh now (after an action or new data), then keep going on the usual schedule. */
  async now(): Promise<void> {
    if (this.stopped || this.busy) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.busy = true;
    try {
      this.active = await this.tick();
    } finally {
      this.busy = false;
    }
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private setVisible(visible: boolean): void {
    const wasIdle = this.timer === undefined && !this.busy;
    this.visible = visible && document.visibilityState === "visible";
    if (this.visible && wasIdle) void this.now();
    else if (!this.visible && !this.active) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.show("stopped");
    }
  }

  private schedule(): void {
    if (this.stopped || (!this.active && !this.visible)) {
      this.show("stopped");
      return;
    }
    this.timer = setTimeout(() => void this.now(), this.active ? ACTIVE_MS : IDLE_MS);
    this.show(this.active ? "active" : "idle");
  }

  /** The schedule, on the root element, for anyone inspecting the panel (and its tests). */
  private show(state: "active" | "idle" | "stopped"): void {
    document.documentElement.dataset.polling = state;
  }
}
