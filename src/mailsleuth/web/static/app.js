// The mailsleuth dashboard: plain JavaScript, no dependencies, no build step.
//
// Every value that comes from the API is put on the page as text (textContent, or text nodes via
// append), never parsed as HTML, and the Content-Security-Policy forbids inline script: API data
// cannot run as code. Every request is a call of the api function with a literal method and path
// template, which the test suite checks against the app's routes.
"use strict";

const KEY_STORAGE = "mailsleuth.apiKey";
const PAGE_SIZE = 20;
const MAX_VERIFY = 100; // more than this is a bulk job
const VERIFY_PARALLEL = 4;
const POLL_MS = 1000;
const POLL_LIMIT_MS = 10 * 60 * 1000;
const JOBS_REFRESH_MS = 5000;
const ACTIVE = new Set(["QUEUED", "PROCESSING"]);
const VERDICT_CLASSES = {
  deliverable: "good",
  risky: "warn",
  undeliverable: "bad",
  unknown: "neutral",
};
const STATUS_CLASSES = {
  QUEUED: "neutral",
  PROCESSING: "info",
  PAUSED: "warn",
  CANCELLED: "bad",
  ENDED: "good",
};
const JOB_KINDS = {
  massive: "Find (massive)",
  lg_bulk: "Find (bulk)",
  verify: "Verify",
  enrich: "Enrich",
};

// --- talking to the API -----------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function storedKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

/** Fill the "{name}" placeholders of a path template, each URI-encoded. */
function expand(template, params) {
  return template.replace(/\{(\w+)\}/g, (_, name) => {
    if (!(name in params)) throw new Error(`missing path parameter "${name}"`);
    return encodeURIComponent(String(params[name]));
  });
}

/** The API's own words for what went wrong, whichever error shape the route uses. */
function errorText(body) {
  if (body && typeof body === "object") {
    if (typeof body.error === "string") return body.field ? `${body.field}: ${body.error}` : body.error;
    if (typeof body.message === "string") return body.message;
    const fields = Object.entries(body).filter(([, messages]) => Array.isArray(messages));
    if (fields.length) return fields.map(([field, messages]) => `${field}: ${messages.join(" ")}`).join("; ");
  }
  return "Unexpected answer from the server";
}

/**
 * The dashboard's only network call. `template` is a route path such as "/v1/jobs/{id}"; native
 * routes get the key as a Bearer token, VoilaNorbert's (/2018-01-08/) as HTTP Basic. The key never
 * goes into a URL. A refused key (401) signs the dashboard out; 403 is a refusal of one action.
 */
async function api(method, template, { params = {}, query = {}, body, raw = false } = {}) {
  const url = new URL(expand(template, params), window.location.origin);
  for (const [name, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") url.searchParams.append(name, String(item));
    }
  }
  const key = storedKey();
  const headers = {
    Authorization: template.startsWith("/2018-01-08/") ? `Basic ${btoa(`:${key}`)}` : `Bearer ${key}`,
  };
  const form = body instanceof FormData; // a file upload: the browser writes the multipart header
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined || form ? body : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  if (response.ok && raw) return response;
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, errorText(data));
    if (response.status === 401) {
      signOut(`The server refused this API key: ${describe(error)}`);
    }
    throw error;
  }
  return data;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll an asynchronous answer (a search or a verification) with `next(id)` until it is done. */
async function settle(answer, next, onWait) {
  const key = storedKey();
  const deadline = Date.now() + POLL_LIMIT_MS;
  while (!answer.done) {
    if (Date.now() > deadline) throw new Error("Still running on the server; look again later.");
    if (onWait) onWait(answer);
    await sleep(POLL_MS);
    if (storedKey() !== key) throw new Error("Signed out.");
    answer = await next(answer.id);
  }
  return answer;
}

// --- building the page (text only) ------------------------------------------------------------

const byId = (id) => document.getElementById(id);

/** An element with fixed attributes and children given as nodes or plain text. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function showError(id, message) {
  const node = byId(id);
  node.textContent = message || "";
  node.hidden = !message;
}

function describe(error) {
  if (error instanceof ApiError) return `${error.message} (HTTP ${error.status})`;
  if (error instanceof TypeError) return `Cannot reach the server: ${error.message}`;
  return error.message || String(error);
}

/** Run `work` for one section: its errors are shown in that section's alert line. */
async function attempt(errorId, work) {
  showError(errorId, "");
  try {
    return await work();
  } catch (error) {
    if (storedKey()) showError(errorId, describe(error));
    return undefined;
  }
}

async function busy(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

function badge(value, classes) {
  return el("span", { class: `badge ${classes[value] || "neutral"}` }, value || "none");
}

const when = (ms) => (ms ? new Date(ms).toLocaleString() : "—");
const orDash = (value) => (value === null || value === undefined || value === "" ? "—" : value);
const yesNo = (value) => (value === true ? "yes" : value === false ? "no" : "not checked");
const smtpReply = (v) => [v.smtp_code, v.enhanced_status, v.smtp_text].filter(Boolean).join(" ") || "—";

function rows(tbody, items, columns, render, empty = "Nothing here yet.") {
  if (!items.length) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: String(columns), class: "empty" }, empty)));
  } else {
    tbody.replaceChildren(...items.map(render));
    labelCells(tbody);
  }
}

/** Give each cell its column's heading, which narrow screens show beside the value (CSS attr()). */
function labelCells(tbody) {
  const headings = [...tbody.parentElement.tHead.rows[0].cells].map((cell) => cell.textContent);
  for (const row of tbody.rows) {
    [...row.cells].forEach((cell, index) => cell.setAttribute("data-label", headings[index] || ""));
  }
}

/** A definition list from [term, value] pairs; a value may be text or a node. */
function facts(pairs, cls = "facts") {
  const list = el("dl", { class: cls });
  for (const [term, value] of pairs) list.append(el("dt", {}, term), el("dd", {}, orDash(value)));
  return list;
}

