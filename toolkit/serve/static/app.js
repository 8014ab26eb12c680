// ovlab serve: the page's script. It reads the JSON API (/api/…, the --json envelopes)
// and follows /api/events (Server-Sent Events: watch records and doctor reports).
// Nothing is loaded from elsewhere.
"use strict";

const $ = (sel) => document.querySelector(sel);
let selected = null;
let findings = [];
let elementsById = {};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

async function api(path, options) {
  const resp = await fetch(path, Object.assign({ credentials: "same-origin" }, options));
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body.data;
}

function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

// --- the graph ------------------------------------------------------------------------

async function loadGraph() {
  const data = await api("api/graph");
  const box = $("#graph");
  box.innerHTML = data.svg;
  elementsById = {};
  for (const e of data.elements) elementsById[e.id] = e;
  const svg = box.querySelector("svg");
  if (svg) {
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.id = "graph-svg";
  }
  for (const g of box.querySelectorAll("g.node")) {
    const title = g.querySelector("title");
    const id = title ? title.textContent : "";
    g.dataset.el = id;
    if (elementsById[id]) {
      g.classList.add("clickable");
      g.addEventListener("click", () => select(id));
    }
  }
  if (data.graph.store_error) {
    box.prepend(el("p", { class: "bad" }, "overlay not drawn: " + data.graph.store_error));
  }
  markFindings();
  if (selected && elementsById[selected]) markSelected();
}

function markSelected() {
  for (const g of document.querySelectorAll("g.node.selected")) g.classList.remove("selected");
  const g = document.querySelector(`g.node[data-el="${CSS.escape(selected)}"]`);
  if (g) g.classList.add("selected");
}

// --- details of one element -----------------------------------------------------------

function table(rows, columns) {
  if (!rows || rows.length === 0) return el("p", { class: "muted" }, "(empty)");
  const head = el("tr", {}, ...columns.map((c) => el("th", {}, c)));
  const body = rows.map((r) =>
    el("tr", {}, ...columns.map((c) => {
      const v = r[c];
      return el("td", {}, Array.isArray(v) ? v.join(",") : v === undefined ? "" : v);
    })),
  );
  return el("table", { class: "rows" }, el("thead", {}, head), el("tbody", {}, ...body));
}

const FDB_COLUMNS = ["mac", "dev", "dst", "vni", "master", "flags", "state"];
const NEIGH_COLUMNS = ["dst", "lladdr", "dev", "state"];

function tablesOf(data) {
  if (data.error) return [el("p", { class: "bad" }, data.error)];
  return [
    el("h4", {}, "FDB"), table(data.fdb, FDB_COLUMNS),
    el("h4", {}, "Neighbours"), table(data.neigh, NEIGH_COLUMNS),
  ];
}

async function select(id) {
  selected = id;
  markSelected();
  const pane = $("#details");
  pane.replaceChildren(el("h2", {}, "Details"), el("p", { class: "muted" }, "reading…"));
  let data;
  try {
    data = await api("api/element/" + encodeURIComponent(id));
  } catch (err) {
    pane.replaceChildren(el("h2", {}, "Details"), el("p", { class: "bad" }, String(err.message)));
    return;
  }
  const e = data.element;
  const info = el("dl", { class: "info" });
  for (const [k, v] of Object.entries(e)) {
    if (k === "id") continue;
    info.append(el("dt", {}, k), el("dd", {}, v));
  }
  if (data.status) {
    for (const k of ["pid", "alive", "hostname", "eth1_state", "processes", "services"]) {
      info.append(el("dt", {}, k), el("dd", {}, data.status[k]));
    }
  }
  const mine = findings.filter((f) => f.element === id);
  const parts = [el("h2", {}, "Details: " + e.name), info];
  if (mine.length) {
    parts.push(el("h4", {}, "Findings here"));
    parts.push(el("ul", { class: "findings" }, ...mine.map(findingItem)));
  }
  if (e.iface) parts.push(captureForm(id, e));
  parts.push(...tablesOf(data));
  pane.replaceChildren(...parts);
}

