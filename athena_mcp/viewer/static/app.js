// The memory explorer: one page, its views chosen by the address's fragment (#search, #memory/12, ...).
// What is stored is only ever put on the page as text (textContent), never as markup.
"use strict";

const main = document.getElementById("main");
const status = document.getElementById("status");
const picker = document.getElementById("namespace");
const TOKEN_KEY = "athena-explorer-token";
let writes = false;

// `athena-mcp explore` hands its token over in the fragment, which no request carries: keep it for
// this tab and take it out of the address bar.
if (location.hash.startsWith("#token=")) {
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(location.hash.slice(7)));
  history.replaceState(null, "", location.pathname + "#search");
}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "onclick") node.addEventListener("click", value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function say(text, isError) {
  status.textContent = text || "";
  status.className = isError ? "error" : "";
}

async function api(path, params, options) {
  const query = new URLSearchParams(params || {}).toString();
  const headers = Object.assign({}, (options && options.headers) || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch("/ui/api/" + path + (query ? "?" + query : ""), Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    throw new Error("This page needs the server's token: open the address `athena-mcp explore` printed (it ends in #token=...), or add #token=<your token> to this address.");
  }
  if (!response.ok) throw new Error(body.error || "the server answered " + response.status);
  return body;
}

function when(value) {
  if (value === null || value === undefined) return "-";
  const moment = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return moment.toISOString().slice(0, 16).replace("T", " ");
}

function table(headers, rows, onRow) {
  const head = el("tr", {}, headers.map((name) => el("th", {}, name)));
  const body = rows.map((row) => {
    const cells = row.cells.map((cell) => (cell instanceof Node ? el("td", {}, cell) : el("td", {}, cell)));
    const line = el("tr", onRow ? { class: "link", "data-id": row.id } : {}, cells);
    if (onRow) line.addEventListener("click", () => onRow(row));
    return line;
  });
  return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
}

function link(text, target) {
  return el("a", { href: target }, text);
}

function namespace() {
  return picker.value || "default";
}

const views = {
  async search(rest) {
    const query = new URLSearchParams(rest).get("q") || "";
    const input = el("input", { type: "search", name: "q", placeholder: "What do you want to find?", value: query });
    const explain = el("input", { type: "checkbox", name: "explain" });
    explain.checked = new URLSearchParams(rest).get("explain") === "1";
    const form = el("form", {}, input, el("label", {}, explain, " explain"), el("button", { type: "submit" }, "Search"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      location.hash = "#search?" + new URLSearchParams({ q: input.value, explain: explain.checked ? "1" : "0" });
    });
    main.replaceChildren(form);
    if (!query) return;
    const found = await api("search", { namespace: namespace(), q: query, explain: explain.checked ? "1" : "0" });
    const headers = ["score", "id", "kind", "when"].concat(explain.checked ? ["keywords", "meaning"] : [], ["content"]);
    const rows = found.results.map((hit) => {
      const why = hit.explain || {};
      const parts = explain.checked
        ? [why.lexical ? "BM25 #" + why.lexical.rank : "-", why.dense ? "cos " + why.dense.score.toFixed(2) + " #" + why.dense.rank : "-"]
        : [];
      return { id: hit.id, cells: [hit.score.toFixed(2), hit.id, hit.kind, when(hit.timestamp)].concat(parts, [hit.content]) };
    });
    main.append(
      el("p", { class: "muted" }, `${found.results.length} results, ${found.mode} search, ${Math.round(found.seconds * 1000)} ms` + (found.notice ? "; " + found.notice : "")),
      table(headers, rows, (row) => (location.hash = "#memory/" + row.id)),
    );
  },

  async memory(id) {
    const memory = await api("memory/" + id);
    const facts = el(
      "dl",
      {},
      el("dt", {}, "when"), el("dd", {}, when(memory.timestamp) + " UTC"),
      el("dt", {}, "tags"), el("dd", {}, (memory.tags || []).join(", ") || "-"),
      el("dt", {}, "importance"), el("dd", {}, memory.importance.toFixed(2)),
      el("dt", {}, "origin"), el("dd", {}, (memory.origin || "-") + ", trust " + memory.trust),
      memory.session_id ? [el("dt", {}, "session"), el("dd", {}, link(memory.session_id, "#session/" + encodeURIComponent(memory.session_id)))] : [],
      el("dt", {}, "used"), el("dd", {}, `recalled ${memory.usage.recalled} times, rated helpful ${memory.usage.helpful}, unhelpful ${memory.usage.unhelpful}`),
    );
    main.replaceChildren(
      el("h2", {}, `memory ${memory.id} · ${memory.system} ${memory.kind} · ${memory.namespace} · ${memory.status} · version ${memory.version}`),
      el("p", { class: "content", id: "memory-content" }, memory.content),
      facts,
    );
    if (memory.sources.length) {
      main.append(el("h2", {}, "Came from"), el("p", {}, memory.sources.map((source) => [link("event " + source, "#memory/" + source), " "])));
    }
    if (memory.products.length) {
      main.append(
        el("h2", {}, "Made into"),
        el("p", {}, memory.products.map((p) => [p.type === "memory" || p.type === "procedure" ? link(p.type + " " + p.id, "#" + p.type + "/" + p.id) : p.type + " " + p.id, " "])),
      );
    }
    if (memory.history.length) {
      main.append(
        el("h2", {}, "Earlier versions"),
        table(["version", "from", "until", "why", "content"], memory.history.map((v) => ({ cells: [v.version, when(v.valid_from), when(v.superseded_at), v.change_reason || "-", v.content] }))),
      );
    }
    if (writes && memory.status === "active") {
      const forget = el("button", { class: "danger", type: "button" }, "Forget");
      forget.addEventListener("click", async () => {
        const reason = prompt("Why forget it? (kept in the audit trail)");
        if (reason === null) return;
        await api("memory/" + memory.id + "/forget", {}, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason }) });
        say("Forgotten.");
        await views.memory(id);
      });
      main.append(el("p", {}, forget));
    }
  },

  async timeline() {
    const page = await api("timeline", { namespace: namespace(), limit: 100 });
    main.replaceChildren(
      el("h2", {}, "Latest events"),
      table(["when", "id", "type", "session", "outcome", "content"], page.events.map((e) => ({ id: e.id, cells: [when(e.timestamp), e.id, e.kind, e.session_id || "-", e.outcome || "-", e.content] })), (row) => (location.hash = "#memory/" + row.id)),
    );
  },

  async sessions() {
    const sessions = await api("sessions", { namespace: namespace() });
    main.replaceChildren(
      el("h2", {}, "Sessions"),
      table(["last event", "session", "events", "first event", "digest"], sessions.map((s) => ({ id: s.session_id, cells: [when(s.last), s.session_id, s.events, when(s.first), s.digest ? s.digest.content : "-"] })), (row) => (location.hash = "#session/" + encodeURIComponent(row.id))),
    );
  },

  async session(id) {
    const session = await api("session", { namespace: namespace(), id: decodeURIComponent(id) });
    main.replaceChildren(el("h2", {}, `Session ${session.session_id}`));
    if (session.digest) main.append(el("p", { class: "content" }, session.digest.content));
    main.append(table(["when", "id", "type", "outcome", "content"], session.events.map((e) => ({ id: e.id, cells: [when(e.timestamp), e.id, e.kind, e.outcome || "-", e.content] })), (row) => (location.hash = "#memory/" + row.id)));
  },

  async procedures() {
    const page = await api("procedures", { namespace: namespace() });
    main.replaceChildren(
      el("h2", {}, "Procedures"),
      table(["id", "name", "status", "origin", "runs", "success", "confidence"], page.items.map((p) => ({ id: p.id, cells: [p.id, p.name, p.status, p.origin, p.stats.runs, p.stats.success_rate === null || p.stats.success_rate === undefined ? "-" : Math.round(p.stats.success_rate * 100) + "%", p.stats.confidence.toFixed(2)] })), (row) => (location.hash = "#procedure/" + row.id)),
    );
  },

  async procedure(id) {
    const p = await api("procedure/" + id);
    main.replaceChildren(
      el("h2", {}, `${p.name} · ${p.status}, ${p.origin}, ${p.validation}`),
      el("p", {}, "Goal: " + p.goal),
      el("ol", {}, p.steps.map((step) => el("li", {}, step))),
      el("p", {}, `${p.stats.runs} runs: ${p.stats.successes} succeeded, ${p.stats.failures} failed, ${p.stats.partials} partly; confidence ${p.stats.confidence.toFixed(2)}`),
    );
    if (p.recent_runs.length) {
      main.append(el("h2", {}, "Latest runs"), table(["when", "outcome", "seconds", "session", "notes"], p.recent_runs.map((r) => ({ cells: [when(r.recorded_at), r.outcome, r.duration === null || r.duration === undefined ? "-" : r.duration.toFixed(1), r.session_id || "-", r.notes || "-"] }))));
    }
  },

  async tasks() {
    const found = await api("tasks", { namespace: namespace() });
    main.replaceChildren(el("h2", {}, "Due now"));
    const fired = found.due.fired || [];
    main.append(fired.length ? el("ul", {}, fired.map((f) => el("li", {}, (f.reminder || (f.task ? f.task.title : "a trigger")) + " · fired " + when(f.fired_at)))) : el("p", { class: "muted" }, "Nothing has fired."));
    main.append(
      el("h2", {}, "Open tasks"),
      table(["id", "title", "status", "priority", "due", "goal"], found.tasks.tasks.map((t) => ({ cells: [t.id, t.title, t.status, t.priority, t.due ? el("span", { class: t.overdue ? "overdue" : "" }, when(t.due) + (t.overdue ? " (overdue)" : "")) : "-", t.goal_id || "-"] }))),
    );
  },

  async graph(rest) {
    const query = new URLSearchParams(rest).get("q") || "";
    const input = el("input", { type: "search", name: "entity", placeholder: "An entity's name, or part of one", value: query });
    const form = el("form", {}, input, el("button", { type: "submit" }, "Find"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      location.hash = "#graph?" + new URLSearchParams({ q: input.value });
    });
    main.replaceChildren(form);
    if (!query) return;
    const found = await api("entities", { namespace: namespace(), q: query });
    main.append(table(["entity", "type", "observations"], found.entities.map((e) => ({ id: e.name, cells: [e.name, e.entityType, e.observations.length] })), (row) => (location.hash = "#entity/" + encodeURIComponent(row.id))));
  },

  async entity(name) {
    const view = await api("entity", { namespace: namespace(), name: decodeURIComponent(name), depth: 2 });
    const picture = drawGraph(view);
    const side = el(
      "div",
      {},
      el("h2", {}, view.start),
      view.observations.length ? el("ul", {}, view.observations.map((o) => el("li", {}, o))) : el("p", { class: "muted" }, "No observations."),
      el("h2", {}, "Relations"),
      el("ul", {}, view.relations.map((r) => el("li", {}, `${r.from} —${r.relationType}→ ${r.to}`))),
      el("h2", {}, "Communities"),
      view.communities.length ? el("ul", {}, view.communities.map((c) => el("li", {}, `${c.label} (${c.size} entities)`))) : el("p", { class: "muted" }, "None computed yet."),
    );
    main.replaceChildren(el("div", { class: "graph" }, picture, side));
  },
};

