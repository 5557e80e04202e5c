// The chat page: plain JavaScript over the service's own API, from its own origin.
//
// The first POST /chat of a new visitor creates an anonymous user and sets an HttpOnly
// cookie; every later call goes by that cookie (same origin, so the CSRF check passes).
// Calls: GET/PATCH/DELETE /sessions[/{id}], GET /sessions/{id}/messages, POST /chat and
// POST /messages/{id}/regenerate with stream: true (server-sent events: start, delta...,
// done or error), GET /search, PUT/DELETE /messages/{id}/feedback, GET/POST /documents,
// GET /documents/{id}, POST /auth/logout. Nothing is written into the page as HTML: text
// goes in as text (a search snippet's <mark>s are rebuilt as elements, see snippetNodes).

const SESSIONS_PAGE = 20;
const MESSAGES_PAGE = 50;
const DOCUMENTS_PAGE = 20;
const RESULTS_PAGE = 20;
const TITLE_CHARS = 80;
// How many older pages a search result may have to read to reach its message.
const REVEAL_PAGES = 10;

const $ = (id) => document.getElementById(id);
const ui = {
  toggle: $("sidebar-toggle"),
  sidebar: $("sidebar"),
  logout: $("logout"),
  newChat: $("new-chat"),
  sessions: $("sessions"),
  sessionsEmpty: $("sessions-empty"),
  moreSessions: $("more-sessions"),
  searchForm: $("search-form"),
  searchInput: $("search-input"),
  searchResults: $("search-results"),
  searchSummary: $("search-summary"),
  resultsList: $("results"),
  moreResults: $("more-results"),
  clearSearch: $("clear-search"),
  uploadForm: $("upload-form"),
  uploadFile: $("upload-file"),
  uploadButton: $("upload-button"),
  uploadHint: $("upload-hint"),
  documents: $("documents"),
  title: $("chat-title"),
  older: $("older-messages"),
  messages: $("messages"),
  welcome: $("welcome"),
  status: $("status"),
  composer: $("composer"),
  input: $("composer-input"),
  send: $("send"),
};

const state = {
  signedIn: false,
  sessionId: null, // the chat on screen; null: a new chat, started by its first question
  sessions: new Map(), // id -> the session as GET /sessions lists it
  sessionsCursor: null,
  olderCursor: null,
  view: 0, // bumped whenever another chat is shown: late answers then leave the screen alone
  busy: false,
  // message id -> "up" | "down": the caller's ratings, as far as this page knows them (the
  // ratings it set, and those the history says when it carries a message's `rating`).
  ratings: new Map(),
  search: { q: null, cursor: null, run: 0 }, // run: bumped per search, so a late page is dropped
};

// --- the API ------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message, details = null, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  static async of(response) {
    let error = {};
    try {
      error = (await response.json()).error ?? {};
    } catch {
      // not the API's JSON error: say what HTTP said
    }
    return new ApiError(
      response.status,
      error.code ?? "http_error",
      error.message ?? `${response.status} ${response.statusText}`,
      error.details ?? null,
      response.headers.get("Retry-After"),
    );
  }

  get text() {
    const wait = this.retryAfter ? ` (retry in ${this.retryAfter} s)` : "";
    return `${this.message}${wait}`;
  }
}

async function api(method, path, { json, form } = {}) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form; // the browser writes the multipart Content-Type and its boundary
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "the service cannot be reached; check the connection");
  }
  if (!response.ok) throw await ApiError.of(response);
  return response.status === 204 ? null : response.json();
}

function query(path, params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

// The events of a text/event-stream body, as {event, data} with data decoded from JSON.
async function* serverSentEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + value).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event !== null) yield event;
    }
  }
}

function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: JSON.parse(data.join("\n")) } : null;
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // plain HTTP: no randomUUID
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// --- small DOM helpers --------------------------------------------------------------------