function captureForm(id, e) {
  const count = el("input", { type: "number", min: "1", max: "10000", value: "100", id: "cap-count" });
  const secs = el("input", { type: "number", min: "1", max: "60", value: "5", id: "cap-seconds" });
  const link = el("a", { id: "cap-link", class: "button", href: "#" }, `capture ${e.iface} (pcap)`);
  const update = () => {
    link.href = `api/capture/${encodeURIComponent(id)}?count=${count.value}&seconds=${secs.value}`;
  };
  count.addEventListener("input", update);
  secs.addEventListener("input", update);
  update();
  return el("div", { class: "capture" },
    link, " ", el("label", {}, "frames ", count), " ", el("label", {}, "or seconds ", secs));
}

// --- findings ---------------------------------------------------------------------------

function findingItem(f) {
  const where = [f.vm, f.netns, f.device].filter(Boolean).join(" · ");
  const item = el("li", { class: "finding sev-" + f.severity, "data-check": f.check, "data-el": f.element },
    el("b", {}, f.severity), " ", el("code", {}, f.check), " ", f.summary,
    where ? el("span", { class: "muted" }, " (" + where + ")") : null);
  if (f.expected || f.found) {
    item.append(el("div", { class: "muted" }, `expected ${f.expected || "-"}, found ${f.found || "-"}`));
  }
  if (f.fix) item.append(el("div", {}, "fix: ", el("code", {}, f.fix)));
  item.addEventListener("click", () => select(f.element));
  return item;
}

function showDoctor(report) {
  const box = $("#findings");
  if (report.hidden) {
    findings = [];
    box.replaceChildren(el("p", { class: "muted", id: "findings-hidden" }, report.hidden));
  } else if (report.error) {
    findings = [];
    box.replaceChildren(el("p", { class: "bad" }, report.error));
  } else {
    findings = report.findings || [];
    box.replaceChildren(
      findings.length
        ? el("ul", { class: "findings", id: "findings-list" }, ...findings.map(findingItem))
        : el("p", { class: "ok", id: "findings-clean" }, "no findings: the lab is healthy"),
    );
  }
  markFindings();
}

const RANK = { info: 0, warning: 1, error: 2, critical: 3 };

function markFindings() {
  for (const g of document.querySelectorAll("g.node")) {
    g.classList.remove("sev-info", "sev-warning", "sev-error", "sev-critical");
  }
  const worst = {};
  for (const f of findings) {
    if (worst[f.element] === undefined || RANK[f.severity] > RANK[worst[f.element]]) {
      worst[f.element] = f.severity;
    }
  }
  for (const [id, sev] of Object.entries(worst)) {
    const g = document.querySelector(`g.node[data-el="${CSS.escape(id)}"]`);
    if (g) g.classList.add("sev-" + sev);
  }
}

// --- tables of every VM and network -------------------------------------------------------

async function loadTables() {
  const data = await api("api/tables");
  const parts = data.map((t) =>
    el("div", { class: "ns-tables", "data-el": t.element }, el("h3", {}, t.name), ...tablesOf(t)));
  $("#tables").replaceChildren(...parts);
}

// --- exercise -----------------------------------------------------------------------------