const PALETTE = ["#2f5bd3", "#d9822b", "#2e9d5b", "#a23fc4", "#c23b4a", "#1f9bb5", "#8a6d3b", "#5e6b7d"];

// A neighbourhood drawn as a force layout: relations pull their ends together, every pair pushes apart.
function drawGraph(view) {
  const width = 800, height = 520;
  const svgNs = "http://www.w3.org/2000/svg";
  const nodes = view.entities.map((entity, n) => {
    const angle = (2 * Math.PI * n) / Math.max(view.entities.length, 1);
    const radius = entity.distance === 0 ? 0 : 80 * entity.distance;
    return { name: entity.name, distance: entity.distance, x: width / 2 + radius * Math.cos(angle), y: height / 2 + radius * Math.sin(angle) };
  });
  const index = new Map(nodes.map((node, n) => [node.name, n]));
  const edges = view.relations.filter((r) => index.has(r.from) && index.has(r.to)).map((r) => [index.get(r.from), index.get(r.to), r.relationType]);
  const rest = 140; // the length a relation settles at
  for (let step = 0; step < 300; step++) {
    const heat = 1 - step / 300;
    for (const node of nodes) { node.dx = 0; node.dy = 0; }
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const dx = nodes[i].x - nodes[j].x, dy = nodes[i].y - nodes[j].y;
        const distance = Math.max(Math.hypot(dx, dy), 1);
        const push = (0.05 * rest * rest) / distance / distance;
        nodes[i].dx += dx * push; nodes[i].dy += dy * push;
        nodes[j].dx -= dx * push; nodes[j].dy -= dy * push;
      }
    }
    for (const [i, j] of edges) {
      const dx = nodes[j].x - nodes[i].x, dy = nodes[j].y - nodes[i].y;
      const distance = Math.max(Math.hypot(dx, dy), 1);
      const pull = (0.1 * (distance - rest)) / distance;
      nodes[i].dx += dx * pull; nodes[i].dy += dy * pull;
      nodes[j].dx -= dx * pull; nodes[j].dy -= dy * pull;
    }
    for (const node of nodes) {
      if (node.distance === 0) continue;
      node.x = Math.min(width - 60, Math.max(20, node.x + Math.max(-15, Math.min(15, node.dx)) * heat));
      node.y = Math.min(height - 20, Math.max(20, node.y + Math.max(-15, Math.min(15, node.dy)) * heat));
    }
  }
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "the neighbourhood of " + view.start);
  for (const [i, j, type] of edges) {
    const line = document.createElementNS(svgNs, "line");
    line.setAttribute("x1", nodes[i].x); line.setAttribute("y1", nodes[i].y);
    line.setAttribute("x2", nodes[j].x); line.setAttribute("y2", nodes[j].y);
    const title = document.createElementNS(svgNs, "title");
    title.textContent = `${nodes[i].name} ${type} ${nodes[j].name}`;
    line.append(title);
    svg.append(line);
  }
  for (const node of nodes) {
    const community = view.community_of[node.name];
    const circle = document.createElementNS(svgNs, "circle");
    circle.setAttribute("cx", node.x); circle.setAttribute("cy", node.y);
    circle.setAttribute("r", node.distance === 0 ? 11 : 8);
    circle.setAttribute("fill", community === undefined ? "#9aa3b2" : PALETTE[community % PALETTE.length]);
    circle.setAttribute("data-name", node.name);
    circle.addEventListener("click", () => (location.hash = "#entity/" + encodeURIComponent(node.name)));
    const label = document.createElementNS(svgNs, "text");
    label.setAttribute("x", node.x + 13); label.setAttribute("y", node.y + 4);
    if (node.distance === 0) label.setAttribute("class", "start");
    label.textContent = node.name;
    svg.append(circle, label);
  }
  return svg;
}