function codeList(items) {
  if (!items || !items.length) return "—";
  return el("ul", { class: "codes" }, ...items.map((item) => el("li", {}, el("code", {}, item))));
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element; sizes are attributes (the CSP allows no inline style). */
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

/** A link for a page address the API reports; anything but http(s) is shown as text, never followed. */
function pageLink(uri) {
  let parsed = null;
  try {
    parsed = new URL(uri);
  } catch {
    parsed = null;
  }
  if (!parsed || !["http:", "https:"].includes(parsed.protocol)) return el("code", {}, uri);
  return el("a", { href: parsed.href, rel: "noopener noreferrer nofollow", target: "_blank" }, uri);
}

/** Ask the browser to save a file the API answered (fetched with the key in a header). */
async function saveFile(response, filename) {
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: filename, hidden: "" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A small button that runs `work`, showing its failure in the section's alert line. */
function actionButton(label, accessibleName, errorId, work) {
  const button = el("button", { type: "button", class: "small secondary", "aria-label": accessibleName }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    await attempt(errorId, work);
    button.disabled = false;
  });
  return button;
}

// --- screens ----------------------------------------------------------------------------------

const SCREENS = {
  find: () => undefined,
  domain: () => loadLists(),
  bulk: () => loadJobs(),
  contacts: () => Promise.all([loadLists(), loadContacts()]),
  contact: (id) => loadContact(id),
  account: () => Promise.all([refreshCredits(), loadUsage(), loadKeys(), loadDeliveries()]),
};
const NAV_FOR = { contact: "contacts" };

/** Show the screen the address names (#find, #domain, #bulk, #contacts, #contact/ID, #account). */
function route() {
  if (!storedKey()) return;
  const [wanted, argument] = window.location.hash.slice(1).split("/");
  const name = wanted in SCREENS ? wanted : "find";
  for (const screen of Object.keys(SCREENS)) byId(`screen-${screen}`).hidden = screen !== name;
  for (const link of byId("nav").querySelectorAll("a")) {
    if (link.dataset.screen === (NAV_FOR[name] || name)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${byId(`screen-${name}`).dataset.title} · mailsleuth`;
  if (name !== "bulk") clearTimeout(jobsState.timer);
  SCREENS[name](argument);
}

// --- account and credits ----------------------------------------------------------------------

const accountState = { admin: false };

async function loadAccount() {
  const account = await api("GET", "/v1/account");
  const who = byId("who");
  const user = account.user;
  who.textContent = user.name ? `${user.name} · ${user.email}` : user.email;
  who.hidden = false;
  accountState.admin = user.admin;
  const credits = account.credits;
  byId("credits").replaceChildren(
    balance("Searches", credits.search.remaining, `of ${credits.search.total}, ${credits.search.used} used`),
    balance("Verifications", credits.verify.remaining, `of ${credits.verify.total}, ${credits.verify.used} used`),
    balance("Enrichments", credits.enrich.remaining, `of ${credits.enrich.total}, ${credits.enrich.used} used`),
  );
}

function balance(label, remaining, detail) {
  const amount = el("dd", {}, el("strong", {}, remaining), " ", el("span", { class: "muted" }, detail));
  return el("div", {}, el("dt", {}, label), amount);
}

const refreshCredits = () => attempt("credits-error", loadAccount);

const USAGE_KINDS = [
  ["search", "Searches"],
  ["verify", "Verifications"],
  ["enrich", "Enrichments"],
];

/** Credits used per day as stacked bars (one per day), with the totals as text beside. */
function loadUsage() {
  return attempt("credits-error", async () => {
    const usage = await api("GET", "/v1/credits/usage", { query: { days: 30 } });
    const days = usage.days;
    const totals = Object.fromEntries(USAGE_KINDS.map(([kind]) => [kind, days.reduce((sum, d) => sum + d[kind], 0)]));
    const top = Math.max(1, ...days.map((day) => USAGE_KINDS.reduce((sum, [kind]) => sum + day[kind], 0)));
    const width = 12;
    const height = 100;
    const chart = svg("svg", {
      viewBox: `0 0 ${days.length * width} ${height}`,
      class: "usage-chart",
      role: "img",
      "aria-labelledby": "usage-title",
      preserveAspectRatio: "none",
    });
    days.forEach((day, index) => {
      let y = height;
      const label = USAGE_KINDS.map(([kind, name]) => `${day[kind]} ${name.toLowerCase()}`).join(", ");
      const group = svg("g", {}, svg("title", {}, `${day.date}: ${label}`));
      for (const [kind] of USAGE_KINDS) {
        const size = (day[kind] / top) * height;
        if (size > 0) {
          y -= size;
          group.append(svg("rect", { x: index * width + 1, y, width: width - 2, height: size, class: `bar-${kind}` }));
        }
      }
      chart.append(group);
    });
    chart.append(svg("line", { x1: 0, y1: height, x2: days.length * width, y2: height, class: "axis" }));
    const ticks = el("div", { class: "ticks muted small" }, el("span", {}, days[0].date), el("span", {}, days[days.length - 1].date));
    const legend = el(
      "ul",
      { class: "legend" },
      ...USAGE_KINDS.map(([kind, name]) => el("li", {}, el("span", { class: `swatch bar-${kind}` }), `${name}: ${totals[kind]}`)),
    );
    byId("usage").replaceChildren(chart, ticks, legend);
  });
}

// --- API keys ---------------------------------------------------------------------------------

function loadKeys() {
  byId("keys-card").hidden = !accountState.admin;
  if (!accountState.admin) return undefined;
  return attempt("keys-error", async () => {
    const found = await api("GET", "/v1/keys");
    rows(byId("keys-table").tBodies[0], found.results, 4, keyRow, "No keys.");
  });
}

function keyRow(key) {
  const state = key.revoked ? "revoked" : key.current ? "active (this browser)" : "active";
  const actions = [];
  if (!key.revoked && !key.current) {
    actions.push(
      actionButton("Revoke", `Revoke key ${key.prefix}`, "keys-error", async () => {
        if (!window.confirm(`Revoke the key ${key.prefix}…? Clients using it stop working.`)) return;
        await api("DELETE", "/v1/keys/{prefix}", { params: { prefix: key.prefix } });
        await loadKeys();
      }),
    );
  }
  return el(
    "tr",
    {},
    el("td", {}, el("code", {}, `${key.prefix}…`)),
    el("td", {}, when(key.created)),
    el("td", {}, badge(state, { revoked: "bad", active: "good", "active (this browser)": "info" })),
    el("td", { class: "actions" }, ...actions),
  );
}

async function createKey() {
  await attempt("keys-error", async () => {
    const made = await api("POST", "/v1/keys");
    const note = byId("key-new");
    note.replaceChildren(
      el("p", {}, "The new key, shown only now (the server keeps only its hash):"),
      el("p", {}, el("code", { class: "secret" }, made.key)),
    );
    note.hidden = false;
    await loadKeys();
  });
}

// --- lists (shared by the find, domain and contacts screens) ----------------------------------

const listsState = { items: [] };

function loadLists() {
  return attempt("lists-error", async () => {
    const found = await api("GET", "/v1/lists");
    listsState.items = found.results;
    rows(byId("lists-table").tBodies[0], found.results, 3, listRow, "No lists yet: create one above.");
    fillListChoices();
  });
}

/** Every "which list" select on the page, keeping what each had chosen. */
function fillListChoices() {
  for (const select of document.querySelectorAll("select[data-lists]")) {
    const chosen = select.value;
    const first = el("option", { value: "" }, select.dataset.lists);
    const options = listsState.items.map((item) => el("option", { value: String(item.id) }, item.name));
    select.replaceChildren(first, ...options);
    if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
  }
}

function listName(id) {
  const item = listsState.items.find((candidate) => candidate.id === id);
  return item ? item.name : `#${id}`;
}

function listRow(item) {
  const name = el("td", {}, el("span", { class: "list-name" }, item.name));
  const show = actionButton("Show", `Show the contacts of ${item.name}`, "lists-error", async () => {
    byId("filter-list").value = String(item.id);
    contactsState.page = 1;
    await loadContacts();
  });
  const rename = el("button", { type: "button", class: "small secondary", "aria-label": `Rename ${item.name}` }, "Rename");
  rename.addEventListener("click", () => name.replaceChildren(renameForm(item)));
  const exportButton = actionButton("Export CSV", `Export ${item.name} as CSV`, "lists-error", async () => {
    const response = await api("GET", "/v1/lists/{id}/export", { params: { id: item.id }, raw: true });
    await saveFile(response, `list-${item.id}.csv`);
  });
  const remove = actionButton("Delete", `Delete ${item.name}`, "lists-error", async () => {
    if (!window.confirm(`Delete the list ${item.name}? Its contacts stay.`)) return;
    await api("DELETE", "/v1/lists/{id}", { params: { id: item.id } });
    await loadLists();
    await loadContacts();
  });
  return el("tr", {}, name, el("td", {}, item.contacts), el("td", { class: "actions" }, show, rename, exportButton, remove));
}

function renameForm(item) {
  const id = `rename-${item.id}`;
  const input = el("input", { id, name: "name", value: item.name, required: "", autocomplete: "off" });
  const form = el(
    "form",
    { class: "inline" },
    el("label", { for: id, class: "visually-hidden" }, `New name for ${item.name}`),
    input,
    el("button", { type: "submit", class: "small" }, "Save"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await attempt("lists-error", async () => {
      await api("PATCH", "/v1/lists/{id}", { params: { id: item.id }, body: { name: input.value } });
      await loadLists();
    });
  });
  setTimeout(() => input.select(), 0);
  return form;
}

async function createList(event) {
  event.preventDefault();
  const input = byId("list-name");
  await busy(event.currentTarget, () =>
    attempt("lists-error", async () => {
      await api("POST", "/v1/lists", { body: { name: input.value } });
      input.value = "";
      await loadLists();
    }),
  );
}

/**
 * "Save to list" for one contact: a list choice and a button; `errorId` shows what went wrong and
 * `onSaved` runs after a save (the contact page refreshes its history).
 */
function saveToList(contact, errorId, select = null, onSaved = null) {
  const id = `save-${contact.id}-${Math.random().toString(36).slice(2, 8)}`;
  const choice = select || el("select", { id, "data-lists": "Choose a list" });
  const button = actionButton("Save to list", `Save ${contact.name || contact.email} to a list`, errorId, async () => {
    if (!choice.value) throw new Error("Choose a list first (create one under Contacts & lists).");
    const item = await api("POST", "/v1/lists/{id}/contacts", { params: { id: choice.value }, body: { ids: [contact.id] } });
    button.textContent = `Saved to ${item.name}`;
    await loadLists();
    if (onSaved) await onSaved();
  });
  if (select) return button;
  const wrapper = el("div", { class: "inline" }, el("label", { for: id, class: "visually-hidden" }, "List"), choice, button);
  return wrapper;
}

// --- find -------------------------------------------------------------------------------------

async function find(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const name = byId("find-name").value.trim();
  const domain = byId("find-domain").value.trim();
  const output = byId("find-result");
  const searching = (status) => output.replaceChildren(el("p", { class: "muted" }, `Searching… (${status})`));
  const shown = await busy(form, () =>
    attempt("find-error", async () => {
      searching("asking the mail servers");
      const first = await api("POST", "/v1/find", { body: { name, domain, wait: 10 } });
      const poll = (id) => api("GET", "/v1/searches/{id}", { params: { id } });
      const answer = await settle(first, poll, (pending) => searching(pending.status.toLowerCase()));
      return findAnswer(answer, name, domain);
    }),
  );
  output.replaceChildren(...(shown ? [shown] : []));
  fillListChoices();
  if (shown) loadLists();
}

function findAnswer(answer, name, domain) {
  if (answer.error) throw new Error(`The search failed: ${answer.error}`);
  const contact = answer.contact || {};
  const result = answer.result || contact.evidence || {};
  const email = contact.email || result.email;
  return el(
    "div",
    { class: "answer" },
    el("p", { class: "address" }, email || `No address found for ${name} at ${domain}.`),
    evidenceFacts(result, contact),
    answer.sources && answer.sources.length ? sourceList(answer.sources) : null,
    contact.id ? el("div", { class: "answer-actions" }, saveToList(contact, "find-error"),
      el("a", { href: `#contact/${contact.id}` }, "Open the contact")) : null,
  );
}

function evidenceFacts(result, contact = {}) {
  const evidence = result.verification || {};
  return facts([
    ["Verdict", badge(result.verdict || contact.verdict, VERDICT_CLASSES)],
    ["Score", result.score ?? contact.score],
    ["Pattern", result.pattern ? el("code", {}, result.pattern) : null],
    ["Candidates tried", codeList(result.candidates_tried)],
    ["MX hosts", codeList(evidence.mx_hosts)],
    ["SMTP reply", smtpReply(evidence)],
    ["Catch-all", yesNo(evidence.catch_all)],
    ["Reason", result.reason || evidence.reason],
  ]);
}

/** Where an address was seen: each page with first and last seen. */
function sourceList(sources) {
  if (!sources || !sources.length) return el("span", { class: "muted" }, "no page known");
  return el(
    "ul",
    { class: "sources" },
    ...sources.map((source) =>
      el(
        "li",
        {},
        pageLink(source.uri),
        el(
          "span",
          { class: "muted small" },
          ` first seen ${source.extracted_on}, last seen ${source.last_seen_on}`,
          source.still_on_page ? "" : " (no longer on the page)",
        ),
      ),
    ),
  );
}
// --- verify -----------------------------------------------------------------------------------

async function verify(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const emails = [...new Set(byId("verify-emails").value.split(/\r?\n/).map((line) => line.trim()))].filter(Boolean);
  showError("verify-error", emails.length ? "" : "Enter at least one address.");
  if (!emails.length) return;
  if (emails.length > MAX_VERIFY) {
    showError("verify-error", `At most ${MAX_VERIFY} addresses at a time; upload a bulk job for more.`);
    return;
  }
  const table = byId("verify-table");
  const checking = () => el("span", { class: "muted" }, "checking…");
  const pending = emails.map((email) => ({ email, row: verifyRow(email, checking()) }));
  table.tBodies[0].replaceChildren(...pending.map((item) => item.row));
  labelCells(table.tBodies[0]);
  table.hidden = false;
  await busy(form, () =>
    Promise.all(
      Array.from({ length: VERIFY_PARALLEL }, async () => {
        for (let item = pending.shift(); item; item = pending.shift()) await verifyOne(item);
      }),
    ),
  );

}

async function verifyOne({ email, row }) {
  try {
    const first = await api("POST", "/v1/verify", { body: { email, wait: 20 } });
    const answer = await settle(first, (id) => api("GET", "/v1/verifications/{id}", { params: { id } }));
    if (answer.error) throw new Error(answer.error);
    row.replaceWith(verifyRow(email, answer.result));
  } catch (error) {
    row.replaceWith(verifyRow(email, el("span", { class: "error-text" }, describe(error))));
  }
  labelCells(byId("verify-table").tBodies[0]);
}

/** One result row; `result` is the API's verdict with evidence, or a node saying why there is none. */
function verifyRow(email, result) {
  if (result instanceof Node) return el("tr", {}, el("td", {}, el("code", {}, email)), el("td", {}, result));
  const evidence = [
    ["Reason", result.reason],
    ["MX hosts", orDash((result.mx_hosts || []).join(", "))],
    ["SMTP reply", smtpReply(result)],
    ["Catch-all", yesNo(result.catch_all)],
  ];
  const flags = ["role", "disposable", "free"].filter((flag) => result[flag]);
  if (flags.length) evidence.push(["Flags", flags.join(", ")]);
  if (result.suggestion) evidence.push(["Did you mean", result.suggestion]);
  const score = result.score === null || result.score === undefined ? "no score" : `score ${result.score}`;
  return el(
    "tr",
    {},
    el(
      "td",
      { class: "verified" },
      el("code", {}, result.email || email),
      el("div", {}, badge(result.verdict, VERDICT_CLASSES), " ", el("span", { class: "muted small" }, score)),
    ),
    el("td", {}, facts(evidence, "facts compact")),
  );
}

// --- domain search ----------------------------------------------------------------------------

const domainState = { body: null, page: 1 };

async function domainSearch(event) {
  event.preventDefault();
  const query = byId("domain-query").value.trim();
  // a name with a dot and no space is a domain; anything else is a company name to resolve
  domainState.body = /^[^\s]+\.[^\s]+$/.test(query) ? { domain: query } : { company: query };
  domainState.page = 1;
  await busy(event.currentTarget, loadDomain);
}

function loadDomain() {
  const summary = byId("domain-summary");
  summary.replaceChildren(el("p", { class: "muted" }, "Reading the company's website and checking its people…"));
  return attempt("domain-error", async () => {
    try {
      const answer = await api("POST", "/v1/domain-search", { body: { ...domainState.body, page: domainState.page } });
      summary.replaceChildren(domainSummary(answer));
      byId("domain-people-card").hidden = false;
      const empty = `Nobody known at ${answer.domain} yet: its website names no one.`;
      rows(byId("domain-table").tBodies[0], answer.results, 6, domainRow, empty);
      byId("domain-page").textContent = `Page ${answer.page} · ${answer.total} people`;
      byId("domain-prev").disabled = answer.page <= 1;
      byId("domain-next").disabled = !answer.has_next;
    } catch (error) {
      summary.replaceChildren();
      byId("domain-people-card").hidden = true;
      throw error;
    }
  });
}

function catchAllText(value) {
  if (value === true) return "yes: the mail server accepts every address, so a verification cannot confirm one";
  if (value === false) return "no: the mail server refuses unknown addresses";
  return "not checked yet";
}

/**
 * The domain's stored catch-all check with when it was made; without one, a button that runs the
 * check (one RCPT for an address nobody has) and stores it for every later search.
 */
function catchAllFact(domain, value, checked) {
  const shown = el("span", { class: "inline" });
  const show = (catchAll, at, unclear) => {
    if (catchAll === true || catchAll === false) {
      shown.replaceChildren(catchAllText(catchAll), " ", el("span", { class: "muted small" }, `checked ${when(at)}`));
      return;
    }
    const button = actionButton("Check now", `Check whether ${domain} accepts every address`, "domain-error", async () => {
      shown.replaceChildren(el("span", { class: "muted" }, "asking the mail server…"));
      try {
        const check = await api("POST", "/v1/domains/{domain}/catch-all", { params: { domain } });
        show(check.catch_all, check.checked, true);
      } catch (error) {
        show(null, null, false);
        throw error;
      }
    });
    const text = unclear ? "no clear answer from the mail server (greylisted, blocked or unreachable)" : catchAllText(null);
    shown.replaceChildren(text, " ", button);
  };
  show(value, checked, false);
  return shown;
}

function domainSummary(answer) {
  const company = answer.company || {};
  const convention = answer.convention;
  const patterns = convention.patterns.length
    ? el(
        "ul",
        { class: "patterns" },
        ...convention.patterns.map((item) =>
          el("li", {}, el("code", {}, item.pattern), " ", el("span", { class: "muted" }, `${Math.round(item.score * 100)}%`)),
        ),
      )
    : el("span", { class: "muted" }, "not known yet");
  const crawl = answer.crawl;
  const site = crawl.error ? `not read: ${crawl.error}` : `${crawl.pages} pages read, ${crawl.addresses} addresses seen, ${when(crawl.crawled)}`;
  return el(
    "div",
    { class: "domain-summary" },
    el("p", { class: "address" }, company.name || answer.domain, " ", el("span", { class: "muted small" }, answer.domain)),
    company.description ? el("p", { class: "muted" }, company.description) : null,
    facts([
      ["Address convention", patterns],
      ["Evidence", `learned from ${convention.evidence} ${convention.evidence === 1 ? "address" : "addresses"}`],
      ["Accepts every address", catchAllFact(answer.domain, answer.catch_all, answer.catch_all_checked)],
      ["Website", company.url ? pageLink(company.url) : null],
      ["Website crawl", site],
    ]),
  );
}

function domainRow(contact) {
  const verdict = el("td", {}, contact.verdict ? badge(contact.verdict, VERDICT_CLASSES) : "—");
  const confidence = el("td", {}, orDash(contact.score));
  const verifyButton = actionButton("Verify", `Verify ${contact.email}`, "domain-error", async () => {
    verdict.replaceChildren(el("span", { class: "muted" }, "checking…"));
    const first = await api("POST", "/v1/verify", { body: { email: contact.email, wait: 20 } });
    const answer = await settle(first, (id) => api("GET", "/v1/verifications/{id}", { params: { id } }));
    if (answer.error) throw new Error(answer.error);
    verdict.replaceChildren(badge(answer.result.verdict, VERDICT_CLASSES));
    confidence.textContent = orDash(answer.result.score);
  });
  const name = el(
    "td",
    {},
    el("a", { href: `#contact/${contact.id}` }, orDash(contact.name)),
    contact.is_new ? el("span", { class: "badge info small" }, "new") : null,
  );
  return el(
    "tr",
    {},
    name,
    el("td", {}, contact.email ? el("code", {}, contact.email) : "—"),
    verdict,
    confidence,
    el("td", {}, sourceList(contact.sources)),
    el("td", { class: "actions" }, contact.email ? verifyButton : null, saveToList(contact, "domain-error", byId("domain-list"))),
  );
}

// --- contacts ---------------------------------------------------------------------------------

const contactsState = { page: 1 };

const missing = (contact) => (contact.searching ? "searching…" : "not found");

/** The contacts query of the filter form (dates are local days; "until" includes its day). */
function contactQuery() {
  const day = (value, extra = 0) => {
    const [year, month, date] = value.split("-").map(Number);
    return new Date(year, month - 1, date + extra).getTime();
  };
  const from = byId("filter-from").value;
  const to = byId("filter-to").value;
  return {
    page: contactsState.page,
    per_page: PAGE_SIZE,
    query: byId("contacts-query").value.trim(),
    lists: byId("filter-list").value,
    status: byId("filter-status").value,
    verdict: byId("filter-verdict").value,
    created: [from ? `>=${day(from)}` : "", to ? `<${day(to, 1)}` : ""],
  };
}

function loadContacts() {
  return attempt("contacts-error", async () => {
    const page = await api("GET", "/v1/contacts", { query: contactQuery() });
    const empty = "No contacts match. Find an address or search a domain to add some.";
    rows(byId("contacts-table").tBodies[0], page.results, 7, contactRow, empty);
    const pages = Math.max(page.pages, 1);
    byId("contacts-page").textContent = `Page ${page.page} of ${pages} · ${page.total} contacts`;
    byId("contacts-prev").disabled = page.page <= 1;
    byId("contacts-next").disabled = page.page >= pages;
  });
}

function contactRow(contact) {
  return el(
    "tr",
    {},
    el("td", {}, el("a", { href: `#contact/${contact.id}` }, orDash(contact.name))),
    el("td", {}, contact.email ? el("code", {}, contact.email) : el("span", { class: "muted" }, missing(contact))),
    el("td", {}, orDash(contact.domain || contact.company)),
    el("td", {}, contact.verdict ? badge(contact.verdict, VERDICT_CLASSES) : "—"),
    el("td", {}, contact.status),
    el("td", {}, orDash(contact.score)),
    el("td", {}, when(contact.created)),
  );
}

// --- one contact ------------------------------------------------------------------------------

const STATUSES = ["LEAD", "CONTACTED", "WON", "LOST"];

function loadContact(id) {
  const body = byId("contact-body");
  body.replaceChildren();
  return attempt("contact-error", async () => {
    if (!/^\d+$/.test(id || "")) throw new Error("No such contact.");
    await loadLists();
    const [contact, history] = await Promise.all([
      api("GET", "/v1/contacts/{id}", { params: { id } }),
      api("GET", "/v1/contacts/{id}/history", { params: { id } }),
    ]);
    byId("contact-title").textContent = contact.name || contact.email || `Contact #${contact.id}`;
    body.replaceChildren(...contactPage(contact, history.results));
    fillListChoices();
  });
}

function contactPage(contact, events) {
  const statusId = "contact-status";
  const status = el("select", { id: statusId }, ...STATUSES.map((value) => el("option", { value }, value)));
  status.value = contact.status;
  const evidence = contact.evidence || {};
  const sources = evidence.sources || [];
  const history = el("ol", { class: "history", "aria-label": "History, newest first" });
  const showHistory = (items) => history.replaceChildren(...historyLines(contact, items, sources));
  const refreshHistory = async () => {
    const fresh = await api("GET", "/v1/contacts/{id}/history", { params: { id: contact.id } });
    showHistory(fresh.results);
  };
  showHistory(events);
  status.addEventListener("change", () =>
    attempt("contact-error", async () => {
      const changed = await api("PATCH", "/v1/contacts/{id}", { params: { id: contact.id }, body: { status: status.value } });
      status.value = changed.status;
      saved.textContent = `Status saved: ${changed.status}`;
      await refreshHistory();
    }),
  );
  const saved = el("span", { class: "muted small", role: "status" });
  return [
    facts([
      ["Address", contact.email ? el("code", {}, contact.email) : missing(contact)],
      ["Verdict", contact.verdict ? badge(contact.verdict, VERDICT_CLASSES) : "—"],
      ["Score", contact.score],
      ["Company", contact.company || contact.domain],
      ["Lists", contact.lists.length ? contact.lists.map(listName).join(", ") : "none"],
      ["Status", el("span", { class: "inline" }, el("label", { for: statusId, class: "visually-hidden" }, "Contact status"), status, saved)],
    ]),
    el("div", { class: "answer-actions" }, saveToList(contact, "contact-error", null, refreshHistory)),
    el("h3", {}, "Evidence"),
    evidenceFacts(evidence.verification || evidence.verdict ? evidence : {}, contact),
    el("h3", {}, "Sources"),
    sourceList(sources),
    el("h3", {}, "History"),
    history,
  ];
}

/** What a find or a verification concluded, in words. */
function outcomeText(event) {
  if (event.error) return `failed: ${event.error}`;
  if (!event.verdict) return "no verdict";
  return event.score === null || event.score === undefined ? event.verdict : `${event.verdict}, score ${event.score}`;
}

/** One recorded event as a sentence (every value from the API is text). */
function eventText(event) {
  switch (event.kind) {
    case "status":
      return `Status changed from ${event.status_from} to ${event.status_to}`;
    case "list_added":
      return `Added to the list “${event.list_name}”`;
    case "list_removed":
      return `Removed from the list “${event.list_name}”${event.reason ? ` (${event.reason})` : ""}`;
    case "search":
      return `Searched: ${event.address || "no address found"} (${outcomeText(event)})`;
    case "verification":
      return `Verified ${event.address}: ${outcomeText(event)}`;
    default:
      return event.kind;
  }
}

/** The contact's history, newest first: recorded events, when it was added, and its address's sightings. */
function historyLines(contact, events, sources) {
  const lines = [
    ...events.map((event) => {
      const by = event.by ? ` — by ${event.by.name || event.by.email}` : "";
      return [event.at, `${eventText(event)}${by}`];
    }),
    [contact.created, `Added to contacts (${contact.source || "unknown source"})`],
    ...sources.flatMap((source) => [
      [Date.parse(source.extracted_on), `Address first seen on ${source.uri}`],
      [Date.parse(source.last_seen_on), `Address last seen on ${source.uri}`],
    ]),
  ];
  return lines
    .map((line, order) => [...line, order])
    .sort((a, b) => b[0] - a[0] || a[2] - b[2])
    .map(([at, what]) => {
      const moment = Number.isFinite(at) ? el("time", { datetime: new Date(at).toISOString() }, when(at)) : "—";
      return el("li", {}, moment, " ", what);
    });
}
// --- bulk files: upload ------------------------------------------------------------------------

const PREVIEW_ROWS = 5;
const uploadState = { file: null, header: [] };

/** The first rows of a CSV (quotes, doubled quotes and newlines in quotes), for the preview. */
function csvRows(text, limit) {
  const found = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length && found.length < limit; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell);
      if (row.some((value) => value.trim())) found.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  if (found.length < limit && (cell || row.length)) {
    row.push(cell);
    if (row.some((value) => value.trim())) found.push(row);
  }
  return found;
}

const COLUMN_GUESSES = {
  "col-first": ["name", "full name", "fullname", "first name", "firstname", "first", "given name"],
  "col-last": ["last name", "lastname", "last", "surname", "family name"],
  "col-company": ["company", "company name", "organization", "organisation", "employer"],
  "col-domain": ["domain", "company domain", "website", "url", "site"],
};

const uploadKind = () => (byId("kind-find").checked ? "find" : "verify");

async function chooseFile(file) {
  showError("upload-error", "");
  if (!file) return;
  uploadState.file = file;
  byId("upload-file-name").textContent = `${file.name} (${Math.ceil(file.size / 1024)} KB)`;
  const head = await file.slice(0, 65536).text();
  const found = csvRows(head.replace(/^\uFEFF/, ""), PREVIEW_ROWS + 1);
  if (!found.length) {
    showError("upload-error", "The file has no rows.");
    return;
  }
  uploadState.header = found[0];
  const width = Math.max(...found.map((row) => row.length));
  const table = byId("preview-table");
  const titles = Array.from({ length: width }, (_, index) => found[0][index] || `Column ${index + 1}`);
  table.tHead.rows[0].replaceChildren(...titles.map((title) => el("th", { scope: "col" }, title)));
  table.tBodies[0].replaceChildren(
    ...found.slice(1).map((row) => el("tr", {}, ...titles.map((_, index) => el("td", {}, orDash(row[index]))))),
  );
  labelCells(table.tBodies[0]);
  for (const [id, words] of Object.entries(COLUMN_GUESSES)) {
    const select = byId(id);
    const none = el("option", { value: "" }, "—");
    select.replaceChildren(none, ...titles.map((title, index) => el("option", { value: String(index) }, `${index + 1}: ${title}`)));
    const guess = titles.findIndex((title) => words.includes(title.trim().toLowerCase().replace(/[_-]/g, " ")));
    select.value = guess >= 0 ? String(guess) : "";
  }
  if (byId("col-first").value === byId("col-last").value) byId("col-last").value = "";
  byId("upload-preview").hidden = false;
  showKind();
}

function showKind() {
  const finding = uploadKind() === "find";
  const chosen = Boolean(uploadState.file);
  byId("upload-columns").hidden = !finding || !chosen;
  const note = byId("upload-email-note");
  note.hidden = finding || !chosen;
  note.textContent = "The addresses are read from the column named email (or address, mail), else from the first column holding an @. The result file keeps every column of the file, then adds the verdicts.";
}

async function upload(event) {
  event.preventDefault();
  if (!uploadState.file) {
    showError("upload-error", "Choose a CSV file first.");
    return;
  }
  const form = new FormData();
  form.append("kind", uploadKind());
  form.append("filename", uploadState.file.name);
  if (uploadKind() === "find") {
    const name = [byId("col-first").value, byId("col-last").value].filter(Boolean).join(",");
    form.append("col_name", name);
    form.append("col_company", byId("col-company").value);
    form.append("col_domain", byId("col-domain").value);
  }
  form.append("file", uploadState.file, uploadState.file.name);
  await busy(event.currentTarget, () =>
    attempt("upload-error", async () => {
      const job = await api("POST", "/v1/jobs", { body: form });
      showJob(job);
      loadJobs();
    }),
  );
}

function dropZone() {
  const zone = byId("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) chooseFile(file);
  });
  byId("upload-file").addEventListener("change", (event) => chooseFile(event.currentTarget.files[0]));
}

// --- bulk files: the job being watched ---------------------------------------------------------

const jobState = { id: null, timer: null, running: false };

const VERDICT_PARTS = [
  ["deliverable", "Deliverable"],
  ["risky", "Risky"],
  ["undeliverable", "Undeliverable"],
];

/** The verdict mix as one stacked bar (SVG), with the counts as text. */
function verdictChart(job) {
  const counts = job.verdicts;
  const total = VERDICT_PARTS.reduce((sum, [key]) => sum + counts[key], 0);
  const bar = svg("svg", { viewBox: "0 0 100 8", class: "mix", role: "img", "aria-label": `Verdicts of job ${job.id}`, preserveAspectRatio: "none" });
  let x = 0;
  for (const [key, label] of VERDICT_PARTS) {
    const size = total ? (counts[key] / total) * 100 : 0;
    if (size > 0) bar.append(svg("rect", { x, y: 0, width: size, height: 8, class: `mix-${key}` }, svg("title", {}, `${label}: ${counts[key]}`)));
    x += size;
  }
  if (!total) bar.append(svg("rect", { x: 0, y: 0, width: 100, height: 8, class: "mix-none" }));
  const legend = el(
    "ul",
    { class: "legend" },
    ...VERDICT_PARTS.map(([key, label]) => el("li", {}, el("span", { class: `swatch mix-${key}` }), `${label}: ${counts[key]}`)),
  );
  return el("div", { class: "chart" }, bar, legend);
}

function showJob(job) {
  jobState.id = job.id;
  clearTimeout(jobState.timer);
  byId("job-card").hidden = false;
  byId("job-title").textContent = `Job #${job.id}${job.filename ? ` · ${job.filename}` : ""} · ${JOB_KINDS[job.kind] || job.kind}`;
  const percent = Math.round(job.progress * 100);
  byId("job-progress").replaceChildren(
    el("p", {}, badge(job.status, STATUS_CLASSES), " ", `${percent}% · ${job.treated} of ${job.quantity} rows done`,
      el("span", { class: "muted" }, ` (${job.success} found or verified, ${job.failed} failed)`)),
    el("progress", { max: "1", value: String(job.progress), "aria-label": `Job ${job.id} progress` }),
    verdictChart(job),
    ...(job.error ? [el("p", { class: "error-text" }, job.error)] : []),
  );
  const actions = JOB_ACTIONS.filter((action) => action.shown(job)).map((action) => jobButton(job, action, "job-error"));
  byId("job-actions").replaceChildren(...actions);
  if (ACTIVE.has(job.status) && storedKey()) jobState.timer = setTimeout(watchJob, POLL_MS);
  else if (jobState.running) loadJobs(); // it just finished: the list shows it too
  jobState.running = ACTIVE.has(job.status);
}

function watchJob() {
  return attempt("job-error", async () => {
    if (jobState.id !== null) showJob(await api("GET", "/v1/jobs/{id}", { params: { id: jobState.id } }));
  });
}

// --- bulk jobs --------------------------------------------------------------------------------

const jobsState = { offset: 0, timer: null };

const JOB_ACTIONS = [
  {
    label: "Pause",
    shown: (job) => ACTIVE.has(job.status),
    run: (job) => api("POST", "/v1/jobs/{id}/pause", { params: { id: job.id } }),
  },
  {
    label: "Resume",
    shown: (job) => job.status === "PAUSED",
    run: (job) => api("POST", "/v1/jobs/{id}/resume", { params: { id: job.id } }),
  },
  {
    label: "Cancel",
    shown: (job) => ACTIVE.has(job.status) || job.status === "PAUSED",
    confirm: (job) => `Cancel job #${job.id} for good? Rows done so far stay downloadable.`,
    run: (job) => api("POST", "/v1/jobs/{id}/cancel", { params: { id: job.id } }),
  },
  {
    label: "Download",
    shown: (job) => job.result_available,
    run: async (job) => {
      const response = await api("GET", "/v1/jobs/{id}/results", { params: { id: job.id }, raw: true });
      await saveFile(response, `job-${job.id}-results.csv`);
    },
  },
];

function jobButton(job, action, errorId = "jobs-error") {
  const button = el("button", { type: "button", class: "small secondary" }, action.label);
  button.setAttribute("aria-label", `${action.label} job ${job.id}`);
  button.addEventListener("click", async () => {
    if (action.confirm && !window.confirm(action.confirm(job))) return;
    button.disabled = true;
    const changed = await attempt(errorId, () => action.run(job));
    button.disabled = false;
    if (changed && jobState.id === job.id) showJob(changed);
    else if (jobState.id === job.id) watchJob();
    loadJobs();
  });
  return button;
}

function jobRow(job) {
  const actions = JOB_ACTIONS.filter((action) => action.shown(job));
  const open = el("a", { href: "#bulk", "aria-label": `Watch job ${job.id}` }, `#${job.id}`);
  open.addEventListener("click", () => showJob(job));
  return el(
    "tr",
    {},
    el("td", {}, open, job.filename ? el("div", { class: "muted small" }, job.filename) : null),
    el("td", {}, JOB_KINDS[job.kind] || job.kind),
    el(
      "td",
      {},
      badge(job.status, STATUS_CLASSES),
      job.error ? el("div", { class: "error-text small" }, job.error) : null,
    ),
    el(
      "td",
      {},
      el("progress", { max: "1", value: String(job.progress), "aria-label": `Job ${job.id} progress in the list` }),
      el("div", { class: "muted small" }, `${job.treated} / ${job.quantity} rows`),
    ),
    el("td", { class: "small" }, verdictChart(job)),
    el("td", {}, when(job.created)),
    el("td", { class: "actions" }, ...actions.map((action) => jobButton(job, action))),
  );
}

function loadJobs() {
  clearTimeout(jobsState.timer);
  return attempt("jobs-error", async () => {
    const found = await api("GET", "/v1/jobs", { query: { offset: jobsState.offset, limit: PAGE_SIZE + 1 } });
    const jobs = found.results.slice(0, PAGE_SIZE);
    rows(byId("jobs-table").tBodies[0], jobs, 7, jobRow, "No bulk jobs yet: upload a file above.");
    pager("jobs", jobsState.offset, found.results.length > PAGE_SIZE);
    if (jobs.some((job) => ACTIVE.has(job.status)) && storedKey()) {
      jobsState.timer = setTimeout(loadJobs, JOBS_REFRESH_MS);
    }
  });
}

function pager(prefix, offset, more) {
  byId(`${prefix}-page`).textContent = `Page ${offset / PAGE_SIZE + 1}`;
  byId(`${prefix}-prev`).disabled = offset === 0;
  byId(`${prefix}-next`).disabled = !more;
}

// --- webhook deliveries -----------------------------------------------------------------------

const hooksState = { offset: 0 };

function deliveryState(delivery) {
  if (delivery.delivered) return `yes, ${when(delivery.delivered_at)}`;
  if (delivery.attempts >= delivery.max_attempts) return "no, gave up";
  return `pending, next try ${when(delivery.next_attempt_at)}`;
}

function deliveryRow(delivery) {
  const tries = delivery.history.map((entry) =>
    el("li", {}, `${entry.at ? new Date(entry.at).toLocaleString() : "—"}: `, entry.error || `HTTP ${entry.status}`),
  );
  const summary = `${tries.length} ${tries.length === 1 ? "try" : "tries"}`;
  return el(
    "tr",
    {},
    el("td", { class: "target" }, el("code", {}, delivery.target)),
    el("td", {}, delivery.job_id === null ? "—" : `#${delivery.job_id}`),
    el("td", {}, deliveryState(delivery)),
    el("td", {}, `${delivery.attempts} / ${delivery.max_attempts}`),
    el("td", {}, orDash(delivery.last_status)),
    el("td", {}, tries.length ? el("details", {}, el("summary", {}, summary), el("ol", {}, ...tries)) : "—"),
  );
}

function loadDeliveries() {
  return attempt("hooks-error", async () => {
    const query = { offset: hooksState.offset, limit: PAGE_SIZE + 1 };
    const found = await api("GET", "/v1/webhooks/deliveries", { query });
    rows(byId("hooks-table").tBodies[0], found.results.slice(0, PAGE_SIZE), 6, deliveryRow);
    pager("hooks", hooksState.offset, found.results.length > PAGE_SIZE);
  });
}

// --- signing in and out -----------------------------------------------------------------------

function showDashboard() {
  byId("sign-in").hidden = true;
  byId("dashboard").hidden = false;
  byId("nav").hidden = false;
  byId("sign-out").hidden = false;
  route();
}

/** Forget the key and every piece of organisation data on the page. */
function signOut(message) {
  localStorage.removeItem(KEY_STORAGE);
  clearTimeout(jobsState.timer);
  clearTimeout(jobState.timer);
  jobState.id = null;
  listsState.items = [];
  for (const table of document.querySelectorAll("#dashboard table")) table.tBodies[0].replaceChildren();
  for (const id of ["credits", "find-result", "domain-summary", "job-progress", "job-actions", "usage", "contact-body", "key-new"]) {
    byId(id).replaceChildren();
  }
  for (const id of ["verify-table", "domain-people-card", "job-card", "key-new", "upload-preview", "upload-columns"]) {
    byId(id).hidden = true;
  }
  byId("upload-form").reset();
  uploadState.file = null;
  byId("upload-file-name").textContent = "";
  byId("who").hidden = true;
  byId("nav").hidden = true;
  byId("sign-out").hidden = true;
  byId("dashboard").hidden = true;
  byId("sign-in").hidden = false;
  document.title = "mailsleuth";
  showError("sign-in-error", message);
  byId("key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = byId("key");
  const key = input.value.trim();
  if (!/^[\x21-\x7e]+$/.test(key)) {
    showError("sign-in-error", "An API key is printable ASCII without spaces.");
    return;
  }
  localStorage.setItem(KEY_STORAGE, key);
  await busy(event.currentTarget, async () => {
    try {
      await loadAccount();
    } catch (error) {
      if (storedKey()) signOut(describe(error));
      return;
    }
    input.value = "";
    showError("sign-in-error", "");
    showDashboard();
  });
}

function paging(prefix, state, load, step) {
  byId(`${prefix}-prev`).addEventListener("click", () => {
    step(state, -1);
    load();
  });
  byId(`${prefix}-next`).addEventListener("click", () => {
    step(state, 1);
    load();
  });
}

const byPage = (state, delta) => {
  state.page += delta;
};
const byOffset = (state, delta) => {
  state.offset = Math.max(0, state.offset + delta * PAGE_SIZE);
};

function start() {
  byId("sign-in-form").addEventListener("submit", signIn);
  byId("sign-out").addEventListener("click", () => signOut(""));
  byId("find-form").addEventListener("submit", find);
  byId("verify-form").addEventListener("submit", verify);
  byId("domain-form").addEventListener("submit", domainSearch);
  byId("list-form").addEventListener("submit", createList);
  byId("upload-form").addEventListener("submit", upload);
  byId("kind-verify").addEventListener("change", showKind);
  byId("kind-find").addEventListener("change", showKind);
  byId("key-create").addEventListener("click", createKey);
  dropZone();
  byId("contacts-form").addEventListener("submit", (event) => {
    event.preventDefault();
    contactsState.page = 1;
    loadContacts();
  });
  paging("contacts", contactsState, loadContacts, byPage);
  paging("domain", domainState, loadDomain, byPage);
  paging("jobs", jobsState, loadJobs, byOffset);
  paging("hooks", hooksState, loadDeliveries, byOffset);
  byId("jobs-refresh").addEventListener("click", loadJobs);
  byId("hooks-refresh").addEventListener("click", loadDeliveries);
  window.addEventListener("hashchange", () => {
    route();
    byId("main").focus({ preventScroll: true });
  });
  if (storedKey()) {
    loadAccount().then(showDashboard, (error) => storedKey() && signOut(describe(error)));
  }
}

start();
