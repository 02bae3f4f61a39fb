// The page: one WebSocket to this tab's session, the controls, the views.
//
// The session id is kept in sessionStorage: it belongs to this tab, so a
// reload (or a dropped connection) finds the same conversation, and another
// tab gets its own. Every message from the server is numbered; on a
// reconnect the page asks for those after the last one it saw.
//
// The stored conversation a tab is in goes in its URL (?conversation=ID) once
// it holds a message, so a reload, a bookmark or a restarted server opens it
// again; the Conversations panel lists the stored ones and opens one.

import { Chat } from "./chat.js";
import { dollars, el, tokens } from "./dom.js";
import { TraceView } from "./trace.js";

const SESSION_KEY = "llmgine-session";
const CONVERSATION_KEY = "llmgine-conversation";
const $ = (selector) => document.querySelector(selector);

const ui = {
  connection: $("#connection"),
  banner: $("#banner"),
  prompt: $("#prompt"),
  send: $("#send"),
  stop: $("#stop"),
  usage: $("#usage"),
  title: $("#title"),
  modelInput: $("#model-input"),
  modelSwitch: $("#model-switch"),
  systemPanel: $("#system-panel"),
  systemToggle: $("#system-toggle"),
  systemInput: $("#system-input"),
  clear: $("#clear"),
  newConversation: $("#new"),
  conversation: $("#conversation"),
  conversationsToggle: $("#conversations-toggle"),
  conversationsPanel: $("#conversations-panel"),
  conversationList: $("#conversation-list"),
  conversationsWhere: $("#conversations-where"),
  cost: $("#cost"),
  trace: $("#trace"),
  traceToggle: $("#trace-toggle"),
};

let sessionId = sessionStorage.getItem(SESSION_KEY);
// The stored conversation to open (from the URL), and the one this tab's session is in.
let wanted = new URLSearchParams(location.search).get("conversation");
let conversationId = sessionStorage.getItem(CONVERSATION_KEY);
if (wanted && !(conversationId && conversationId.startsWith(wanted))) sessionId = null;
let fatal = null;
let lastSeq = 0;
let socket = null;
let retries = 0;
let busy = false;
let notices = [];

const chat = new Chat($("#messages"), send);
const trace = new TraceView(ui.trace);

function send(request) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    chat.notice("Not connected: the request was not sent.", "error");
    return false;
  }
  socket.send(JSON.stringify(request));
  return true;
}

function setConnection(state, text) {
  document.body.dataset.connection = state;
  ui.connection.dataset.state = state;
  ui.connection.textContent = text;
}

function setBusy(value) {
  busy = value;
  document.body.dataset.busy = value ? "yes" : "no";
  ui.send.disabled = value;
  ui.stop.disabled = !value;
}

function showBanner(lines, extra = null) {
  ui.banner.replaceChildren(...lines.map((line) => el("div", { text: line })));
  if (extra) ui.banner.append(extra);
  ui.banner.hidden = !lines.length && !extra;
}

// -- the connection ------------------------------------------------------------------------

function connect() {
  const params = new URLSearchParams({ since: String(lastSeq) });
  if (sessionId) params.set("session", sessionId);
  if (wanted) params.set("conversation", wanted);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  setConnection("connecting", retries ? "reconnecting…" : "connecting…");
  socket = new WebSocket(`${scheme}://${location.host}/ws?${params}`);
  let greeted = false;
  socket.addEventListener("message", (event) => {
    greeted = true;
    receive(JSON.parse(event.data));
  });
  socket.addEventListener("close", (event) => closed(event, greeted));
}

async function refused() {
  // A refused handshake reaches the page as a plain failure: ask over HTTP why.
  try {
    const response = await fetch("/", { method: "HEAD", cache: "no-store" });
    return response.status === 403;
  } catch {
    return false;
  }
}