async function route() {
  const [path, rest] = (location.hash.slice(1) || "search").split("?");
  const [view, argument] = path.split(/\/(.*)/s);
  const known = Object.prototype.hasOwnProperty.call(views, view) ? view : "search";
  const section = { memory: "search", session: "sessions", procedure: "procedures", entity: "graph" }[known] || known;
  for (const tab of document.querySelectorAll("nav a")) tab.classList.toggle("current", tab.dataset.view === section);
  say("Loading…");
  try {
    await views[known](argument === undefined ? rest || "" : argument);
    say("");
  } catch (error) {
    main.replaceChildren();
    say(error.message, true);
  }
}

async function start() {
  try {
    const listed = await api("namespaces");
    writes = listed.writes;
    const names = listed.namespaces.map((n) => n.name);
    if (!names.length) names.push("default");
    picker.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
    // The namespace chosen last in this tab, else the one that holds the most.
    const size = (n) => Object.values(n.counts).reduce((sum, count) => sum + count, 0);
    const largest = listed.namespaces.slice().sort((a, b) => size(b) - size(a))[0];
    const kept = sessionStorage.getItem("athena-explorer-namespace");
    picker.value = kept && names.includes(kept) ? kept : largest ? largest.name : names[0];
  } catch (error) {
    say(error.message, true);
    return;
  }
  picker.addEventListener("change", () => {
    sessionStorage.setItem("athena-explorer-namespace", picker.value);
    route();
  });
  window.addEventListener("hashchange", route);
  route();
}

start();
