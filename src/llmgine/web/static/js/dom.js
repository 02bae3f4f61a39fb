// Small DOM helpers and the Markdown renderer of the page.
//
// Everything a model, a tool or a log says is put in the page as text
// (textContent), except Markdown answers: those go through markdown-it with
// raw HTML turned off, so "<script>" in an answer is shown, never run, and
// links may only point at http(s) or mailto addresses; images are not loaded.

const markdown = window.markdownit({ html: false, linkify: false, typographer: false });
markdown.disable("image"); // an image would be a request to another server
const SAFE_LINK = /^(https?:|mailto:)/i;
markdown.validateLink = (url) => SAFE_LINK.test(url.trim());
const defaultLinkOpen =
  markdown.renderer.rules.link_open ||
  ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options));
markdown.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet("target", "_blank");
  tokens[idx].attrSet("rel", "noopener noreferrer");
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/** Render Markdown source into `target` (HTML in the source is shown as text). */
export function renderMarkdown(target, source) {
  target.innerHTML = markdown.render(String(source ?? ""));
}

/** `el("div", {class: "x"}, "text", child)`: an element; strings become text nodes. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

/** Append children (strings as text). */
export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Seconds, as "0.42 s" or "12 s". */
export function seconds(value) {
  if (value === undefined || value === null) return "";
  const n = Number(value);
  return n < 10 ? `${n.toFixed(2)} s` : `${Math.round(n)} s`;
}

/** "1,234 tokens". */
export function tokens(value) {
  const n = Number(value || 0);
  return `${n.toLocaleString("en-US")} token${n === 1 ? "" : "s"}`;
}

/** "$0.0012", or "" when unknown. */
export function dollars(value) {
  return value === undefined || value === null ? "" : `$${Number(value).toFixed(4)}`;
}

/** JSON, indented, for arguments and results. */
export function pretty(value) {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** Keep a scrolled container at its bottom if it was there before a change. */
export function stickToBottom(container, change) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  change();
  if (atBottom) container.scrollTop = container.scrollHeight;
}