function element(tag, { className, text, attributes } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attributes ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

function button(text, className, attributes = {}) {
  return element("button", { className, text, attributes: { type: "button", ...attributes } });
}

function say(message) {
  ui.status.textContent = message;
}

function when(iso) {
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { month: "short", day: "numeric" });
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

// --- signed in or not ---------------------------------------------------------------------

function setSignedIn(signedIn) {
  state.signedIn = signedIn;
  ui.logout.hidden = !signedIn;
  ui.uploadFile.disabled = !signedIn;
  ui.uploadButton.disabled = !signedIn;
  ui.uploadHint.hidden = signedIn;
  if (!signedIn) {
    state.sessions.clear();
    state.sessionsCursor = null;
    renderSessions();
    ui.documents.replaceChildren();
    state.ratings.clear();
    clearSearch();
  }
}

// --- sessions -----------------------------------------------------------------------------

function sessionTitle(session) {
  return session.title || `Chat of ${when(session.created_at)}`;
}

async function loadSessions({ more = false } = {}) {
  let page;
  try {
    page = await api("GET", query("/sessions", {
      limit: SESSIONS_PAGE,
      cursor: more ? state.sessionsCursor : null,
    }));
  } catch (error) {
    if (error.status === 401) {
      setSignedIn(false);
      return;
    }
    say(`The chats could not be loaded: ${error.text}`);
    return;
  }
  setSignedIn(true);
  if (!more) state.sessions.clear();
  for (const session of page.sessions) state.sessions.set(session.id, session);
  state.sessionsCursor = page.next_cursor;
  renderSessions();
}

function renderSessions() {
  ui.sessions.replaceChildren(...Array.from(state.sessions.values(), sessionItem));
  ui.sessionsEmpty.hidden = state.sessions.size > 0;
  ui.moreSessions.hidden = !state.sessionsCursor;
}

function sessionItem(session) {
  const title = sessionTitle(session);
  const open = element("button", {
    className: "session__open",
    attributes: { type: "button" },
  }, [
    element("span", { className: "session__title", text: title }),
    element("span", {
      className: "session__meta",
      text: `${when(session.last_activity_at)} · ${session.message_count} messages`,
    }),
  ]);
  if (session.id === state.sessionId) open.setAttribute("aria-current", "true");
  open.addEventListener("click", () => openSession(session.id));
  const rename = button("Rename", "session__action", { "aria-label": `Rename chat: ${title}` });
  rename.addEventListener("click", () => startRename(item, session));
  const remove = button("Delete", "session__action", { "aria-label": `Delete chat: ${title}` });
  remove.addEventListener("click", () => deleteSession(session));
  const item = element("li", { className: "session", attributes: { "data-id": session.id } }, [
    open,
    element("div", { className: "session__actions" }, [rename, remove]),
  ]);
  return item;
}

function upsertSession(session, { toTop = false } = {}) {
  if (toTop) {
    state.sessions.delete(session.id);
    state.sessions = new Map([[session.id, session], ...state.sessions]);
  } else {
    state.sessions.set(session.id, session);
  }
  renderSessions();
  if (session.id === state.sessionId) ui.title.textContent = sessionTitle(session);
}

function startRename(item, session) {
  const inputId = `rename-${session.id}`;
  const input = element("input", {
    attributes: { id: inputId, type: "text", maxlength: "200", required: "", value: session.title ?? "" },
  });
  const cancel = button("Cancel", "session__action");
  const form = element("form", { className: "session__rename" }, [
    element("label", { className: "visually-hidden", text: "New title", attributes: { for: inputId } }),
    input,
    element("button", { className: "session__action", text: "Save", attributes: { type: "submit" } }),
    cancel,
  ]);
  const restore = () => {
    renderSessions();
    ui.sessions.querySelector(`[data-id="${session.id}"] .session__open`)?.focus();
  };
  cancel.addEventListener("click", restore);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") restore();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = input.value.trim();
    if (!title) return;
    try {
      upsertSession(await api("PATCH", `/sessions/${session.id}`, { json: { title } }));
      say(`Chat renamed to “${title}”.`);
    } catch (error) {
      say(`The chat could not be renamed: ${error.text}`);
      renderSessions();
    }
    ui.sessions.querySelector(`[data-id="${session.id}"] .session__open`)?.focus();
  });
  item.replaceChildren(form);
  input.focus();
  input.select();
}

async function deleteSession(session) {
  if (!window.confirm(`Delete the chat “${sessionTitle(session)}” and its messages?`)) return;
  try {
    await api("DELETE", `/sessions/${session.id}`);
  } catch (error) {
    if (error.status !== 404) {
      say(`The chat could not be deleted: ${error.text}`);
      return;
    }
  }
  state.sessions.delete(session.id);
  renderSessions();
  say("Chat deleted.");
  if (session.id === state.sessionId) newChat();
  else ui.newChat.focus();
}

// --- search -------------------------------------------------------------------------------

