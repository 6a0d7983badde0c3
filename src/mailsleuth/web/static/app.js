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
 * goes into a URL. A refused key (401/403) signs the dashboard out.
 */
async function api(method, template, { params = {}, query = {}, body, raw = false } = {}) {
  const url = new URL(expand(template, params), window.location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const key = storedKey();
  const headers = {
    Authorization: template.startsWith("/2018-01-08/") ? `Basic ${btoa(`:${key}`)}` : `Bearer ${key}`,
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  if (response.ok && raw) return response;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, errorText(data));
    if (response.status === 401 || response.status === 403) {
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

function rows(tbody, items, columns, render) {
  if (!items.length) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: String(columns), class: "empty" }, "Nothing here yet.")));
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

// --- credits ----------------------------------------------------------------------------------

async function loadAccount() {
  const account = await api("GET", "/2018-01-08/account/");
  const who = byId("who");
  who.textContent = account.name ? `${account.name} · ${account.email}` : account.email;
  who.hidden = false;
  const verify = account.balance.verify;
  const enrich = account.balance.enrich;
  byId("credits").replaceChildren(
    balance("Searches", account.credits.remains, `of ${account.credits.total}`),
    balance("Verifications", verify.remaining, `${verify.processed_entries} used`),
    balance("Enrichments", enrich.remaining, `${enrich.processed_entries} used`),
  );
}

function balance(label, remaining, detail) {
  const amount = el("dd", {}, el("strong", {}, remaining), " ", el("span", { class: "muted" }, detail));
  return el("div", {}, el("dt", {}, label), amount);
}

const refreshCredits = () => attempt("credits-error", loadAccount);

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
  refreshCredits();
  loadContacts();
}

