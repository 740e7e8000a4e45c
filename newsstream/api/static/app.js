// The analysts' page: search with facets, live alerts, rules. Every value from the server is
// inserted as text, except snippets, which are inserted as HTML only once checked to be nothing
// but escaped text and <mark> tags.
"use strict";

const KEY_STORAGE = "newsstream.apiKey";
const MAX_ALERTS_SHOWN = 50;
const SAFE_SNIPPET = /^(?:[^<>]|<mark>|<\/mark>)*$/;

// Facet name → the search parameter its values filter on.
const FACET_PARAMETER = {
  languages: "lang", persons: "person", locations: "location", organizations: "organization",
  agencies: "agency", sources: "source",
};
const VALUE_PARAMETERS = ["lang", "agency", "source"];
const SINGLE_PARAMETERS = [...VALUE_PARAMETERS, "from", "to"];
const LIST_PARAMETERS = ["entity", "person", "location", "organization"];  // repeatable: all must hold
const ENTITY_KINDS = ["person", "location", "organization"];
// Entity filters hold ids ("Q142", "per:vladimir-putin"); what they are called, as the server named them.
const entityNames = new Map();

const $ = (selector) => document.querySelector(selector);

function element(tag, { text, className, attributes } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function setSnippet(node, snippet) {
  if (SAFE_SNIPPET.test(snippet)) {
    node.innerHTML = snippet;
  } else {
    node.textContent = snippet;  // not what the server promises: shown as text, never as markup
  }
}

// --- the API key, kept for this tab only ---

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (apiKey()) headers["X-API-Key"] = apiKey();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const payload = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = payload && typeof payload.detail === "string" ? payload.detail : response.statusText;
    throw new Error(`${response.status}: ${detail}`);
  }
  return payload;
}

// --- search state, mirrored in the address so a search can be bookmarked ---

function stateFromAddress() {
  const params = new URLSearchParams(location.search);
  const parsed = { q: params.get("q") || "", page: Number(params.get("page")) || 1 };
  for (const name of SINGLE_PARAMETERS) parsed[name] = params.get(name);
  for (const name of LIST_PARAMETERS) parsed[name] = params.getAll(name);
  return parsed;
}

let state = stateFromAddress();

function searchParameters() {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  for (const name of SINGLE_PARAMETERS) if (state[name]) params.set(name, state[name]);
  for (const name of LIST_PARAMETERS) for (const value of state[name]) params.append(name, value);
  if (state.page > 1) params.set("page", state.page);
  return params;
}

function update(changes) {
  state = { ...state, page: 1, ...changes };
  history.pushState(null, "", `?${searchParameters()}`);
  search();
}

function isActive(parameter, value) {
  return LIST_PARAMETERS.includes(parameter) ? state[parameter].includes(value) : state[parameter] === value;
}

function toggle(parameter, value) {
  if (!LIST_PARAMETERS.includes(parameter)) {
    update({ [parameter]: isActive(parameter, value) ? null : value });
  } else if (isActive(parameter, value)) {
    update({ [parameter]: state[parameter].filter((other) => other !== value) });
  } else {
    update({ [parameter]: [...state[parameter], value] });
  }
}

// --- rendering ---

function renderActiveFilters() {
  const filters = [
    ...VALUE_PARAMETERS.filter((name) => state[name])
      .map((name) => [`${name}: ${state[name]}`, () => update({ [name]: null })]),
    ...LIST_PARAMETERS.flatMap((name) => state[name].map((value) => [
      `${name}: ${entityNames.get(value) || value}`, () => toggle(name, value)])),
    ...(state.from || state.to
      ? [[`published: ${state.from || "…"} – ${state.to || "…"}`, () => update({ from: null, to: null })]] : []),
  ];
  $("#active-filters").replaceChildren(...filters.map(([label, remove]) => {
    const chip = element("button", {
      text: `${label} ×`, className: "filter-chip", attributes: { type: "button", title: "remove this filter" },
    });
    chip.addEventListener("click", remove);
    return chip;
  }));
}