const ROLE_LABEL = { user: "You", assistant: "Answer", system: "System" };

async function searchMessages({ more = false } = {}) {
  const q = more ? state.search.q : ui.searchInput.value.trim();
  if (!q) return;
  const run = ++state.search.run;
  ui.searchResults.hidden = false;
  if (!more) {
    state.search = { q, cursor: null, run };
    ui.resultsList.replaceChildren();
    ui.moreResults.hidden = true;
  }
  if (!state.signedIn) {
    ui.searchSummary.textContent = "Nothing to search yet: ask a first question.";
    return;
  }
  ui.searchSummary.textContent = "Searching…";
  let page;
  try {
    page = await api("GET", query("/search", {
      q,
      limit: RESULTS_PAGE,
      cursor: more ? state.search.cursor : null,
    }));
  } catch (error) {
    if (run !== state.search.run) return;
    if (error.status === 401) setSignedIn(false);
    ui.searchSummary.textContent = `The search failed: ${error.text}`;
    return;
  }
  if (run !== state.search.run) return;
  const first = ui.resultsList.children.length;
  ui.resultsList.append(...page.results.map(resultItem));
  state.search.cursor = page.next_cursor;
  ui.moreResults.hidden = !page.next_cursor;
  const count = ui.resultsList.children.length;
  if (count === 0) ui.searchSummary.textContent = `No message matches “${q}”.`;
  else if (page.next_cursor) ui.searchSummary.textContent = `The best ${count} matches of “${q}”.`;
  else ui.searchSummary.textContent = `${count} ${count === 1 ? "match" : "matches"} of “${q}”.`;
  if (more) ui.resultsList.children[first]?.querySelector("button")?.focus();
}

function resultItem(result) {
  const open = element("button", {
    className: "result__open",
    attributes: { type: "button" },
  }, [
    element("span", { className: "result__title", text: result.session_title || "Untitled chat" }),
    element("span", { className: "result__snippet" }, snippetNodes(result.snippet)),
    element("span", {
      className: "result__meta",
      text: `${ROLE_LABEL[result.role] ?? result.role} · ${when(result.created_at)}`,
    }),
  ]);
  open.addEventListener("click", () => openSession(result.session_id, {
    messageId: result.message_id,
    title: result.session_title,
  }));
  return element("li", {
    className: "result",
    attributes: { "data-message-id": result.message_id, "data-session-id": result.session_id },
  }, [open]);
}

// The server sends a snippet as the message's text HTML-escaped, with each match between
// <mark> and </mark>. Those two tags become elements; everything else goes in as text, so no
// text of a message is ever parsed as markup.
function snippetNodes(snippet) {
  const nodes = [];
  let marked = false;
  for (const part of snippet.split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) {
      const text = unescapeHtml(part);
      nodes.push(marked ? element("mark", { text }) : document.createTextNode(text));
    }
  }
  return nodes;
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', "#x27": "'", "#39": "'" };

function unescapeHtml(text) {
  return text.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (_, name) => ENTITIES[name]);
}

function clearSearch() {
  state.search = { q: null, cursor: null, run: state.search.run + 1 };
  ui.searchResults.hidden = true;
  ui.resultsList.replaceChildren();
  ui.searchSummary.textContent = "";
}

// --- the chat on screen -------------------------------------------------------------------

function showChat(sessionId, title) {
  state.view += 1;
  state.sessionId = sessionId;
  state.olderCursor = null;
  ui.title.textContent = title;
  ui.older.hidden = true;
  ui.messages.replaceChildren(ui.welcome);
  ui.welcome.hidden = sessionId !== null;
  history.replaceState(null, "", sessionId ? `#${sessionId}` : location.pathname);
  renderSessions(); // the current one is marked
  closeSidebar();
}

function newChat() {
  showChat(null, "New chat");
  say("");
  ui.input.focus();
}

// messageId: a message to scroll to and mark (a search result's); title: the chat's title
// when the list has not loaded it.
async function openSession(sessionId, { messageId = null, title = null } = {}) {
  const known = state.sessions.get(sessionId);
  showChat(sessionId, known ? sessionTitle(known) : title || "Chat");
  const view = state.view;
  try {
    const page = await api("GET", query(`/sessions/${sessionId}/messages`, { limit: MESSAGES_PAGE }));
    if (view !== state.view) return;
    showMessages(page);
    say("");
    if (messageId) {
      await revealMessage(messageId, view);
      return;
    }
  } catch (error) {
    if (view !== state.view) return;
    if (error.status === 404 || error.status === 401) {
      say("That chat does not exist (any more).");
      newChat();
      return;
    }
    say(`The messages could not be loaded: ${error.text}`);
  }
  ui.input.focus();
}