async function closed(event, greeted) {
  socket = null;
  setBusy(false);
  if (!greeted && (await refused())) {
    setConnection("refused", "refused");
    showBanner(["The server refused this page: open the URL (with its token) that llmgine web printed."]);
    return;
  }
  if (event.code === 4409) {
    setConnection("elsewhere", "open in another tab");
    const restart = el("button", { type: "button", text: "Start a new conversation here", onclick: () => {
      sessionStorage.removeItem(SESSION_KEY);
      setWanted(null); // not the conversation the other tab now has
      sessionId = null;
      lastSeq = 0;
      connect();
    } });
    showBanner(["This conversation was opened in another tab."], restart);
    return;
  }
  if (event.code === 4403) {
    setConnection("refused", "refused");
    showBanner(["The server refused the connection: open the URL (with its token) that llmgine web printed."]);
    return;
  }
  if (event.code === 4429 || event.code === 4500) {
    setConnection("refused", "refused");
    const lines = [fatal ? `The session could not start: ${fatal}` : event.reason || "The server could not start a session."];
    const fresh = wanted ? el("button", { type: "button", text: "Start a new conversation instead", onclick: () => {
      setWanted(null);
      sessionStorage.removeItem(SESSION_KEY);
      sessionId = null;
      fatal = null;
      lastSeq = 0;
      connect();
    } }) : null;
    showBanner(lines, fresh);
    return;
  }
  retries += 1;
  const delay = event.code === 4410 ? 0 : Math.min(5000, 250 * 2 ** Math.min(retries, 5));
  setConnection("offline", "reconnecting…");
  setTimeout(connect, delay);
}

function receive(message) {
  if (typeof message.seq === "number") {
    if (message.seq <= lastSeq) return; // seen before a reconnect
    lastSeq = message.seq;
  }
  const handler = handlers[message.kind];
  if (handler) handler(message);
}

const handlers = {
  hello(message) {
    retries = 0;
    if (message.requested && !message.resumed && !message.conversation) {
      chat.notice("The server no longer had the earlier conversation of this tab: this is a new one.", "warning");
    }
    sessionId = message.session_id;
    sessionStorage.setItem(SESSION_KEY, sessionId);
    if (message.since === 0) {
      chat.reset();
      trace.reset();
      lastSeq = 0;
    }
    document.body.dataset.session = sessionId;
    setConnection("open", "connected");
    applyState(message.state);
  },
  state: applyState,
  event: (message) => chat.onEvent(message.type, message.event),
  trace: (message) => trace.onTrace(message),
  turn(message) {
    chat.onTurn(message);
    setBusy(message.state === "started");
    if (message.state === "finished" && conversationId) setWanted(conversationId); // stored now
  },
  history(message) {
    chat.history(message);
    if (message.conversation_id) setWanted(message.conversation_id);
  },
  new_conversation(message) {
    chat.divider("new conversation");
    setWanted(null);
  },
  approval: (message) => chat.onApproval(message),
  approval_done: (message) => chat.onApprovalDone(message),
  notice: (message) => chat.notice(message.text, message.level),
  cleared: () => chat.cleared(),
  gap: () => chat.notice("Some earlier messages were dropped while this tab was away.", "warning"),
  fatal(message) {
    fatal = message.error;
    showBanner([`The session could not start: ${message.error}`]);
  },
};

function applyState(state) {
  if (!state) return;
  notices = state.notices || [];
  showBanner(notices);
  const model = state.model || (state.models || []).join(", ");
  // On Redis workers the model is known once a worker has answered.
  ui.title.textContent = `${state.engine} · ${model || (state.remote ? "the workers' model" : "")}`;
  if (state.remote) ui.title.textContent += ` · on workers (${state.remote})`;
  if (state.consortium) ui.title.textContent += ` · strategy ${state.consortium.strategy}`;
  if (state.tools && state.tools.length) ui.title.title = `tools: ${state.tools.join(", ")}`;
  document.body.dataset.remote = state.remote ? "yes" : "no";
  const supports = state.supports || {};
  const why = state.unsupported || {};
  const enable = (control, ...elements) => {
    for (const element of elements) {
      element.disabled = !supports[control];
      element.title = supports[control] ? "" : why[control] || "";
    }
  };
  enable("model", ui.modelInput, ui.modelSwitch);
  if (document.activeElement !== ui.modelInput) ui.modelInput.value = state.model || "";
  enable("system", ui.systemToggle);
  if (document.activeElement !== ui.systemInput) ui.systemInput.value = state.system_prompt || "";
  enable("clear", ui.clear);
  enable("new", ui.newConversation);
  conversationId = state.conversation_id || null;
  if (conversationId) sessionStorage.setItem(CONVERSATION_KEY, conversationId);
  else sessionStorage.removeItem(CONVERSATION_KEY);
  ui.conversation.textContent = conversationId ? `conversation ${conversationId.slice(0, 8)}` : "";
  ui.conversation.title = conversationId ? `stored conversation ${conversationId}` : "";
  enable("cost", ui.cost);
  const usage = state.usage;
  if (usage) {
    const cost = dollars(usage.session_cost_usd);
    ui.usage.textContent = `${tokens((usage.session_usage || {}).total_tokens)}${cost ? ` · ${cost}` : ""}`;
  }
  setBusy(Boolean(state.turn_running));
}

