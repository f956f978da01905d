// The lambdarouter dashboard: keys, usage, models and the request log over the admin API.
//
// The management key lives in this script's memory, and in sessionStorage when "keep me signed in" is
// ticked (gone when the tab closes); it is never put in a URL or a cookie. Every request names its route
// relative to this page's own path, so the page works under an API Gateway stage prefix too.
// All text from the API is inserted with textContent (never innerHTML): key names are user input.
"use strict";

(() => {
  const API = location.pathname.replace(/\/dashboard\/?$/, ""); // "/prod/api/v1/dashboard" -> "/prod/api/v1"
  const STORAGE = "lambdarouter.adminKey";
  const PERIODS = { "24h": [24 * 3600, "hour"], "7d": [7 * 86400, "hour"], "30d": [30 * 86400, "day"],
    "90d": [90 * 86400, "day"] };
  const PAGE = 50;
  const $ = (id) => document.getElementById(id);
  const state = { key: sessionStorage.getItem(STORAGE) || "", view: "usage", usage: null, cursor: null, newer: [], older: null, models: null,
    ticket: 0 };

  // -- helpers ---------------------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  async function api(method, path, body) {
    const init = { method, cache: "no-store", headers: { authorization: `Bearer ${state.key}` } };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(API + path, init);
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (!response.ok) {
      const error = new Error((json && json.error && json.error.message) || `HTTP ${response.status}`);
      error.status = response.status;
      if (response.status === 401 && path !== "/credits") signOut("Your session ended: sign in again.");
      throw error;
    }
    return json;
  }

  const usd = (v) => (v === null || v === undefined ? "—" : `$${Number(v).toFixed(v && Math.abs(v) < 0.01 ? 6 : 2)}`);
  const num = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US"));
  const ms = (v) => (v === null || v === undefined ? "—" : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`);
  const perMillion = (p) => (p === null || p === undefined ? "—" : `$${(Number(p) * 1e6).toFixed(2)}`);
  const short = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k`
    : v > 0 && v < 1 ? `${+v.toPrecision(2)}` : `${+v.toFixed(2)}`);
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

  function table(columns, rows, onRow) {
    const head = h("tr", {}, columns.map((c) => h("th", {}, c.label)));
    const body = rows.map((row) => {
      const tr = h("tr", onRow ? { class: "clickable", tabindex: "0" } : {},
        columns.map((c) => h("td", { "data-label": c.label }, c.value(row))));
      if (onRow) {
        tr.addEventListener("click", () => onRow(row, tr));
        tr.addEventListener("keydown", (e) => { if (e.key === "Enter") onRow(row, tr); });
      }
      return tr;
    });
    return h("table", { class: "responsive" }, h("thead", {}, head), h("tbody", {}, body));
  }

  function show(message) { $("status").textContent = message || ""; }

  async function guard(work) {
    try { show(""); await work(); } catch (error) { if (error.status !== 401) show(error.message); }
  }

  // -- sign in ---------------------------------------------------------------------------------------
  async function signIn(event) {
    event.preventDefault();
    state.key = $("admin-key").value.trim();
    $("signin-error").textContent = "";
    try {
      await api("GET", "/credits");
    } catch (error) {
      state.key = "";
      $("signin-error").textContent = error.status === 403
        ? "That is a gateway key: sign in with the management key." : error.message;
      return;
    }
    $("admin-key").value = "";
    if ($("remember").checked) sessionStorage.setItem(STORAGE, state.key);
    enter();
  }

  function signOut(message) {
    state.key = "";
    sessionStorage.removeItem(STORAGE);
    for (const id of ["nav", "sign-out"]) $(id).hidden = true;
    document.querySelectorAll(".view").forEach((v) => { v.hidden = true; });
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
  }

  function enter() {
    $("signin").hidden = true;
    for (const id of ["nav", "sign-out"]) $(id).hidden = false;
    route();
  }

  function route() {
    if (!state.key) return;
    const view = (location.hash || "#usage").slice(1);
    state.view = ["usage", "keys", "models", "requests"].includes(view) ? view : "usage";
    document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== `view-${state.view}`; });
    document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === state.view));
    ({ usage: loadUsage, keys: loadKeys, models: loadModels, requests: loadLog })[state.view]();
  }

  // -- usage -----------------------------------------------------------------------------------------
  function loadUsage() {
    return guard(async () => {
      const [span, bucket] = PERIODS[$("usage-period").value];
      const until = new Date();
      const since = new Date(until.getTime() - span * 1000);
      const params = new URLSearchParams({ since: since.toISOString(), until: until.toISOString(), bucket,
        by: $("usage-by").value });
      const ticket = ++state.ticket;
      const report = (await api("GET", `/usage?${params}`)).data;
      if (ticket !== state.ticket) return; // a later period or grouping was asked for meanwhile
      state.usage = report;
      drawUsage();
    });
  }

  function bucketLabel(iso, bucket) {
    const d = new Date(iso);
    return bucket === "hour" ? `${String(d.getHours()).padStart(2, "0")}:00` : `${d.getMonth() + 1}/${d.getDate()}`;
  }

  function drawUsage() {
    const report = state.usage;
    if (!report) return;
    const t = report.totals;
    $("usage-totals").replaceChildren(...[
      ["Requests", num(t.requests), "requests"], ["Tokens", num(t.tokens), "tokens"], ["Cost", usd(t.cost), "cost"],
      ["Errors", num(t.errors), "errors"], ["Latency p50 / p95", `${ms(t.latency_p50)} / ${ms(t.latency_p95)}`, "latency"],
      ["First token p50 / p95", `${ms(t.ttft_p50)} / ${ms(t.ttft_p95)}`, "ttft"],
    ].map(([label, value, id]) => h("div", { class: "stat", "data-stat": id }, h("span", {}, label), h("strong", {}, value))));
    const width = Math.max(260, Math.floor($("usage-charts").clientWidth / (innerWidth > 900 ? 2 : 1)) - 24);
    const labels = report.series.map((s) => bucketLabel(s.start, report.bucket));
    const top = report.groups.slice(0, 7).map((g) => g.group);
    const stacked = (metric) => report.series.map((s, i) => {
      const values = {};
      for (const [group, counts] of Object.entries(s.groups)) {
        const name = top.includes(group) ? group : "other";
        values[name] = (values[name] || 0) + counts[metric];
      }
      return { label: labels[i], values };
    });
    const groups = report.groups.length > 7 ? [...top, "other"] : top;
    const { stackedBars, lines } = window.LRCharts;
    const charts = [
      ["requests", "Requests", stackedBars(width, stacked("requests"), groups, short)],
      ["tokens", "Tokens", stackedBars(width, stacked("tokens"), groups, short)],
      ["cost", "Cost (USD)", stackedBars(width, stacked("cost"), groups, short)],
      ["errors", "Errors", stackedBars(width, stacked("errors"), groups, short)],
      ["latency", "Latency (ms)", lines(width, labels, [
        { name: "p50", values: report.series.map((s) => s.latency_p50) },
        { name: "p95", values: report.series.map((s) => s.latency_p95) }], short)],
      ["ttft", "Time to first token (ms)", lines(width, labels, [
        { name: "p50", values: report.series.map((s) => s.ttft_p50) },
        { name: "p95", values: report.series.map((s) => s.ttft_p95) }], short)],
    ];
    $("usage-charts").replaceChildren(...charts.map(([id, title, svg]) =>
      h("figure", { class: "chart", id: `chart-${id}` }, h("figcaption", {}, title), svg,
        id === "latency" || id === "ttft" ? legend(["p50", "p95"]) : legend(groups))));
    $("usage-groups").replaceChildren(report.groups.length ? table([
      { label: report.by, value: (g) => g.group }, { label: "Requests", value: (g) => num(g.requests) },
      { label: "Tokens", value: (g) => num(g.tokens) }, { label: "Cost", value: (g) => usd(g.cost) },
      { label: "Errors", value: (g) => num(g.errors) },
      { label: "Latency p50/p95", value: (g) => `${ms(g.latency_p50)} / ${ms(g.latency_p95)}` },
    ], report.groups) : h("p", { class: "muted" }, "No requests in this period."));
  }

  function legend(names) {
    const palette = window.LRCharts.PALETTE;
    return h("div", { class: "legend" }, names.map((name, i) =>
      h("span", {}, h("i", { class: `swatch c${i % palette.length}` }), name)));
  }

  // -- keys ------------------------------------------------------------------------------------------
  function loadKeys() {
    return guard(async () => {
      const keys = (await api("GET", "/keys?include_disabled=true")).data;
      $("keys-table").replaceChildren(keys.length ? table([
        { label: "Name", value: (k) => h("span", {}, h("strong", {}, k.name), h("br"), h("code", {}, k.label)) },
        { label: "Usage / limit", value: (k) => `${usd(k.usage)} / ${k.limit === null ? "no limit" : usd(k.limit)}`
          + (k.limit_reset ? ` ${k.limit_reset}` : "") },
        { label: "Rate limit", value: (k) => (k.rate_limit.requests < 0 ? "none"
          : `${k.rate_limit.requests} / ${k.rate_limit.interval}`) },
        { label: "Status", value: (k) => h("span", { class: k.disabled ? "badge off" : "badge on" },
          k.disabled ? "disabled" : "active") },
        { label: "Actions", value: keyActions },
      ], keys) : h("p", { class: "muted" }, "No keys yet."));
    });
  }

  function keyActions(key) {
    const patch = (body) => guard(async () => { await api("PATCH", `/keys/${key.hash}`, body); await loadKeys(); });
    const del = h("button", { type: "button", class: "danger", "data-action": "delete" }, "Delete");
    del.addEventListener("click", () => {
      if (del.dataset.armed) {
        guard(async () => { await api("DELETE", `/keys/${key.hash}`); await loadKeys(); });
      } else {
        del.dataset.armed = "1";
        del.textContent = "Confirm delete";
      }
    });
    return h("span", { class: "actions" },
      h("button", { type: "button", class: "secondary", "data-action": "edit", onclick: () => editKey(key) }, "Edit"),
      h("button", { type: "button", class: "secondary", "data-action": key.disabled ? "enable" : "disable",
        onclick: () => patch({ disabled: !key.disabled }) }, key.disabled ? "Enable" : "Disable"),
      del);
  }

  function editKey(key) {
    const limit = h("input", { type: "number", min: "0", step: "0.01", value: key.limit ?? "", placeholder: "none" });
    const reset = h("select", {}, ["", "daily", "weekly", "monthly"].map((r) =>
      h("option", { value: r, selected: (key.limit_reset || "") === r }, r || "never")));
    const rate = h("input", { type: "number", min: "1", step: "1", placeholder: "none",
      value: key.rate_limit.requests > 0 ? key.rate_limit.requests : "" });
    const interval = h("input", { value: key.rate_limit.interval, size: "4" });
    const form = h("form", { class: "card edit" }, h("h3", {}, `Edit ${key.name}`),
      h("div", { class: "fields" }, h("label", {}, "Limit (USD) ", limit), h("label", {}, "Limit resets ", reset),
        h("label", {}, "Rate limit (requests) ", rate), h("label", {}, "per ", interval)),
      h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", class: "secondary", onclick: () => loadKeys() }, "Cancel"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      guard(async () => {
        await api("PATCH", `/keys/${key.hash}`, {
          limit: limit.value === "" ? null : Number(limit.value), limit_reset: reset.value || "none",
          rate_limit: rate.value === "" ? null : { requests: Number(rate.value), interval: interval.value || "1m" },
        });
        await loadKeys();
      });
    });
    $("keys-table").prepend(form);
    form.scrollIntoView({ block: "nearest" });
  }

  async function createKey(event) {
    event.preventDefault();
    $("key-error").textContent = "";
    const body = { name: $("key-name").value.trim() };
    if ($("key-limit").value !== "") body.limit = Number($("key-limit").value);
    if ($("key-reset").value) body.limit_reset = $("key-reset").value;
    if ($("key-rate").value !== "") body.rate_limit = { requests: Number($("key-rate").value), interval: $("key-interval").value };
    try {
      const created = await api("POST", "/keys", body);
      $("new-key-value").textContent = created.key;
      $("new-key").hidden = false;
      $("key-form").reset();
      await loadKeys();
    } catch (error) {
      $("key-error").textContent = error.message;
    }
  }

  async function copyKey() {
    const text = $("new-key-value").textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) { // no clipboard API (plain http on another host): select it so the user can copy it by hand
      const range = document.createRange();
      range.selectNodeContents($("new-key-value"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
    $("copy-key").textContent = "Copied";
  }

  function dismissKey() {
    $("new-key-value").textContent = "";
    $("new-key").hidden = true;
    $("copy-key").textContent = "Copy";
  }

  // -- models ----------------------------------------------------------------------------------------
  function loadModels() {
    return guard(async () => {
      if (!state.models) {
        const [models, hosts] = await Promise.all([api("GET", "/models"), api("GET", "/hosts")]);
        state.models = { models: models.data, hosts: hosts.data };
      }
      const { hosts } = state.models;
      $("hosts").replaceChildren(...hosts.map((host) => h("span", { class: host.configured ? "chip on" : "chip off",
        title: host.configured ? "credentials configured" : "no credentials" }, `${host.configured ? "✓" : "✗"} ${host.name}`)));
      drawModels();
    });
  }

  function drawModels() {
    const { models, hosts } = state.models;
    const served = {};
    for (const host of hosts) for (const id of host.models) (served[id] = served[id] || []).push(host);
    const filter = $("model-filter").value.trim().toLowerCase();
    const rows = models.filter((m) => !filter || m.id.toLowerCase().includes(filter)
      || (served[m.canonical_slug || m.id] || []).some((host) => host.name.includes(filter)));
    $("models-table").replaceChildren(table([
      { label: "Model", value: (m) => h("span", {}, h("strong", {}, m.id), h("br"), h("span", { class: "muted" }, m.name)) },
      { label: "Context", value: (m) => num(m.context_length) },
      { label: "Prompt / 1M", value: (m) => perMillion(m.pricing.prompt) },
      { label: "Completion / 1M", value: (m) => perMillion(m.pricing.completion) },
      { label: "Providers", value: (m) => h("span", { class: "chips" }, (served[m.canonical_slug || m.id] || []).map(
        (host) => h("span", { class: host.configured ? "chip on" : "chip off" }, host.name))) },
    ], rows, showEndpoints));
  }

  function showEndpoints(model, tr) {
    if (tr.nextSibling && tr.nextSibling.classList.contains("detail")) { tr.nextSibling.remove(); return; }
    guard(async () => {
      const body = await api("GET", `/models/${model.canonical_slug || model.id}/endpoints`);
      const cell = h("td", { colspan: "5" }, table([
        { label: "Provider", value: (e) => e.provider_name },
        { label: "Context", value: (e) => num(e.context_length) },
        { label: "Prompt / 1M", value: (e) => perMillion(e.pricing.prompt) },
        { label: "Completion / 1M", value: (e) => perMillion(e.pricing.completion) },
        { label: "Max output", value: (e) => num(e.max_completion_tokens) },
      ], body.data.endpoints));
      tr.after(h("tr", { class: "detail" }, cell));
    });
  }

  // -- request log -----------------------------------------------------------------------------------
  function loadLog() {
    return guard(async () => {
      const keys = (await api("GET", "/keys?include_disabled=true")).data;
      const select = $("log-key");
      const chosen = select.value;
      select.replaceChildren(h("option", { value: "" }, "all keys"),
        ...keys.map((k) => h("option", { value: k.hash, selected: k.hash === chosen }, `${k.name} (${k.label})`)));
      // Cursor pages (the server reads one page of its log, never the whole of it): `newer` keeps the
      // cursors of the pages before this one, `older` is the server's next_cursor.
      const params = new URLSearchParams({ limit: PAGE });
      if (state.cursor) params.set("cursor", state.cursor);
      if (select.value) params.set("key", select.value);
      const ticket = ++state.ticket;
      const page = await api("GET", `/generations?${params}`);
      if (ticket !== state.ticket) return; // a later filter or page was asked for meanwhile
      $("log-table").replaceChildren(page.data.length ? table([
        { label: "Time", value: (g) => when(g.created_at) },
        { label: "Key", value: (g) => g.key_name || g.key_hash.slice(0, 12) },
        { label: "Model", value: (g) => g.model },
        { label: "Provider", value: (g) => g.provider_name || "—" },
        { label: "Status", value: (g) => h("span", { class: g.status === "success" ? "badge on" : "badge off" }, g.status) },
        { label: "Tokens", value: (g) => `${num(g.tokens_prompt)} → ${num(g.tokens_completion)}` },
        { label: "Cost", value: (g) => usd(g.total_cost) },
        { label: "Latency", value: (g) => ms(g.latency) },
      ], page.data, (g) => showGeneration(g.id)) : h("p", { class: "muted" }, "No requests yet."));
      const first = state.newer.length * PAGE;
      state.older = page.next_cursor;
      $("log-page").textContent = page.data.length ? `${first + 1}–${first + page.data.length}` : "";
      $("log-prev").disabled = state.newer.length === 0;
      $("log-next").disabled = !state.older;
    });
  }

  function showGeneration(id) {
    guard(async () => {
      const g = (await api("GET", `/generations/${encodeURIComponent(id)}`)).data;
      const facts = [["Generation", g.id], ["Time", when(g.created_at)], ["Key", `${g.key_name || "(deleted)"} ${g.key_hash.slice(0, 12)}`],
        ["Model", g.model], ["Requested", g.model_requested], ["Provider", g.provider_name || "—"], ["Status", g.status],
        ["Finish reason", g.finish_reason || "—"], ["Streamed", g.streamed ? "yes" : "no"],
        ["Prompt tokens", num(g.tokens_prompt)], ["Completion tokens", num(g.tokens_completion)],
        ["Reasoning tokens", num(g.native_tokens_reasoning)], ["Cached tokens", num(g.native_tokens_cached)],
        ["Cost", usd(g.total_cost)], ["Latency", ms(g.latency)], ["Time to first token", ms(g.time_to_first_token)],
        ["Error", g.error || "—"]];
      const panel = $("generation");
      panel.replaceChildren(
        h("div", { class: "panel-head" }, h("h3", {}, "Generation"),
          h("button", { type: "button", class: "secondary", onclick: () => { panel.hidden = true; } }, "Close")),
        h("dl", {}, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
        h("h4", {}, "Attempts"),
        g.provider_responses.length ? table([
          { label: "#", value: (a) => String(g.provider_responses.indexOf(a) + 1) },
          { label: "Provider", value: (a) => a.provider }, { label: "Status", value: (a) => String(a.status) },
          { label: "Latency", value: (a) => ms(a.latency) },
        ], g.provider_responses) : h("p", { class: "muted" }, "No upstream attempt."));
      panel.hidden = false;
      panel.scrollIntoView({ block: "start" });
    });
  }

  // -- wiring ----------------------------------------------------------------------------------------
  let resizeTimer = 0;
  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut(""));
    $("usage-period").addEventListener("change", loadUsage);
    $("usage-by").addEventListener("change", loadUsage);
    $("usage-refresh").addEventListener("click", loadUsage);
    $("key-form").addEventListener("submit", createKey);
    $("copy-key").addEventListener("click", copyKey);
    $("dismiss-key").addEventListener("click", dismissKey);
    $("model-filter").addEventListener("input", () => state.models && drawModels());
    $("log-key").addEventListener("change", () => { state.cursor = null; state.newer = []; loadLog(); });
    $("log-refresh").addEventListener("click", loadLog);
    $("log-prev").addEventListener("click", () => { state.cursor = state.newer.pop() || null; loadLog(); });
    $("log-next").addEventListener("click", () => { state.newer.push(state.cursor); state.cursor = state.older; loadLog(); });
    addEventListener("hashchange", route);
    addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (state.view === "usage") drawUsage(); }, 150);
    });
    if (state.key) enter();
  });
})();