async function loadOlder() {
  const view = state.view;
  const sessionId = state.sessionId;
  try {
    const page = await api("GET", query(`/sessions/${sessionId}/messages`, {
      limit: MESSAGES_PAGE,
      before: state.olderCursor,
    }));
    if (view === state.view) showMessages(page, { older: true });
  } catch (error) {
    say(`Older messages could not be loaded: ${error.text}`);
  }
}

function showMessages(page, { older = false } = {}) {
  const byId = new Map(page.messages.map((message) => [message.id, message]));
  const nodes = page.messages.map((message) => historyMessage(message, byId));
  if (older) {
    ui.messages.prepend(...nodes);
  } else {
    ui.messages.replaceChildren(...nodes);
    ui.messages.lastElementChild?.scrollIntoView({ block: "end" });
  }
  state.olderCursor = page.next_cursor;
  ui.older.hidden = !page.next_cursor;
  placeRegenerate();
}

function findMessage(messageId) {
  return ui.messages.querySelector(`.message[data-id="${CSS.escape(messageId)}"]`);
}

// Scroll to the message and mark it, reading older pages until it shows up; an answer that a
// regenerated one replaced is not in the history as shown, so it never does.
async function revealMessage(messageId, view) {
  let node = findMessage(messageId);
  for (let read = 0; !node && state.olderCursor && read < REVEAL_PAGES; read++) {
    await loadOlder();
    if (view !== state.view) return;
    node = findMessage(messageId);
  }
  if (!node) {
    say("That message is not shown: a regenerated answer has replaced it.");
    ui.input.focus();
    return;
  }
  for (const found of ui.messages.querySelectorAll(".message--found")) {
    found.classList.remove("message--found");
  }
  node.classList.add("message--found");
  node.setAttribute("tabindex", "-1");
  node.scrollIntoView({ block: "center" });
  node.focus({ preventScroll: true });
}

function historyMessage(message, byId) {
  const node = messageNode(message.role, message.id);
  if (message.role !== "assistant") {
    setText(node, message.content);
    return node;
  }
  if (message.status === "pending") {
    node.dataset.status = "pending";
    setText(node, "Being answered…");
  } else if (message.status === "failed") {
    const question = byId.get(message.reply_to_id);
    showFailure(node, message.error ?? "the answer failed", question?.client_message_id
      ? () => retry(node, question.content, question.client_message_id)
      : null);
  } else {
    // The history may carry the caller's rating of the answer; without it, only the ratings
    // set in this page view are known.
    if (message.rating === "up" || message.rating === "down") {
      state.ratings.set(message.id, message.rating);
    }
    showAnswer(node, message.content, message.sources ?? []);
  }
  return node;
}

function messageNode(role, id = null) {
  const label = { user: "You", assistant: "Answer", system: "System" }[role] ?? role;
  const node = element("article", {
    className: `message message--${role}`,
    attributes: { "aria-label": label },
  }, [
    element("p", { className: "message__who", text: label, attributes: { "aria-hidden": "true" } }),
    element("div", { className: "message__body" }),
  ]);
  if (id) node.dataset.id = id;
  return node;
}

function setText(node, text) {
  node.querySelector(".message__body").textContent = text;
}

// The answer's text with its [n] markers linked to the sources they cite, then the sources.
function showAnswer(node, text, sources) {
  node.dataset.status = "complete";
  node.removeAttribute("aria-busy");
  const prefix = `source-${node.dataset.id ?? Math.random().toString(36).slice(2)}`;
  const ranks = new Set(sources.map((source) => source.rank));
  const body = node.querySelector(".message__body");
  body.replaceChildren();
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    body.append(text.slice(last, match.index));
    const rank = Number(match[1]);
    body.append(ranks.has(rank) ? marker(match[0], `${prefix}-${rank}`, rank) : match[0]);
    last = match.index + match[0].length;
  }
  body.append(text.slice(last));
  node.querySelector(".sources")?.remove();
  // Right after the text, so that the tools below keep their place (and their focus).
  if (sources.length) body.after(sourcesNode(sources, prefix));
  showFeedback(node);
}