function findAnswer(answer, name, domain) {
  if (answer.error) throw new Error(`The search failed: ${answer.error}`);
  const contact = answer.contact || {};
  const result = answer.result || contact.evidence || {};
  const evidence = result.verification || {};
  const email = contact.email || result.email;
  return el(
    "div",
    { class: "answer" },
    el("p", { class: "address" }, email || `No address found for ${name} at ${domain}.`),
    facts([
      ["Verdict", badge(result.verdict || contact.verdict, VERDICT_CLASSES)],
      ["Score", result.score ?? contact.score],
      ["Pattern", result.pattern ? el("code", {}, result.pattern) : null],
      ["Candidates tried", codeList(result.candidates_tried)],
      ["MX hosts", codeList(evidence.mx_hosts)],
      ["SMTP reply", smtpReply(evidence)],
      ["Catch-all", yesNo(evidence.catch_all)],
      ["Reason", result.reason || evidence.reason],
    ]),
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
  refreshCredits();
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

// --- contacts ---------------------------------------------------------------------------------

const contactsState = { page: 1, query: "" };

const missing = (contact) => (contact.searching ? "searching…" : "not found");

function loadContacts() {
  return attempt("contacts-error", async () => {
    const page = await api("GET", "/v1/contacts", {
      query: { page: contactsState.page, per_page: PAGE_SIZE, query: contactsState.query },
    });
    rows(byId("contacts-table").tBodies[0], page.results, 6, (contact) =>
      el(
        "tr",
        {},
        el("td", {}, orDash(contact.name)),
        el("td", {}, contact.email ? el("code", {}, contact.email) : el("span", { class: "muted" }, missing(contact))),
        el("td", {}, orDash(contact.domain || contact.company)),
        el("td", {}, contact.verdict ? badge(contact.verdict, VERDICT_CLASSES) : "—"),
        el("td", {}, orDash(contact.score)),
        el("td", {}, when(contact.created)),
      ),
    );
    const pages = Math.max(page.pages, 1);
    byId("contacts-page").textContent = `Page ${page.page} of ${pages} · ${page.total} contacts`;
    byId("contacts-prev").disabled = page.page <= 1;
    byId("contacts-next").disabled = page.page >= pages;
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
    run: download,
  },
];

/** Fetch the result file with the key in a header, then hand it to the browser as a download. */
async function download(job) {
  const response = await api("GET", "/v1/jobs/{id}/results", { params: { id: job.id }, raw: true });
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: `job-${job.id}-results.csv`, hidden: "" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function jobButton(job, action) {
  const button = el("button", { type: "button", class: "small secondary" }, action.label);
  button.setAttribute("aria-label", `${action.label} job ${job.id}`);
  button.addEventListener("click", async () => {
    if (action.confirm && !window.confirm(action.confirm(job))) return;
    button.disabled = true;
    await attempt("jobs-error", () => action.run(job));
    button.disabled = false;
    loadJobs();
  });
  return button;
}

function jobRow(job) {
  const verdicts = job.verdicts;
  const actions = JOB_ACTIONS.filter((action) => action.shown(job));
  return el(
    "tr",
    {},
    el("td", {}, `#${job.id}`, job.filename ? el("div", { class: "muted small" }, job.filename) : null),
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
      el("progress", { max: "1", value: String(job.progress), "aria-label": `Job ${job.id} progress` }),
      el("div", { class: "muted small" }, `${job.treated} / ${job.quantity} rows`),
    ),
    el(
      "td",
      { class: "small" },
      `${verdicts.deliverable} deliverable, ${verdicts.risky} risky, ${verdicts.undeliverable} undeliverable`,
    ),
    el("td", {}, when(job.created)),
    el("td", { class: "actions" }, ...actions.map((action) => jobButton(job, action))),
  );
}

function loadJobs() {
  clearTimeout(jobsState.timer);
  return attempt("jobs-error", async () => {
    const found = await api("GET", "/v1/jobs", { query: { offset: jobsState.offset, limit: PAGE_SIZE + 1 } });
    const jobs = found.results.slice(0, PAGE_SIZE);
    rows(byId("jobs-table").tBodies[0], jobs, 7, jobRow);
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
  byId("sign-out").hidden = false;
  loadContacts();
  loadJobs();
  loadDeliveries();
}

/** Forget the key and every piece of organisation data on the page. */
function signOut(message) {
  localStorage.removeItem(KEY_STORAGE);
  clearTimeout(jobsState.timer);
  for (const table of document.querySelectorAll("#dashboard table")) table.tBodies[0].replaceChildren();
  for (const id of ["credits", "find-result"]) byId(id).replaceChildren();
  byId("verify-table").hidden = true;
  byId("who").hidden = true;
  byId("sign-out").hidden = true;
  byId("dashboard").hidden = true;
  byId("sign-in").hidden = false;
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

function start() {
  byId("sign-in-form").addEventListener("submit", signIn);
  byId("sign-out").addEventListener("click", () => signOut(""));
  byId("find-form").addEventListener("submit", find);
  byId("verify-form").addEventListener("submit", verify);
  byId("contacts-form").addEventListener("submit", (event) => {
    event.preventDefault();
    contactsState.query = byId("contacts-query").value.trim();
    contactsState.page = 1;
    loadContacts();
  });
  byId("contacts-prev").addEventListener("click", () => {
    contactsState.page -= 1;
    loadContacts();
  });
  byId("contacts-next").addEventListener("click", () => {
    contactsState.page += 1;
    loadContacts();
  });
  for (const [prefix, state, load] of [["jobs", jobsState, loadJobs], ["hooks", hooksState, loadDeliveries]]) {
    byId(`${prefix}-refresh`).addEventListener("click", load);
    byId(`${prefix}-prev`).addEventListener("click", () => {
      state.offset = Math.max(0, state.offset - PAGE_SIZE);
      load();
    });
    byId(`${prefix}-next`).addEventListener("click", () => {
      state.offset += PAGE_SIZE;
      load();
    });
  }
  if (storedKey()) {
    showDashboard();
    refreshCredits();
  }
}

start();
