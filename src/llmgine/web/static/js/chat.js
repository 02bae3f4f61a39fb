// The conversation: one block per turn, built from the session's messages.
//
// A turn shows the user's prompt, then what the engine reports as it works:
// thinking (collapsed), streamed Markdown text, a panel per tool call,
// approval prompts, consortium members and rounds, and a footer with the
// outcome. Events find their turn by trace id (the turn's command id).

import { append, dollars, el, pretty, renderMarkdown, seconds, stickToBottom, tokens } from "./dom.js";

export class Chat {
  constructor(container, send) {
    this.container = container;
    this.send = send;
    this.turns = new Map();
    this.last = null;
    this.approvals = new Map();
  }

  reset() {
    for (const approval of this.approvals.values()) clearInterval(approval.timer);
    this.approvals.clear();
    this.turns.clear();
    this.last = null;
    this.container.replaceChildren();
  }

  add(node) {
    stickToBottom(this.container, () => this.container.append(node));
    return node;
  }

  notice(text, level = "info") {
    this.add(el("div", { class: `notice ${level}`, text }));
  }

  cleared() {
    this.add(el("div", { class: "divider", text: "conversation cleared" }));
  }

  divider(text) {
    this.add(el("div", { class: "divider", text }));
  }

  // A continued stored conversation: what was said before this tab opened it.
  history(message) {
    if (message.omitted) {
      this.add(el("div", { class: "history-note", text: `${message.omitted} earlier messages are not shown.` }));
    }
    let turn = null;
    for (const item of message.items || []) {
      if (item.role === "user" || !turn) {
        turn = el("article", { class: "turn past", "data-state": "stored" });
        if (item.role === "user") turn.append(el("div", { class: "user-message", text: item.text }));
        this.add(turn);
        if (item.role === "user") continue;
      }
      if (item.role === "assistant") {
        if (item.text) {
          const node = el("div", { class: "answer markdown" });
          renderMarkdown(node, item.text);
          turn.append(node);
        }
        for (const call of item.tool_calls || []) {
          turn.append(el("div", { class: "past-call", text: `→ ${call.name}(${call.arguments})` }));
        }
      } else if (item.role === "tool") {
        turn.append(el("div", { class: "past-call", text: `← ${item.name}: ${item.text}` }));
      }
    }
    this.divider(`continuing conversation ${message.conversation_id}`);
  }

  // -- turns ---------------------------------------------------------------------------

  onTurn(message) {
    if (message.state === "started") return this.startTurn(message);
    const turn = this.turns.get(message.turn_id);
    if (!turn) return;
    turn.root.dataset.state = message.state === "finished" && !message.success ? "failed" : message.state;
    this.setStatus(turn, "");
    if (message.state === "cancelled") {
      turn.footer.replaceChildren(el("span", { class: "cancelled", text: "Stopped: the turn was cancelled." }));
      return;
    }
    if (message.success) this.showResult(turn, message.result);
    turn.footer.replaceChildren(...footer(message));
  }

  startTurn(message) {
    const root = el("article", { class: "turn", "data-turn-id": message.turn_id, "data-state": "running" });
    const body = el("div", { class: "assistant" });
    const status = el("div", { class: "status", hidden: true });
    const footerEl = el("div", { class: "turn-footer" });
    append(root, el("div", { class: "user-message", text: message.prompt }), body, status, footerEl);
    const turn = { id: message.turn_id, root, body, status, footer: footerEl, segment: null,
      thinking: null, tools: new Map(), members: null, cards: new Map(), streamed: false };
    this.turns.set(message.turn_id, turn);
    this.last = turn;
    this.add(root);
    this.setStatus(turn, "working…");
    return turn;
  }

  turnOf(payload) {
    return this.turns.get(payload.trace_id) || this.last;
  }

  place(turn, node) {
    stickToBottom(this.container, () => turn.body.append(node));
    return node;
  }

  setStatus(turn, text) {
    turn.status.hidden = !text;
    turn.status.replaceChildren(el("span", { class: "spinner" }), text);
  }

  showResult(turn, result) {
    if (result === null || result === undefined || result === "") return;
    if (turn.streamed && turn.segment) {
      turn.segment.raw = result; // the whole answer, masked whole: it wins over the pieces
      renderMarkdown(turn.segment.node, result);
      return;
    }
    const node = el("div", { class: "answer markdown final" });
    if (turn.members) this.place(turn, el("h3", { class: "final-title", text: "Final answer" }));
    renderMarkdown(node, result);
    this.place(turn, node);
  }