// A link to the cited source; it moves focus there without touching the address (whose
// fragment names the chat on screen).
function marker(text, targetId, rank) {
  const link = element("a", {
    className: "marker",
    text,
    attributes: { href: `#${targetId}`, "aria-label": `source ${rank}` },
  });
  link.addEventListener("click", (event) => {
    event.preventDefault();
    const target = document.getElementById(targetId);
    target?.scrollIntoView({ block: "nearest" });
    target?.focus();
  });
  return link;
}

function sourcesNode(sources, prefix) {
  const items = [...sources].sort((a, b) => a.rank - b.rank).map((source) => {
    const title = source.document_title || "Untitled document";
    const url = source.document_url ? safeUrl(source.document_url) : null;
    const name = url
      ? element("a", {
        className: "source__title",
        text: title,
        attributes: { href: url, rel: "noopener noreferrer", target: "_blank" },
      })
      : element("span", { className: "source__title", text: title });
    const attributes = { id: `${prefix}-${source.rank}`, tabindex: "-1" };
    return element("li", { className: "source", attributes }, [
      name,
      source.page ? element("span", { className: "source__page", text: ` (page ${source.page})` }) : null,
      source.snippet ? element("blockquote", { className: "source__snippet", text: source.snippet }) : null,
    ]);
  });
  return element("section", { className: "sources", attributes: { "aria-label": "Sources" } }, [
    element("h3", { className: "sources__title", text: "Sources" }),
    element("ol", { className: "sources__list" }, items),
  ]);
}

function showFailure(node, message, onRetry) {
  node.dataset.status = "failed";
  node.removeAttribute("aria-busy");
  node.querySelector(".sources")?.remove();
  node.querySelector(".message__actions")?.remove();
  showFeedback(node);
  const body = node.querySelector(".message__body");
  body.replaceChildren(element("span", { className: "message__error", text: `No answer: ${message}` }));
  if (onRetry) {
    const again = button("Retry", "button button--quiet");
    again.addEventListener("click", onRetry);
    node.append(element("p", { className: "message__actions" }, [again]));
  }
}

function setMeta(node, text) {
  let meta = node.querySelector(".message__meta");
  if (!meta) {
    meta = element("p", { className: "message__meta" });
    node.append(meta);
  }
  meta.textContent = text;
}

// --- a chat turn --------------------------------------------------------------------------

async function ask(text, clientId = newClientId()) {
  ui.welcome.hidden = true;
  const question = messageNode("user");
  setText(question, text);
  const answer = messageNode("assistant");
  answer.dataset.status = "pending";
  answer.setAttribute("aria-busy", "true");
  setText(answer, "…");
  ui.messages.append(question, answer);
  answer.scrollIntoView({ block: "end" });
  placeRegenerate(); // the answer before is no longer the latest
  await runTurn(text, clientId, question, answer);
}

function retry(answer, text, clientId) {
  if (state.busy) return;
  answer.previousElementSibling?.classList.contains("message--user")
    && answer.previousElementSibling.remove();
  answer.remove();
  ask(text, clientId); // the same client_message_id: the question is never stored twice
}

async function runTurn(text, clientId, question, answer) {
  const view = state.view;
  const startedIn = state.sessionId;
  setBusy(true);
  try {
    const body = {
      message: text,
      session_id: startedIn ?? undefined,
      client_message_id: clientId,
      stream: true,
    };
    const { done } = await streamAnswer("/chat", body, answer, (start) => {
      if (!state.signedIn) setSignedIn(true);
      if (start.session_id) {
        question.dataset.id = start.user_message_id;
        if (view === state.view && state.sessionId === null) {
          state.sessionId = start.session_id;
          history.replaceState(null, "", `#${start.session_id}`);
        }
      }
    });
    if (done.session_id) await afterTurn(done.session_id, startedIn === null ? text : null);
  } catch (error) {
    const message = error instanceof ApiError ? error.text : String(error);
    showFailure(answer, message, () => retry(answer, text, clientId));
    if (error.status === 401) setSignedIn(false);
  } finally {
    setBusy(false);
    placeRegenerate();
  }
}