function renderFacets(facets) {
  for (const [name, parameter] of Object.entries(FACET_PARAMETER)) {
    const items = facets[name].map(({ value, count, name: entityName }) => {
      if (entityName) entityNames.set(value, entityName);
      const button = element("button", { attributes: {
        type: "button", "data-value": value, "aria-pressed": String(isActive(parameter, value)),
      } }, [element("span", { text: entityName || value, className: "value" }),
        element("span", { text: String(count), className: "count" })]);
      button.addEventListener("click", () => toggle(parameter, value));
      return element("li", {}, [button]);
    });
    $(`#facet-${name} ul`).replaceChildren(...items);
    $(`#facet-${name}`).hidden = items.length === 0;
  }
  const highest = Math.max(1, ...facets.published.map((bucket) => bucket.count));
  const bars = facets.published.map(({ start, end, count }) => {
    const range = start === end ? start : `${start} – ${end}`;
    const bar = element("button", { className: "bar", attributes: {
      type: "button", title: `${range}: ${count}`, "aria-label": `${range}: ${count} articles`,
      "aria-pressed": String(state.from === start && state.to === end),
    } }, [element("span")]);
    bar.firstChild.style.height = `${Math.round((100 * count) / highest)}%`;  // CSSOM: allowed by the page's CSP
    bar.addEventListener("click", () => update({ from: start, to: end }));
    return bar;
  });
  $("#facet-published .histogram").replaceChildren(...bars);
  $("#facet-published").hidden = bars.length === 0;
}

// A chip filters on the entity's id: clicking "Moscou" finds the articles naming Moskau or Moscow too.
function entityChips(hit) {
  return hit.entities.filter(({ label }) => ENTITY_KINDS.includes(label)).map(({ id, name, label }) => {
    entityNames.set(id, name);
    const chip = element("button", { text: name, className: `chip ${label}`, attributes: {
      type: "button", title: `only articles naming ${name}`, "data-kind": label, "data-id": id,
    } });
    chip.addEventListener("click", () => { if (!isActive(label, id)) toggle(label, id); });
    return chip;
  });
}

function renderHit(hit) {
  const title = /^https?:\/\//i.test(hit.url || "")  // a link only to the web, never javascript: or data:
    ? element("a", { text: hit.title || "(untitled)", attributes: { href: hit.url, rel: "noopener noreferrer" } })
    : element("span", { text: hit.title || "(untitled)" });
  const meta = [hit.source, hit.published_at && hit.published_at.slice(0, 10), hit.language].filter(Boolean).join(" · ");
  const snippets = hit.snippets.map((snippet) => {
    const paragraph = element("p", { className: "snippet" });
    setSnippet(paragraph, snippet);
    return paragraph;
  });
  return element("li", { className: "hit", attributes: { "data-id": hit.id } }, [
    element("h3", { className: "hit-title" }, [title]),
    element("p", { text: meta, className: "hit-meta" }),
    ...snippets,
    element("div", { className: "chips" }, entityChips(hit)),
    ...storyGroup(hit),
  ]);
}

// The other articles of the hit's story (search collapses by story): copies and other outlets'
// reports, in any language, folded under one line that opens on click.
function storyGroup(hit) {
  if (!(hit.story_size > 1)) return [];  // also a hit from before stories existed
  const more = hit.story_size - 1;
  const members = hit.story_more.map((member) => {
    const when = member.published_at ? member.published_at.slice(0, 16).replace("T", " ") : "";
    const line = [when, member.language, member.source].filter(Boolean).join(" · ");
    return element("li", { className: "story-member" }, [
      element("span", { text: member.title || "(untitled)" }),
      element("span", { text: ` ${line}${member.duplicate_of ? " · copy" : ""}`, className: "hit-meta" }),
    ]);
  });
  const hidden = more - members.length;
  if (hidden > 0) members.push(element("li", { text: `and ${hidden} more`, className: "hit-meta" }));
  return [element("details", { className: "story" }, [
    element("summary", { text: `${more} more from other outlets and languages` }),
    element("ul", { className: "story-members" }, members),
  ])];
}

function renderResults(result) {
  // Collapsed by story, a page holds stories: the pager counts those.
  const shown = result.stories_total ?? result.total;
  const pages = Math.max(1, Math.ceil(shown / result.size));
  const stories = result.stories_total === null || result.stories_total === undefined ? ""
    : ` in ${result.stories_total} stor${result.stories_total === 1 ? "y" : "ies"}`;
  $("#summary").textContent = `${result.total} article${result.total === 1 ? "" : "s"}${stories}`;
  $("#hits").replaceChildren(...result.hits.map(renderHit));
  $("#pager").hidden = pages === 1;
  $("#page-label").textContent = `page ${result.page} of ${pages}`;
  $("#previous").disabled = result.page <= 1;
  $("#next").disabled = result.page >= pages;
}

