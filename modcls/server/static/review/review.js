// modcls review page: a small client of the /v1/review API (no framework). Text is always put in the page
// with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { item: null, model: null, busy: false };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function say(text, error = false) {
  const m = $("message");
  m.textContent = text;
  m.classList.toggle("error", error);
}

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    window.location.assign("/review");
    throw new Error("signed out");
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : res.statusText);
  return data;
}

function reviewer() {
  const name = $("reviewer").value.trim();
  if (!name) {
    say("Enter your name as reviewer first.", true);
    $("reviewer").focus();
    return null;
  }
  localStorage.setItem("modcls-reviewer", name);
  return name;
}

// -- the item ------------------------------------------------------------------------------------------
async function next() {
  const who = reviewer();
  if (!who || state.busy) return;
  state.busy = true;
  try {
    const body = { reviewer: who };
    const order = $("order").value;
    if (order) body.order = order;
    const item = await api("POST", "/v1/review/next", body);
    show(item);
    if (!item) say("Nothing waits for review.");
  } catch (err) {
    say(err.message, true);
  } finally {
    state.busy = false;
  }
}

function show(item) {
  state.item = item;
  $("item").hidden = !item;
  $("correction").hidden = true;
  if (!item) return;
  say(`Item ${item.id} is yours until ${parseTime(item.lease_expires).toLocaleTimeString()}.`);
  const route = $("route");
  route.textContent = `${item.route.replace("_", " ")} · ${item.priority}`;
  route.className = `badge ${item.priority}`;
  $("item-ref").textContent = `#${item.id} · article ${item.article_id} · paragraph ${item.paragraph_index}` +
    (item.paragraph_id ? ` (${item.paragraph_id})` : "");
  $("item-age").textContent = `queued ${ago(item.created_at)}`;
  $("lease").textContent = item.leases > 1 ? `leased ${item.leases} times` : "";
  $("model-version").textContent = item.model_version;

  const context = item.context || {};
  $("headline").textContent = context.headline || "";
  $("headline").hidden = !context.headline;
  for (const side of ["before", "after"]) {
    const box = $(side);
    box.replaceChildren(...(context[side] || []).map((p) => el("p", { text: p.text })));
  }
  highlight($("paragraph"), item.text, item.evidence || []);

  const topics = Object.entries(item.topic_scores).sort((a, b) => b[1] - a[1]).slice(0, 3);
  $("topics").replaceChildren(...topics.map(([t, p]) => scoreRow(t, p)));
  const thresholds = (state.model && state.model.thresholds) || {};
  $("flags").replaceChildren(...(item.flags.length ? item.flags.map((f) =>
    el("li", { text: `${f} ${item.sensitivity[f].toFixed(2)}` +
      (thresholds[f] !== undefined ? ` (threshold ${thresholds[f].toFixed(2)})` : "") })) :
    [el("li", { class: "quiet", text: `none; routed by topic ${item.topic}` })]));
  $("evidence").replaceChildren(...(item.evidence || []).map((e) =>
    el("li", {}, el("strong", { text: `${e.label} ${e.score.toFixed(2)}` }), " alone: ",
      el("span", { class: "sentence", text: e.text }))));
}

function highlight(target, text, evidence) {
  // Cut the paragraph at every evidence boundary; a piece covered by evidence becomes a <mark>.
  const cuts = new Set([0, text.length]);
  for (const e of evidence) { cuts.add(e.start); cuts.add(e.end); }
  const points = [...cuts].filter((x) => x >= 0 && x <= text.length).sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [a, b] = [points[i], points[i + 1]];
    const labels = evidence.filter((e) => e.start <= a && e.end >= b);
    const piece = text.slice(a, b);
    if (labels.length) {
      const names = [...new Set(labels.map((e) => e.label))];
      parts.push(el("mark", { class: "evidence", "data-labels": names.join(" "),
        title: labels.map((e) => `${e.label} ${e.score.toFixed(2)} alone`).join(", "), text: piece }));
    } else {
      parts.push(document.createTextNode(piece));
    }
  }
  target.replaceChildren(...parts);
}

function scoreRow(name, value) {
  const bar = el("span");
  bar.style.width = `${Math.round(value * 100)}%`;
  return el("div", { class: "score" }, el("span", { text: name }), el("div", { class: "bar" }, bar),
    el("span", { class: "num", text: value.toFixed(2) }));
}

function parseTime(iso) {
  // The API gives ISO times in UTC, with or without the zone.
  return new Date(/(Z|[+-]\d\d:\d\d)$/.test(iso) ? iso : `${iso}Z`);
}

