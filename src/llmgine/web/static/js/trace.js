// The trace view: each turn's tree (command -> model calls -> tool calls), live,
// and the logs of the server's log directory, opened read-only.
//
// The server builds the trees (llmgine.web.trace, from the journal); this
// draws them. Everything is shown as text.

import { append, dollars, el, seconds, stickToBottom, tokens } from "./dom.js";

const ICONS = { command: "▶", model: "◆", tool: "⚙", run: "●", member: "◇", round: "◎", combine: "⊕", event: "·" };

/** One tree node (and its children) as a list item. */
export function nodeElement(node) {
  const facts = [];
  if (node.duration_s !== null && node.duration_s !== undefined) facts.push(seconds(node.duration_s));
  if (node.tokens) facts.push(tokens(node.tokens));
  if (node.cost_usd !== null && node.cost_usd !== undefined) facts.push(dollars(node.cost_usd));
  if (node.confidence !== null && node.confidence !== undefined) {
    facts.push(`confidence ${Math.round(Number(node.confidence) * 100)}%`);
  }
  const states = { running: "running…", cancelled: "cancelled", unfinished: "no end logged" };
  if (states[node.status]) facts.push(states[node.status]);
  const line = el("div", { class: "line" },
    el("span", { class: "icon", text: ICONS[node.kind] || "·" }),
    el("span", { class: "title", text: node.title }),
    facts.length ? el("span", { class: "facts", text: ` · ${facts.join(" · ")}` }) : null);
  const item = el("li", { class: `node kind-${node.kind} status-${node.status}`,
    "data-kind": node.kind, "data-status": node.status, "data-type": node.type }, line);
  if (node.detail) append(item, el("div", { class: "detail", text: node.detail }));
  if (node.result) append(item, el("div", { class: "result", text: `→ ${node.result}` }));
  if (node.error) append(item, el("div", { class: "error", text: `✗ ${node.error}` }));
  if (node.totals) {
    const t = node.totals;
    const cost = t.cost_usd === null || t.cost_usd === undefined ? "cost -" : `cost ${dollars(t.cost_usd)}`;
    append(item, el("div", { class: "totals",
      text: `${t.model_calls} model call(s) · ${t.tool_calls} tool call(s) · ${tokens(t.tokens)} · ${cost}` }));
  }
  if (node.children && node.children.length) {
    append(item, el("ul", { class: "tree" }, node.children.map(nodeElement)));
  }
  return item;
}

/** The trees of a trace (or a log) as one list. */
export function treeList(roots) {
  return el("ul", { class: "tree roots" }, roots.map(nodeElement));
}

export class TraceView {
  constructor(root) {
    this.root = root;
    this.live = root.querySelector("#trace-live");
    this.logs = root.querySelector("#trace-logs");
    this.list = root.querySelector("#log-list");
    this.view = root.querySelector("#log-view");
    this.logDir = root.querySelector("#log-dir");
    this.traces = new Map();
    this.loaded = false;
    for (const tab of root.querySelectorAll(".tabs button")) {
      tab.addEventListener("click", () => this.showTab(tab.dataset.tab));
    }
    root.querySelector("#logs-refresh").addEventListener("click", () => this.loadLogs());
  }

  reset() {
    this.traces.clear();
    this.live.replaceChildren(el("p", { class: "empty", text: "Each turn's tree appears here as it runs." }));
  }

  showTab(name) {
    for (const tab of this.root.querySelectorAll(".tabs button")) {
      tab.classList.toggle("active", tab.dataset.tab === name);
    }
    this.live.hidden = name !== "live";
    this.logs.hidden = name !== "logs";
    if (name === "logs" && !this.loaded) this.loadLogs();
  }

  onTrace(message) {
    let box = this.traces.get(message.trace_id);
    if (!box) {
      this.live.querySelector(".empty")?.remove();
      box = el("section", { class: "trace", "data-trace-id": message.trace_id });
      this.traces.set(message.trace_id, box);
      stickToBottom(this.live, () => this.live.append(box));
    }
    box.replaceChildren(treeList(message.roots || []));
  }

  async loadLogs() {
    this.loaded = true;
    this.list.replaceChildren(el("li", { class: "dim", text: "loading…" }));
    try {
      const data = await fetchJson("/api/logs");
      this.logDir.textContent = `in ${data.log_dir} (read-only)`;
      if (!data.runs.length) {
        this.list.replaceChildren(el("li", { class: "dim", text: "no logs yet" }));
        return;
      }
      this.list.replaceChildren(...data.runs.map((run) => el("li", {},
        el("button", { type: "button", class: "log-run", "data-run": run.run, onclick: () => this.openRun(run),
          text: `${run.started.slice(0, 19).replace("T", " ")} · ${run.engine || "?"} · ${run.models.join(", ") || "-"}` }),
        el("span", { class: "dim", text: ` ${run.turns} turn(s) · ${tokens(run.tokens)}` }))));
    } catch (error) {
      this.list.replaceChildren(el("li", { class: "error", text: String(error.message || error) }));
    }
  }

  async openRun(run) {
    this.view.replaceChildren(el("p", { class: "dim", text: "reading…" }));
    try {
      const data = await fetchJson(`/api/logs/trace?run=${encodeURIComponent(run.run)}`);
      const header = el("div", { class: "log-header" },
        el("strong", { text: data.files.join(", ") }), el("span", { class: "badge", text: "read-only" }));
      const parts = [header];
      if (data.omitted) parts.push(el("p", { class: "dim", text: `${data.omitted} earlier tree(s) not shown` }));
      for (const problem of data.problems) parts.push(el("p", { class: "warning", text: problem }));
      parts.push(treeList(data.trees));
      this.view.replaceChildren(...parts);
    } catch (error) {
      this.view.replaceChildren(el("p", { class: "error", text: String(error.message || error) }));
    }
  }
}

async function fetchJson(url) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}