  // -- events --------------------------------------------------------------------------

  onEvent(type, payload) {
    const turn = this.turnOf(payload);
    if (!turn) return;
    const handler = this.handlers[type];
    if (handler) handler.call(this, turn, payload);
  }

  get handlers() {
    return {
      EngineTextDeltaEvent: this.text,
      EngineThinkingDeltaEvent: this.thought,
      EngineStatusEvent: (turn, e) => this.setStatus(turn, e.status === "finished" ? "" : e.status),
      LLMCallEvent: (turn) => { turn.segment = null; turn.thinking = null; },
      ToolCallStartedEvent: this.toolStarted,
      ToolExecuteResultEvent: this.toolFinished,
      ConsortiumMemberEvent: this.member,
      ConsortiumIterationEvent: this.round,
      ConsortiumCombineEvent: this.combine,
      EventHandlerFailedEvent: (turn, e) =>
        this.place(turn, el("div", { class: "notice warning", text: `A handler failed: ${e.handler}: ${e.exception}` })),
    };
  }

  text(turn, e) {
    if (!turn.segment) {
      const node = el("div", { class: "answer markdown", "data-streamed": "yes" });
      turn.segment = { raw: "", node: this.place(turn, node), queued: false };
    }
    const segment = turn.segment;
    segment.raw += e.text || "";
    turn.streamed = true;
    if (!segment.queued) {
      segment.queued = true;
      requestAnimationFrame(() => {
        segment.queued = false;
        stickToBottom(this.container, () => renderMarkdown(segment.node, segment.raw));
      });
    }
  }

  thought(turn, e) {
    if (!turn.thinking) {
      const pre = el("pre", { class: "thinking-text" });
      const summary = el("summary", { text: "Thinking" });
      const node = this.place(turn, el("details", { class: "thinking" }, summary, pre));
      turn.thinking = { raw: "", pre, summary, node };
    }
    turn.thinking.raw += e.text || "";
    turn.thinking.pre.textContent = turn.thinking.raw;
    const words = turn.thinking.raw.trim().split(/\s+/).filter(Boolean).length;
    turn.thinking.summary.textContent = `Thinking (${words} word${words === 1 ? "" : "s"})`;
  }

  toolPanel(turn, e) {
    let panel = turn.tools.get(e.tool_call_id);
    if (panel) return panel;
    const state = el("span", { class: "tool-state", text: "running…" });
    const args = el("pre", { class: "tool-arguments", text: pretty(e.arguments ?? {}) });
    const result = el("pre", { class: "tool-result", hidden: true });
    const node = el("details", { class: "tool-panel", open: true, "data-tool": e.tool_name, "data-state": "running" },
      el("summary", {}, el("span", { class: "tool-name", text: e.tool_name }), " ", state),
      el("div", { class: "label", text: "arguments" }), args, result);
    panel = { node, state, args, result };
    turn.tools.set(e.tool_call_id, panel);
    this.place(turn, node);
    return panel;
  }

  toolStarted(turn, e) {
    turn.segment = null;
    this.toolPanel(turn, e);
  }

  toolFinished(turn, e) {
    const panel = this.toolPanel(turn, e);
    panel.args.textContent = pretty(e.arguments ?? {});
    panel.node.dataset.state = e.is_error ? "error" : "done";
    panel.state.textContent = e.is_error
      ? `✗ ${e.error_type || "error"} · ${seconds(e.duration_s)}`
      : `✓ ${seconds(e.duration_s)}`;
    panel.result.hidden = false;
    panel.result.classList.toggle("error", Boolean(e.is_error));
    panel.result.textContent = e.result;
  }

  member(turn, e) {
    if (!turn.members) turn.members = this.place(turn, el("div", { class: "members" }));
    const key = `${e.label}|${e.stage}`;
    let card = turn.cards.get(key);
    if (!card) {
      const stage = e.stage && e.stage !== "answer" ? ` · ${e.stage}` : "";
      card = { node: el("section", { class: "member", "data-label": e.label }), head: null, body: null };
      card.head = el("div", { class: "member-meta" });
      card.body = el("div", { class: "markdown member-answer" });
      append(card.node, el("h4", { text: `${e.label} · ${e.model}${stage}` }), card.body, card.head);
      turn.cards.set(key, card);
      turn.members.append(card.node);
    }
    card.node.dataset.state = e.state;
    if (e.state === "started") card.head.textContent = "answering…";
    else if (e.state === "failed") {
      card.body.replaceChildren(el("div", { class: "error", text: e.error || "no answer" }));
      card.head.textContent = seconds(e.duration_s);
    } else {
      renderMarkdown(card.body, e.content || "(empty answer)");
      const usage = e.usage || {};
      card.head.textContent = [seconds(e.duration_s), tokens(usage.total_tokens), dollars(e.cost_usd)]
        .filter(Boolean).join(" · ");
    }
  }