function showError(error) {
  $("#error").textContent = error ? error.message : "";
  $("#error").hidden = !error;
}

// --- the entity filtered on: its names in every language, its articles, who is named beside it ---

function filteredEntity() {
  const ids = LIST_PARAMETERS.flatMap((name) => state[name]);
  return ids.length === 1 ? ids[0] : null;
}

function renderEntityCard(view) {
  const names = Object.entries(view.names).map(([language, spellings]) =>
    element("li", {}, [element("span", { text: `${language}: `, className: "language" }),
      element("span", { text: spellings.join(", ") })]));
  const beside = view.co_occurring.map(({ id, name, label, count }) => {
    entityNames.set(id, name);
    const button = element("button", { text: `${name} (${count})`, className: `chip ${label || ""}`,
      attributes: { type: "button", "data-id": id, title: `also ${name}` } });
    button.addEventListener("click", () => toggle("entity", id));
    return button;
  });
  const days = view.per_day.map(({ day, count }) => `${day}: ${count}`).join(" · ");
  $("#entity-card").replaceChildren(
    element("h2", { text: view.name }),
    element("p", { className: "hit-meta", text: [view.id, view.label, `${view.articles} article${view.articles === 1 ? "" : "s"}`,
      view.known ? "in the knowledge base" : null].filter(Boolean).join(" · ") }),
    element("ul", { className: "entity-names" }, names),
    ...(days ? [element("p", { className: "hit-meta", text: days })] : []),
    ...(beside.length ? [element("p", { text: "Named beside it:" }), element("div", { className: "chips" }, beside)] : []),
  );
  $("#entity-card").hidden = false;
}

async function showEntity() {
  const id = filteredEntity();
  if (!id) {
    $("#entity-card").hidden = true;
    return;
  }
  try {
    const view = await api(`/entities/${encodeURIComponent(id)}`);
    if (filteredEntity() === id) renderEntityCard(view);
  } catch {
    $("#entity-card").hidden = true;  // an id no article names any more: the search says so
  }
}

let latestSearch = 0;

async function search() {
  const ticket = ++latestSearch;  // answers to superseded searches are dropped
  $("#q").value = state.q;
  renderActiveFilters();
  showEntity();
  try {
    const result = await api(`/search?${searchParameters()}`);
    if (ticket !== latestSearch) return;
    showError(null);
    renderResults(result);
    renderFacets(result.facets);
  } catch (error) {
    if (ticket === latestSearch) showError(error);
  }
}

// --- live alerts ---

const shownAlerts = new Set();

function renderAlert(alert, { live }) {
  if (shownAlerts.has(alert.id)) return;
  shownAlerts.add(alert.id);
  const snippet = element("p", { className: "snippet" });
  setSnippet(snippet, alert.snippet);
  const item = element("li", { className: live ? "alert live" : "alert", attributes: { "data-rule": alert.rule } }, [
    element("p", { className: "alert-head" }, [
      element("span", { text: alert.rule, className: "rule" }),
      element("time", { text: new Date(alert.matched_at).toLocaleString(), attributes: { datetime: alert.matched_at } }),
    ]),
    element("p", { text: alert.title, className: "alert-title" }),
    snippet,
  ]);
  const list = $("#alerts");
  if (live) list.prepend(item); else list.append(item);
  while (list.children.length > MAX_ALERTS_SHOWN) list.lastElementChild.remove();
}

function setStreamStatus(status, text) {
  const label = $("#stream-status");
  label.dataset.state = status;
  label.textContent = text;
}

let stream = null;

function followAlerts() {
  if (stream) stream.close();
  // EventSource cannot send headers: a read key goes in the address.
  stream = new EventSource(`/alerts/stream${apiKey() ? `?key=${encodeURIComponent(apiKey())}` : ""}`);
  setStreamStatus("connecting", "connecting…");
  stream.addEventListener("ready", () => setStreamStatus("live", "live"));
  stream.addEventListener("alert", (event) => renderAlert(JSON.parse(event.data), { live: true }));
  stream.addEventListener("unavailable", (event) => setStreamStatus("error", JSON.parse(event.data).detail));
  stream.addEventListener("error", () => {
    if ($("#stream-status").dataset.state !== "error") setStreamStatus("connecting", "reconnecting…");
  });
}