// POST a turn that answers as server-sent events (POST /chat, POST /messages/{id}/regenerate)
// and show its answer growing in the answer node, then whole, with its sources and timing.
// onStart gets the start event's data (the turn's ids) once the answer's id is set. The done
// event's data back; ApiError when the request or the answer failed.
async function streamAnswer(path, body, answer, onStart = () => {}) {
  const started = performance.now();
  let firstText = null;
  let streamed = "";
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "the service cannot be reached; check the connection");
  }
  if (!response.ok) throw await ApiError.of(response);
  let done = null;
  for await (const { event, data } of serverSentEvents(response.body)) {
    if (event === "start") {
      if (data.assistant_message_id) answer.dataset.id = data.assistant_message_id;
      onStart(data);
    } else if (event === "delta") {
      if (firstText === null) firstText = performance.now() - started;
      streamed += data.text;
      const follow = atBottom();
      setText(answer, streamed);
      if (follow) ui.messages.scrollTop = ui.messages.scrollHeight;
    } else if (event === "done") {
      done = data;
    } else if (event === "error") {
      const error = data.error ?? {};
      throw new ApiError(200, error.code ?? "error", error.message ?? "the answer failed", error.details);
    }
  }
  if (done === null) {
    throw new ApiError(0, "cut_short", "the connection ended before the answer did");
  }
  const elapsed = performance.now() - started;
  const follow = atBottom();
  showAnswer(answer, done.answer, done.sources);
  answer.dataset.elapsedMs = elapsed.toFixed(0);
  if (firstText !== null) answer.dataset.firstTextMs = firstText.toFixed(0);
  const notes = [`${(elapsed / 1000).toFixed(2)} s`];
  if (!done.saved) notes.push("not saved: the history is unavailable right now");
  if (done.replayed) notes.push("answered before");
  setMeta(answer, notes.join(" · "));
  if (follow) ui.messages.scrollTop = ui.messages.scrollHeight;
  return { done, elapsed, firstText };
}

// The turn's chat goes to the top of the list; a chat its first question started is named
// after that question.
async function afterTurn(sessionId, firstQuestion) {
  try {
    let session;
    const known = state.sessions.get(sessionId);
    if (firstQuestion !== null && !known?.title) {
      const line = firstQuestion.trim().split("\n")[0];
      const title = line.length > TITLE_CHARS ? `${line.slice(0, TITLE_CHARS - 1)}…` : line;
      session = await api("PATCH", `/sessions/${sessionId}`, { json: { title } });
    } else {
      session = await api("GET", `/sessions/${sessionId}`);
    }
    upsertSession(session, { toTop: true });
  } catch (error) {
    say(`The chat list could not be updated: ${error.text}`);
  }
}

// Whether the messages are scrolled to their end (then a growing answer keeps them there).
function atBottom() {
  const { scrollTop, scrollHeight, clientHeight } = ui.messages;
  return scrollHeight - scrollTop - clientHeight < 48;
}

function setBusy(busy) {
  state.busy = busy;
  ui.send.disabled = busy;
  ui.composer.setAttribute("aria-busy", String(busy));
  // aria-disabled, not disabled: a disabled button loses the keyboard focus.
  ui.messages.querySelector(".message__regenerate")?.setAttribute("aria-disabled", String(busy));
}

// --- regenerate ---------------------------------------------------------------------------

// Only the chat's latest answer can be regenerated: the button moves to it. A failed answer
// that offers Retry (the same question asked again) gets no second way to do the same.
function placeRegenerate() {
  const answers = ui.messages.querySelectorAll(".message--assistant");
  const latest = answers[answers.length - 1];
  const status = latest?.dataset.status;
  const eligible = Boolean(latest?.dataset.id) && (status === "complete"
    || (status === "failed" && !latest.querySelector(".message__actions")));
  for (const existing of ui.messages.querySelectorAll(".message__regenerate")) {
    if (!eligible || !latest.contains(existing)) existing.remove();
  }
  if (!eligible || latest.querySelector(".message__regenerate")) return;
  const again = button("Regenerate", "button button--quiet message__regenerate", {
    "aria-disabled": String(state.busy),
  });
  again.addEventListener("click", () => regenerate(latest));
  toolsOf(latest).append(again);
}