  round(turn, e) {
    const line = el("div", { class: "round" }, el("strong", { text: `${e.strategy} round ${e.iteration}` }));
    if (e.confidence !== null && e.confidence !== undefined) {
      const percent = Math.round(Number(e.confidence) * 100);
      const meter = el("meter", { min: 0, max: 100, value: percent, low: 50, high: 80, optimum: 100 });
      append(line, " · confidence ", el("span", { class: "confidence", text: `${percent}%` }), " ", meter);
    }
    let summary = e.summary || "";
    if (e.confidence !== null && e.confidence !== undefined) {
      // The summary may say the confidence again: it is shown once.
      summary = summary.replace(`confidence ${Math.round(Number(e.confidence) * 100)}%`, "").replace(/^[\s,·]+|[\s,·]+$/g, "");
    }
    if (summary) append(line, el("span", { class: "dim", text: ` · ${summary}` }));
    this.place(turn, line);
  }

  combine(turn, e) {
    if (!["failed", "fallback", "unparseable"].includes(e.state)) return;
    const who = e.model ? `${e.model} ` : "";
    this.place(turn, el("div", { class: "notice warning", text: `⚠ ${who}${e.state}: ${e.reason || ""}` }));
  }

  // -- approvals -------------------------------------------------------------------------

  onApproval(message) {
    const turn = this.turns.get(message.trace_id) || this.last;
    if (!turn || this.approvals.has(message.id)) return;
    const countdown = el("span", { class: "countdown" });
    const answer = (allow) => {
      this.send({ type: "approve", id: message.id, allow });
      for (const button of buttons.querySelectorAll("button")) button.disabled = true;
    };
    const buttons = el("div", { class: "row" },
      el("button", { type: "button", class: "allow", text: "Allow", onclick: () => answer(true) }),
      el("button", { type: "button", class: "deny", text: "Deny", onclick: () => answer(false) }),
      countdown);
    const node = el("section", { class: "approval", "data-state": "pending", "data-tool": message.tool_name },
      el("h4", { text: `Approve running ${message.tool_name}?` }),
      message.description ? el("p", { class: "dim", text: message.description.split("\n")[0] }) : null,
      el("pre", { class: "tool-arguments", text: pretty(message.arguments) }),
      buttons, el("div", { class: "approval-outcome" }));
    const tick = () => {
      const left = Math.max(0, Math.round(message.deadline - Date.now() / 1000));
      countdown.textContent = `denied in ${left} s without an answer`;
    };
    tick();
    this.approvals.set(message.id, { node, timer: setInterval(tick, 1000) });
    this.place(turn, node);
  }

  onApprovalDone(message) {
    const approval = this.approvals.get(message.id);
    if (!approval) return;
    clearInterval(approval.timer);
    const words = { allowed: "Allowed.", denied: "Denied.", timeout: "No answer in time: denied.", cancelled: "Cancelled." };
    approval.node.dataset.state = message.outcome;
    for (const button of approval.node.querySelectorAll("button")) button.disabled = true;
    approval.node.querySelector(".countdown").textContent = "";
    approval.node.querySelector(".approval-outcome").textContent = words[message.outcome] || message.outcome;
  }
}

function footer(message) {
  const meta = message.metadata || {};
  const usage = meta.usage || {};
  const parts = [];
  if (message.success) parts.push(el("span", { class: "ok", text: "✓" }));
  else parts.push(el("span", { class: "error", text: `✗ ${message.error || "failed"}` }));
  const facts = [];
  if (usage.total_tokens) facts.push(tokens(usage.total_tokens));
  if (meta.cost_usd !== undefined && meta.cost_usd !== null) facts.push(dollars(meta.cost_usd));
  if (meta.iterations) facts.push(`${meta.strategy} · ${meta.iterations} round(s)`);
  if (meta.confidence !== undefined && meta.confidence !== null) {
    facts.push(`confidence ${Math.round(meta.confidence * 100)}%`);
  }
  if (meta.model) facts.push(meta.model);
  if (facts.length) parts.push(el("span", { class: "dim", text: ` ${facts.join(" · ")}` }));
  return parts;
}