// -- the controls --------------------------------------------------------------------------

$("#composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.prompt.value.trim();
  if (!text || busy) return;
  if (send({ type: "prompt", text })) ui.prompt.value = "";
});
ui.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("#composer").requestSubmit();
  }
});
ui.stop.addEventListener("click", () => send({ type: "stop" }));
$("#model-form").addEventListener("submit", (event) => {
  event.preventDefault();
  send({ type: "model", model: ui.modelInput.value.trim() });
  ui.modelInput.blur();
});
ui.systemToggle.addEventListener("click", () => {
  ui.systemPanel.hidden = !ui.systemPanel.hidden;
  ui.systemToggle.setAttribute("aria-expanded", String(!ui.systemPanel.hidden));
});
$("#system-form").addEventListener("submit", (event) => {
  event.preventDefault();
  send({ type: "system", prompt: ui.systemInput.value });
  ui.systemInput.blur();
});
$("#system-remove").addEventListener("click", () => send({ type: "system", prompt: null }));
ui.clear.addEventListener("click", () => send({ type: "clear" }));
ui.newConversation.addEventListener("click", () => send({ type: "new" }));
ui.conversationsToggle.addEventListener("click", () => {
  ui.conversationsPanel.hidden = !ui.conversationsPanel.hidden;
  ui.conversationsToggle.setAttribute("aria-expanded", String(!ui.conversationsPanel.hidden));
  if (!ui.conversationsPanel.hidden) listConversations();
});
ui.cost.addEventListener("click", () => send({ type: "cost" }));
ui.traceToggle.addEventListener("click", () => {
  ui.trace.hidden = !ui.trace.hidden;
  ui.traceToggle.setAttribute("aria-expanded", String(!ui.trace.hidden));
  document.body.classList.toggle("with-trace", !ui.trace.hidden);
});

// -- stored conversations ------------------------------------------------------------------

// Put the conversation in the page's URL (null: take it out); the rest of the URL stays.
function setWanted(id) {
  wanted = id;
  const url = new URL(location.href);
  if (id) url.searchParams.set("conversation", id);
  else url.searchParams.delete("conversation");
  history.replaceState(null, "", url);
}

async function listConversations() {
  let data;
  try {
    const response = await fetch("/api/conversations", { cache: "no-store" });
    data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
  } catch (error) {
    ui.conversationList.replaceChildren(el("li", { class: "dim", text: `Could not list them: ${error.message}` }));
    return;
  }
  ui.conversationsWhere.textContent = data.stored ? data.path : "this server does not store conversations";
  const items = (data.conversations || []).map((c) => {
    const link = el("a", { href: `/?conversation=${encodeURIComponent(c.id)}`, text: c.title || "(no message yet)" });
    const when = new Date(c.updated_at * 1000).toLocaleString();
    return el("li", { "data-id": c.id, "data-current": c.id === conversationId ? "yes" : "no" },
      link, " ", el("span", { class: "dim", text: `${c.id.slice(0, 8)} · ${c.message_count} messages · ${when}` }));
  });
  if (!items.length && data.stored) items.push(el("li", { class: "dim", text: "None stored yet." }));
  ui.conversationList.replaceChildren(...items);
}

setBusy(false);
connect();