// A new answer to the question this one replied to, streamed into its place; the history then
// shows the new one. A retry sends the same client_message_id (for the same answer), so the
// server gives back the answer it already started rather than a third one.
async function regenerate(answer, answerId = answer.dataset.id, clientId = newClientId()) {
  if (state.busy || !answerId) return;
  const view = state.view;
  setBusy(true);
  answer.dataset.status = "pending";
  answer.setAttribute("aria-busy", "true");
  answer.querySelector(".sources")?.remove();
  answer.querySelector(".message__meta")?.remove();
  answer.querySelector(".message__actions")?.remove();
  showFeedback(answer);
  setText(answer, "…");
  say("Writing a new answer…");
  try {
    const body = { client_message_id: clientId, stream: true };
    const { done } = await streamAnswer(`/messages/${answerId}/regenerate`, body, answer);
    if (view === state.view) say("A new answer replaced the earlier one.");
    if (done.session_id) await afterTurn(done.session_id, null);
  } catch (error) {
    if (error.status === 409 && view === state.view) {
      // Already regenerated (elsewhere) or still being written: show what the history holds.
      setBusy(false);
      await openSession(state.sessionId);
      say(`The answer could not be regenerated: ${error.text}`);
      return;
    }
    const focused = answer.contains(document.activeElement);
    showFailure(answer, error instanceof ApiError ? error.text : String(error),
      () => regenerate(answer, answerId, clientId));
    if (focused) answer.querySelector(".message__actions button")?.focus();
    if (error.status === 401) setSignedIn(false);
  } finally {
    setBusy(false);
    placeRegenerate();
  }
}

// --- feedback -----------------------------------------------------------------------------

// The row under an answer that holds its feedback buttons and Regenerate.
function toolsOf(node) {
  let tools = node.querySelector(".message__tools");
  if (!tools) {
    tools = element("div", { className: "message__tools" });
    (node.querySelector(".sources") ?? node.querySelector(".message__body")).after(tools);
  }
  return tools;
}

// Thumbs up and down on a complete, stored answer, pressed as the caller rated it; none on
// any other. The buttons stay while an answer is rewritten, so a focused one keeps its focus.
function showFeedback(node) {
  const id = node.dataset.id;
  let group = node.querySelector(".feedback");
  if (!id || node.dataset.status !== "complete") {
    if (group) group.hidden = true;
    return;
  }
  if (!group) {
    group = element("div", {
      className: "feedback",
      attributes: { role: "group", "aria-label": "Rate this answer" },
    }, [
      rateButton(node, "up", "Good answer"),
      rateButton(node, "down", "Bad answer"),
    ]);
    toolsOf(node).prepend(group);
  }
  group.hidden = false;
  const rating = state.ratings.get(id) ?? null;
  for (const rate of group.querySelectorAll(".rate")) {
    rate.setAttribute("aria-pressed", String(rate.dataset.rating === rating));
  }
}

function rateButton(node, rating, label) {
  const rate = button("", `rate rate--${rating}`, {
    "aria-label": label,
    "aria-pressed": "false",
    title: label,
    "data-rating": rating,
  });
  rate.append(element("span", { className: "rate__icon", attributes: { "aria-hidden": "true" } }));
  rate.addEventListener("click", () => toggleRating(node, rating));
  return rate;
}

// Rate the answer, or take the rating back when it is the one already given.
async function toggleRating(node, rating) {
  const id = node.dataset.id;
  const group = node.querySelector(".feedback");
  if (!id || group.getAttribute("aria-busy") === "true") return;
  group.setAttribute("aria-busy", "true");
  try {
    if (state.ratings.get(id) === rating) {
      await api("DELETE", `/messages/${id}/feedback`);
      state.ratings.delete(id);
      say("Rating removed.");
    } else {
      const stored = await api("PUT", `/messages/${id}/feedback`, { json: { rating } });
      state.ratings.set(id, stored.rating);
      say(stored.rating === "up" ? "Rated as a good answer." : "Rated as a bad answer.");
    }
  } catch (error) {
    say(`The rating could not be saved: ${error.text}`);
    if (error.status === 401) setSignedIn(false);
  } finally {
    group.removeAttribute("aria-busy");
    if (node.dataset.id === id) showFeedback(node);
  }
}

// --- documents ----------------------------------------------------------------------------

const STATUS_TEXT = {
  pending: "waiting",
  processing: "reading",
  completed: "ready",
  failed: "failed",
};

async function loadDocuments() {
  if (!state.signedIn) return;
  try {
    const page = await api("GET", query("/documents", { limit: DOCUMENTS_PAGE }));
    ui.documents.replaceChildren(...page.documents.map(documentItem));
    for (const doc of page.documents) {
      if (doc.status === "pending" || doc.status === "processing") follow(doc.id);
    }
  } catch (error) {
    if (error.status !== 401) say(`The documents could not be loaded: ${error.text}`);
  }
}