function ago(iso) {
  const seconds = (Date.now() - parseTime(iso)) / 1000;
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

// -- decisions -----------------------------------------------------------------------------------------
async function decide(decision, extra = {}) {
  const who = reviewer();
  const item = state.item;
  if (!who || !item || state.busy) return;
  state.busy = true;
  try {
    await api("POST", `/v1/review/items/${item.id}/decision`, { reviewer: who, decision, ...extra });
    state.busy = false;
    const done = `Item ${item.id} ${decision === "confirm" ? "confirmed" : "corrected"}.`;
    await next();
    if (state.item) say(`${done} ${$("message").textContent}`);
    else say(`${done} Nothing else waits.`);
  } catch (err) {
    say(err.message, true);
  } finally {
    state.busy = false;
  }
}

function openCorrection() {
  const item = state.item;
  if (!item) return;
  $("topic-select").value = item.topic;
  for (const box of $("categories").querySelectorAll("input")) box.checked = item.flags.includes(box.value);
  $("note").value = "";
  $("correction").hidden = false;
  $("topic-select").focus();
}

function saveCorrection(event) {
  event.preventDefault();
  const categories = [...$("categories").querySelectorAll("input:checked")].map((b) => b.value);
  const note = $("note").value.trim();
  decide("correct", { topic: $("topic-select").value, categories, ...(note ? { note } : {}) });
}

async function release() {
  const who = reviewer();
  const item = state.item;
  if (!who || !item) return;
  try {
    await api("POST", `/v1/review/items/${item.id}/release`, { reviewer: who });
    show(null);
    say(`Item ${item.id} released: it is back in line. Press n to take the next item.`);
  } catch (err) {
    say(err.message, true);
  }
}

// -- stats ---------------------------------------------------------------------------------------------
function table(target, head, rows) {
  target.replaceChildren(
    el("thead", {}, el("tr", {}, ...head.map((h, i) => el("th", { class: i ? "num" : "", text: h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) => el("td", { class: i ? "num" : "", text: String(c) }))))));
}

async function stats() {
  try {
    const r = await api("GET", "/v1/review/report?days=14");
    table($("waiting"), ["route / priority", "items"], Object.entries(r.waiting));
    $("oldest").textContent = r.oldest_waiting_seconds === null ? "Nothing waits." :
      `Oldest waiting: ${Math.round(r.oldest_waiting_seconds / 60)} min. Leased now: ${r.leased}. Decided: ${r.decided}.`;
    table($("per-day"), ["day", "decisions"], Object.entries(r.decisions_per_day).reverse());
    table($("by-reviewer"), ["reviewer", "decisions"], Object.entries(r.decisions_by_reviewer));
    const pct = (x) => (x === null ? "–" : `${Math.round(x * 100)} %`);
    const rows = [["topic", "", "", "", pct(r.agreement.topic)]];
    for (const [c, v] of Object.entries(r.agreement.categories)) {
      rows.push([c, v.both, v.model_only, v.reviewer_only, pct(v.agreement)]);
    }
    table($("agreement"), ["label", "both", "model only", "reviewer only", "agreement"], rows);
  } catch (err) {
    say(err.message, true);
  }
}

function view(name) {
  $("queue-view").hidden = name !== "queue";
  $("stats-view").hidden = name !== "stats";
  $("tab-queue").classList.toggle("active", name === "queue");
  $("tab-stats").classList.toggle("active", name === "stats");
  if (name === "stats") stats();
}

// -- set-up and keys -----------------------------------------------------------------------------------
async function start() {
  $("reviewer").value = localStorage.getItem("modcls-reviewer") || "";
  $("order").value = localStorage.getItem("modcls-order") || "";
  $("order").addEventListener("change", () => localStorage.setItem("modcls-order", $("order").value));
  $("next").addEventListener("click", next);
  $("confirm").addEventListener("click", () => decide("confirm"));
  $("correct").addEventListener("click", openCorrection);
  $("release").addEventListener("click", release);
  $("correction").addEventListener("submit", saveCorrection);
  $("cancel").addEventListener("click", () => { $("correction").hidden = true; });
  $("tab-queue").addEventListener("click", () => view("queue"));
  $("tab-stats").addEventListener("click", () => view("stats"));
  try {
    state.model = await api("GET", "/v1/model");
  } catch (err) {
    say(`The model is not ready: ${err.message}`, true);
  }
  const topics = (state.model && state.model.topics) || [];
  $("topic-select").replaceChildren(...topics.map((t) => el("option", { value: t, text: t })));
  const categories = (state.model && state.model.categories) || [];
  $("categories").append(...categories.map((c, i) =>
    el("label", {}, el("input", { type: "checkbox", value: c, id: `cat-${c}` }), ` ${i + 1} ${c}`)));
  if ($("reviewer").value) next();
  else say("Enter your name as reviewer, then press n.");
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const inForm = !$("correction").hidden;
  if (inForm && event.key === "Escape") { $("correction").hidden = true; return; }
  if (inForm && event.key === "Enter") { saveCorrection(event); return; }
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName) &&
    document.activeElement.type !== "checkbox";
  if (inForm && /^[1-9]$/.test(event.key) && document.activeElement.id !== "note") {
    const box = $("categories").querySelectorAll("input")[Number(event.key) - 1];
    if (box) { box.checked = !box.checked; event.preventDefault(); }
    return;
  }
  if (typing) {
    if (event.key === "Enter" && document.activeElement.id === "reviewer") { event.preventDefault(); next(); }
    return;
  }
  const keys = { n: next, c: () => decide("confirm"), x: openCorrection, r: release,
                 s: () => view("stats"), q: () => view("queue"), t: () => inForm && $("topic-select").focus() };
  if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
});

document.addEventListener("DOMContentLoaded", start);