async function loadRecentAlerts() {
  try {
    for (const alert of await api("/alerts?size=20")) renderAlert(alert, { live: false });
  } catch (error) {
    setStreamStatus("error", error.message);
  }
}

// --- rules ---

function showRuleOutcome(outcome, text) {
  const message = $("#rule-message");
  message.dataset.outcome = outcome;
  message.textContent = text;
}

async function loadRules() {
  try {
    const rules = await api("/alerts/rules");
    $("#rule-list").replaceChildren(...rules.map((rule) => {
      const remove = element("button", { text: "remove", attributes: { type: "button" } });
      remove.addEventListener("click", () => removeRule(rule.name));
      return element("li", { attributes: { "data-rule": rule.name } }, [
        element("span", { text: rule.name, className: "rule" }), " ",
        element("code", { text: rule.query }), " ", remove,
      ]);
    }));
  } catch (error) {
    showRuleOutcome("refused", error.message);
  }
}

async function addRule(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const rule = { name: form.get("name").trim(), query: form.get("query").trim() };
  for (const optional of ["lang", "entity"]) if (form.get(optional).trim()) rule[optional] = form.get(optional).trim();
  try {
    await api("/alerts/rules", { method: "POST", body: rule });
    showRuleOutcome("saved", `rule ${rule.name} saved: its alerts appear above as they come`);
    event.target.reset();
    loadRules();
  } catch (error) {
    showRuleOutcome("refused", error.message);
  }
}

// Words the query's stored stories use in other languages: shown, and added to the query only
// for the languages the author checks (the query field shows the result before it is saved).
async function suggestWords() {
  const queryField = $("#rule-form input[name=query]");
  const query = queryField.value.trim();
  const panel = $("#suggestions");
  if (!query) {
    showRuleOutcome("refused", "write a query first");
    return;
  }
  try {
    const found = await api(`/alerts/suggestions?q=${encodeURIComponent(query)}`);
    const languages = Object.entries(found.by_language);
    if (!languages.length) {
      panel.replaceChildren(element("p", { text: "no suggestions: no stored story the query matches has articles "
        + "in other languages it misses" }));
      return;
    }
    const items = languages.map(([language, suggestions]) => {
      const box = element("input", { attributes: { type: "checkbox", value: language } });
      const words = suggestions.map((s) => `${s.word} (${s.stories} of ${found.stories} stories)`).join(", ");
      return element("li", {}, [element("label", {}, [box, ` ${language}: ${words}`])]);
    });
    const add = element("button", { text: "Add the checked languages to the query", attributes: { type: "button" } });
    add.addEventListener("click", () => {
      const clauses = [...panel.querySelectorAll("input:checked")].map((box) => found.clauses[box.value]);
      if (clauses.length) queryField.value = [`(${query})`, ...clauses].join(" OR ");
      panel.replaceChildren();
    });
    panel.replaceChildren(element("ul", {}, items), add);
  } catch (error) {
    showRuleOutcome("refused", error.message);
  }
}

async function removeRule(name) {
  try {
    await api(`/alerts/rules/${encodeURIComponent(name)}`, { method: "DELETE" });
    showRuleOutcome("removed", `rule ${name} removed`);
  } catch (error) {
    showRuleOutcome("refused", error.message);
  }
  loadRules();
}

// --- wiring ---

document.addEventListener("DOMContentLoaded", () => {
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    update({ q: $("#q").value.trim() });
  });
  $("#previous").addEventListener("click", () => update({ page: state.page - 1 }));
  $("#next").addEventListener("click", () => update({ page: state.page + 1 }));
  window.addEventListener("popstate", () => { state = stateFromAddress(); search(); });

  const keyField = $("#api-key");
  keyField.value = apiKey();
  keyField.addEventListener("input", () => sessionStorage.setItem(KEY_STORAGE, keyField.value));
  keyField.addEventListener("change", () => { followAlerts(); search(); loadRules(); });
  $("#rule-form").addEventListener("submit", addRule);
  $("#suggest").addEventListener("click", suggestWords);

  search();
  followAlerts();
  loadRecentAlerts();
  loadRules();
});