function documentItem(doc) {
  const status = STATUS_TEXT[doc.status] ?? doc.status;
  let detail = status;
  if (doc.status === "completed") detail = `ready · ${doc.chunk_count} passages`;
  if (doc.status === "failed" && doc.error) detail = `failed: ${doc.error}`;
  return element("li", {
    className: "document",
    attributes: { "data-id": doc.id, "data-status": doc.status },
  }, [
    element("span", { className: "document__title", text: doc.title || doc.filename || "Untitled" }),
    element("span", { className: `document__status document__status--${doc.status}`, text: detail }),
  ]);
}

function showDocument(doc) {
  const item = documentItem(doc);
  const existing = ui.documents.querySelector(`[data-id="${doc.id}"]`);
  if (existing) existing.replaceWith(item);
  else ui.documents.prepend(item);
}

const following = new Set();

// Poll GET /documents/{id} until ingestion has completed or failed.
async function follow(documentId) {
  if (following.has(documentId)) return;
  following.add(documentId);
  let wait = 500;
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 1.5, 3000);
      let doc;
      try {
        doc = await api("GET", `/documents/${documentId}`);
      } catch (error) {
        if (error.status === 404 || error.status === 401) return;
        continue; // a passing failure: ask again
      }
      showDocument(doc);
      if (doc.status === "completed" || doc.status === "failed") {
        const name = doc.title || doc.filename || "The document";
        say(doc.status === "completed"
          ? `${name} is ready: questions can now use it.`
          : `${name} could not be read: ${doc.error ?? "unknown error"}`);
        return;
      }
    }
  } finally {
    following.delete(documentId);
  }
}

async function upload(event) {
  event.preventDefault();
  const file = ui.uploadFile.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  ui.uploadButton.disabled = true;
  say(`Uploading ${file.name}…`);
  try {
    const doc = await api("POST", "/documents", { form });
    showDocument(doc);
    ui.uploadForm.reset();
    if (doc.status === "completed") say(`${file.name} was already added: it is ready.`);
    else {
      say(`${file.name} uploaded: reading it…`);
      follow(doc.id);
    }
  } catch (error) {
    say(`${file.name} could not be uploaded: ${error.text}`);
  } finally {
    ui.uploadButton.disabled = !state.signedIn;
  }
}

// --- logout and the phone layout ----------------------------------------------------------

async function logout() {
  try {
    await api("POST", "/auth/logout");
  } catch (error) {
    if (error.status !== 401) {
      say(`Logging out failed: ${error.text}`);
      return;
    }
  }
  setSignedIn(false);
  newChat();
  say("Logged out. A new question starts a new anonymous chat.");
}

function closeSidebar() {
  ui.sidebar.classList.remove("sidebar--open");
  ui.toggle.setAttribute("aria-expanded", "false");
}

function toggleSidebar() {
  const open = ui.sidebar.classList.toggle("sidebar--open");
  ui.toggle.setAttribute("aria-expanded", String(open));
  if (open) ui.newChat.focus();
}

// --- wiring -------------------------------------------------------------------------------

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.input.value;
  if (!text.trim() || state.busy) return;
  ui.input.value = "";
  ask(text);
});
ui.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault(); // Enter sends; Shift+Enter keeps its new line
    ui.composer.requestSubmit();
  }
});
ui.newChat.addEventListener("click", newChat);
ui.moreSessions.addEventListener("click", () => loadSessions({ more: true }));
ui.searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  searchMessages();
});
ui.moreResults.addEventListener("click", () => searchMessages({ more: true }));
ui.clearSearch.addEventListener("click", () => {
  clearSearch();
  ui.searchInput.value = "";
  ui.searchInput.focus();
});
ui.older.addEventListener("click", loadOlder);
ui.uploadForm.addEventListener("submit", upload);
ui.logout.addEventListener("click", logout);
ui.toggle.addEventListener("click", toggleSidebar);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && ui.sidebar.classList.contains("sidebar--open")) {
    closeSidebar();
    ui.toggle.focus();
  }
});

async function start() {
  await loadSessions();
  const wanted = location.hash.slice(1);
  if (state.signedIn && /^[0-9a-f-]{36}$/i.test(wanted)) await openSession(wanted);
  else newChat();
  await loadDocuments();
  document.body.dataset.ready = "true"; // for tests: the first load is over
}

start();