async function loadExercise() {
  const data = await api("api/exercise");
  const pane = $("#exercise");
  if (!data) {
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  if (data.error) {
    pane.replaceChildren(el("h2", {}, "Exercise"), el("p", { class: "bad" }, data.error));
    return;
  }
  const crit = [];
  if (data.criteria.verify) crit.push("ovlab verify passes");
  if (data.criteria.doctor) crit.push("ovlab doctor finds nothing");
  for (const c of data.criteria.checks) crit.push("check: " + c);
  pane.replaceChildren(
    el("h2", {}, "Exercise: " + data.title),
    el("p", {}, data.story),
    el("p", { id: "exercise-progress" },
      `${Math.round(data.seconds / 60)} min since start · hints ${data.hints_used}/${data.hints_total}`
      + ` · checks run ${data.checks}`),
    el("p", { class: "muted" }, "To pass: " + crit.join("; ") + ". Run ovlab exercise check."),
  );
}

// --- walkthrough --------------------------------------------------------------------------

function stepItem(s) {
  const out = el("div", { class: "step-output" });
  for (const r of s.results || []) {
    out.append(el("div", { class: "cmd" }, "$ " + r.cmd), el("pre", {}, r.output));
    for (const m of r.failed) out.append(el("p", { class: "bad" }, "✗ " + m));
  }
  const verdict = s.ok === undefined ? "" : s.ok ? " ✓" : " ✗";
  const explain = el("div", { class: "explain" });
  explain.innerHTML = s.explain_html; // rendered by the server, raw HTML escaped
  const run = el("button", { type: "button" }, s.results ? "run again" : "run");
  const item = el("li", { id: "walk-step-" + s.number },
    el("h3", {}, s.title + verdict), explain,
    ...(s.results ? [] : s.commands.map((c) => el("div", { class: "cmd" }, "$ " + c))),
    run, out);
  run.addEventListener("click", async () => {
    run.disabled = true;
    run.textContent = "running…";
    try {
      item.replaceWith(stepItem(await api("api/walk/" + s.number, { method: "POST", headers: { "X-Ovlab": "1" } })));
    } catch (err) {
      out.append(el("p", { class: "bad" }, String(err.message)));
      run.disabled = false;
    }
  });
  return item;
}

async function loadWalk() {
  if (!$("#walk-steps")) return;
  const data = await api("api/walk");
  if (data) $("#walk-steps").replaceChildren(...data.steps.map(stepItem));
}

// --- live updates ---------------------------------------------------------------------------

const refreshGraph = debounce(() => loadGraph().catch(report), 300);
const refreshTables = debounce(() => {
  loadTables().catch(report);
  if (selected) select(selected);
}, 500);

function report(err) {
  $("#conn").textContent = "error: " + err.message;
}

function eventLine(rec) {
  const where = [rec.vm, rec.ns].filter(Boolean).join(" · ");
  return `${new Date(rec.t * 1000).toLocaleTimeString()} ${rec.kind} ${rec.op} ${rec.key || ""}`
    + (where ? ` (${where})` : "");
}

function follow() {
  const source = new EventSource("api/events");
  const conn = $("#conn");
  source.addEventListener("open", () => {
    conn.textContent = "live";
    conn.className = "conn live";
  });
  source.addEventListener("error", () => {
    conn.textContent = "reconnecting…";
    conn.className = "conn";
  });
  source.addEventListener("watch", (msg) => {
    const rec = JSON.parse(msg.data);
    const list = $("#events");
    list.prepend(el("li", { class: "ev-" + rec.kind }, eventLine(rec)));
    while (list.children.length > 60) list.lastChild.remove();
    if (rec.kind === "end") {
      conn.textContent = "ended: " + ((rec.after && rec.after.reason) || rec.op);
      conn.className = "conn ended";
      source.close();
      return;
    }
    if (rec.kind === "ns" || rec.kind === "store") refreshGraph();
    if (rec.kind === "fdb" || rec.kind === "neigh" || rec.kind === "ns") refreshTables();
  });
  source.addEventListener("doctor", (msg) => showDoctor(JSON.parse(msg.data)));
}

async function main() {
  follow();
  await Promise.all([
    loadGraph(),
    loadTables(),
    api("api/doctor").then(showDoctor),
    loadExercise(),
    loadWalk(),
  ]).catch(report);
  setInterval(() => loadExercise().catch(report), 10000);
}

main();
