/**
 * The dashboard's script: it opens one server-sent event stream, keeps the page in step
 * with it (a row per partition, the charts, the events), loads dead letters on request and
 * sends the controls with the token the person typed. Everything is put into the page as
 * text, never as HTML, so nothing a message carries can run in it.
 *
 * @module
 */

/**
 * The script served at `GET /dashboard.js` (plain JavaScript: no build step).
 *
 * @example
 * ```ts
 * import { DASHBOARD_JS } from "./dashboard_script.ts";
 * console.log(DASHBOARD_JS.includes('new EventSource("events")')); // true
 * ```
 */
export const DASHBOARD_JS = String.raw`"use strict";
(function () {
  var HISTORY = 300, EVENTS = 100, RECENT_PROBLEM_MS = 60000;
  var TOKEN_KEY = "troupe.controlToken";
  var settings = { controls: false, deadLetters: false, deadLetterTopics: [], mailboxCapacity: 1000 };
  var status = null, history = [], events = [], rows = new Map(), problems = new Map();
  var letters = [], chosen = new Set();

  function $(id) { return document.getElementById(id); }
  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function num(value) { return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US"); }
  function clock(t) { return new Date(t).toLocaleTimeString([], { hour12: false }); }
  function keyOf(topic, partition) { return topic + ":" + partition; }
  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; } }
  function badge(node, text, kind) { node.textContent = text; node.className = "badge" + (kind ? " " + kind : ""); }

  // ---- the stream -------------------------------------------------------------------------
  var source = new EventSource("events");
  source.addEventListener("open", function () { badge($("feed"), "page: live", "ok"); });
  source.addEventListener("error", function () { badge($("feed"), "page: reconnecting", "warn"); });
  source.addEventListener("hello", function (e) {
    var data = JSON.parse(e.data);
    settings = data;
    status = data.status;
    history = data.history || [];
    events = data.events || [];
    problems.clear();
    events.forEach(function (event) {
      noteProblem(event);
      if (event.deadLetterTopic) offerTopic(event.deadLetterTopic);
    });
    applySettings();
    renderStatus();
    renderCharts();
    renderEvents();
  });
  source.addEventListener("status", function (e) {
    var data = JSON.parse(e.data);
    status = data.status;
    history.push(data.sample);
    if (history.length > HISTORY) history.shift();
    renderStatus();
    renderCharts();
  });
  source.addEventListener("lifecycle", function (e) {
    var event = JSON.parse(e.data);
    events.push(event);
    if (events.length > EVENTS) events.shift();
    noteProblem(event);
    if (event.deadLetterTopic) offerTopic(event.deadLetterTopic);
    renderEvents();
    renderStatus();
  });

  function noteProblem(event) {
    if (event.level === "problem" && event.topic !== undefined) {
      problems.set(keyOf(event.topic, event.partition), event.t);
    }
  }

  // ---- header, totals, partitions ---------------------------------------------------------
  function applySettings() {
    document.body.classList.toggle("controls", !!settings.controls);
    badge($("mode"), settings.controls ? "controls on" : "read-only", settings.controls ? "warn" : "");
    $("controls").hidden = !settings.controls;
    $("dead-letters").hidden = !settings.deadLetters;
    (settings.deadLetterTopics || []).forEach(offerTopic);
    showTokenState();
  }

  function renderStatus() {
    if (!status) return;
    $("group").textContent = status.groupId;
    var state = status.state;
    badge($("state"), state, state === "running" ? "ok" : state === "failed" ? "bad" : "warn");
    var connection = status.connection;
    badge($("kafka"), connection.connected ? "Kafka connected" : "Kafka unreachable", connection.connected ? "ok" : "bad");
    $("kafka").title = connection.lastError || "";
    $("member").textContent = status.memberId || "–";
    $("processed-total").textContent = num(status.totals.processed);
    $("restarts-total").textContent = num(status.totals.restarts);
    $("partition-count").textContent = num(status.partitions.length);
    var lag = 0;
    status.partitions.forEach(function (p) { lag += p.lag || 0; });
    $("lag-total").textContent = num(lag);
    var last = history[history.length - 1];
    $("rate").textContent = last ? num(last.rate) : "–";
    var error = $("processor-error");
    error.hidden = !status.error;
    error.textContent = status.error ? "The processor failed: " + status.error : "";
    renderPartitions();
  }

  var COLUMNS = [
    ["partition", ""], ["actor", ""], ["processed", "num"], ["offset", "num"], ["committed", "num"],
    ["lag", "num"], ["mailbox", ""], ["fetch", ""], ["in flight", "num"], ["restarts", "num"],
    ["last error", "error"], ["", "control-cell"]
  ];

  function renderPartitions() {
    var body = document.querySelector("#partitions tbody");
    var seen = new Set();
    var now = Date.now();
    $("no-partitions").hidden = status.partitions.length > 0;
    status.partitions.forEach(function (p) {
      var key = keyOf(p.topic, p.partition);
      seen.add(key);
      var row = rows.get(key);
      if (!row) {
        row = make("tr");
        row.dataset.partition = key;
        COLUMNS.forEach(function (column) {
          var cell = make("td", column[1]);
          cell.dataset.label = column[0];
          cell.dataset.field = column[0].replace(" ", "-") || "control";
          row.appendChild(cell);
        });
        rows.set(key, row);
      }
      body.appendChild(row); // keeps the status's order (sorted)
      var cells = row.children;
      cells[0].textContent = p.topic + " [" + p.partition + "]";
      cells[1].textContent = p.phase === "running" ? p.actor : p.actor + " (" + p.phase + ")";
      cells[1].className = "actor-" + p.actor;
      cells[2].textContent = num(p.processed);
      cells[3].textContent = num(p.processedOffset);
      cells[4].textContent = num(p.committedOffset);
      cells[5].textContent = num(p.lag);
      fillMailbox(cells[6], p.mailboxSize);
      cells[7].textContent = pauseText(p);
      cells[8].textContent = num(p.inFlight);
      cells[9].textContent = num(p.restarts);
      cells[10].textContent = p.lastError || "";
      fillControl(cells[11], p);
      var recent = problems.has(key) && now - problems.get(key) < RECENT_PROBLEM_MS;
      var troubled = recent || p.actor === "crashed" || p.actor === "retrying" || p.phase === "restarting";
      row.classList.toggle("problem", troubled);
      row.classList.toggle("paused", p.pausedBy.user);
    });
    rows.forEach(function (row, key) {
      if (!seen.has(key)) { row.remove(); rows.delete(key); }
    });
  }

  function fillMailbox(cell, size) {
    var capacity = settings.mailboxCapacity || 1000;
    var share = Math.min(1, size / capacity);
    cell.textContent = num(size) + " ";
    var meter = make("span", share >= 1 ? "meter full" : "meter");
    var bar = make("span");
    bar.style.width = Math.round(share * 100) + "%";
    meter.appendChild(bar);
    meter.title = size + " of " + capacity;
    cell.appendChild(meter);
  }

  function pauseText(p) {
    var reasons = Object.keys(p.pausedBy).filter(function (reason) { return p.pausedBy[reason]; });
    return reasons.length === 0 ? "fetching" : "paused: " + reasons.join(", ");
  }

  function fillControl(cell, p) {
    if (!settings.controls) { cell.textContent = ""; return; }
    var action = p.pausedBy.user ? "resume" : "pause";
    var button = cell.firstChild;
    if (!button || button.dataset.action !== action) {
      cell.textContent = "";
      button = make("button", "control", action === "pause" ? "Pause" : "Resume");
      button.type = "button";
      button.dataset.action = action;
      button.addEventListener("click", function () { control(action, p.topic, p.partition); });
      cell.appendChild(button);
    }
  }

  // ---- charts -------------------------------------------------------------------------------
  function renderCharts() {
    drawChart($("chart-rate"), $("rate-max"), history.map(function (s) { return s.rate; }));
    drawChart($("chart-lag"), $("lag-max"), history.map(function (s) { return s.lag; }));
  }

  function drawChart(svg, label, values) {
    var max = Math.max.apply(null, [1].concat(values));
    label.textContent = "(max " + num(max) + ", last " + Math.round(values.length / 60 * 10) / 10 + " min)";
    var step = 300 / (HISTORY - 1);
    var offset = 300 - (values.length - 1) * step;
    var points = values.map(function (v, i) {
      return (offset + i * step).toFixed(1) + "," + (78 - (v / max) * 74).toFixed(1);
    });
    svg.textContent = "";
    if (points.length < 2) return;
    var ns = "http://www.w3.org/2000/svg";
    var area = document.createElementNS(ns, "polygon");
    area.setAttribute("points", points.join(" ") + " 300,80 " + offset.toFixed(1) + ",80");
    var line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.appendChild(area);
    svg.appendChild(line);
  }

  // ---- events -------------------------------------------------------------------------------
  function renderEvents() {
    var list = $("events");
    list.textContent = "";
    for (var i = events.length - 1; i >= 0; i--) {
      var event = events[i];
      var item = make("li", event.level === "problem" ? "problem" : "");
      item.dataset.type = event.type;
      var time = make("time", "", clock(event.t));
      time.dateTime = new Date(event.t).toISOString();
      item.appendChild(time);
      var where = event.topic !== undefined ? event.topic + " [" + event.partition + "] " : "";
      item.appendChild(document.createTextNode(where + event.text));
      list.appendChild(item);
    }
  }

  // ---- controls -----------------------------------------------------------------------------
  function showTokenState() {
    $("token-state").textContent = token() ? "set for this tab" : "not set: controls will be refused";
  }

  $("token-form").addEventListener("submit", function (e) {
    e.preventDefault();
    try { sessionStorage.setItem(TOKEN_KEY, $("token").value.trim()); } catch (err) { /* private mode */ }
    $("token").value = "";
    showTokenState();
  });

  function post(path, body) {
    var headers = { "content-type": "application/json" };
    if (token()) headers.authorization = "Bearer " + token();
    return fetch(path, { method: "POST", headers: headers, body: JSON.stringify(body) }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function say(node, text, kind) { node.textContent = text; node.className = kind || ""; }

  function control(action, topic, partition) {
    post("api/partitions/" + action, { topic: topic, partition: partition }).then(function (answer) {
      say($("control-message"), answer.ok
        ? action + "d " + topic + " [" + partition + "]"
        : "refused (" + answer.status + "): " + (answer.data.error || "no reason given"),
        answer.ok ? "done" : "refused");
    });
  }

  // ---- dead letters -------------------------------------------------------------------------
  function offerTopic(topic) {
    var list = $("dlq-topics");
    for (var i = 0; i < list.children.length; i++) if (list.children[i].value === topic) return;
    var option = make("option");
    option.value = topic;
    list.appendChild(option);
    if (!$("dlq-topic").value) $("dlq-topic").value = topic;
  }

  $("dlq-form").addEventListener("submit", function (e) {
    e.preventDefault();
    loadDeadLetters();
  });

  function loadDeadLetters() {
    var topic = $("dlq-topic").value.trim();
    if (!topic) return;
    say($("dlq-state"), "loading…", "muted");
    fetch("api/dead-letters?topic=" + encodeURIComponent(topic) + "&last=200").then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (answer) {
      if (!answer.ok) { say($("dlq-state"), answer.data.error || "failed", "refused"); return; }
      letters = answer.data.deadLetters;
      chosen.clear();
      renderLetters();
      say($("dlq-state"), letters.length + " dead letter(s) in " + topic, "muted");
    }, function (error) { say($("dlq-state"), String(error), "refused"); });
  }

  function renderLetters() {
    var body = $("dlq-rows");
    body.textContent = "";
    letters.forEach(function (letter) {
      var row = make("tr", chosen.has(letter.id) ? "chosen" : "");
      row.dataset.id = letter.id;
      var pick = make("input", "pick");
      pick.type = "checkbox";
      pick.checked = chosen.has(letter.id);
      pick.setAttribute("aria-label", "choose " + letter.id);
      pick.addEventListener("click", function (e) { e.stopPropagation(); toggle(letter.id, pick.checked); });
      var first = make("td");
      first.appendChild(pick);
      row.appendChild(first);
      var original = letter.original.topic === null ? "–"
        : letter.original.topic + " [" + letter.original.partition + "] @" + letter.original.offset;
      [letter.id, original, letter.reason || "–", num(letter.attempts),
        new Date(letter.deadLetteredAt).toLocaleString(), letter.error || ""].forEach(function (text, i) {
        row.appendChild(make("td", i === 3 ? "num" : i === 5 ? "error" : "", text));
      });
      row.addEventListener("click", function () { showLetter(letter); });
      body.appendChild(row);
    });
  }

  function toggle(id, on) {
    if (on) chosen.add(id); else chosen.delete(id);
    var row = document.querySelector('#dlq-rows tr[data-id="' + id + '"]');
    if (row) row.classList.toggle("chosen", on);
  }

  $("dlq-all").addEventListener("change", function () {
    var on = $("dlq-all").checked;
    letters.forEach(function (letter) { toggle(letter.id, on); });
    document.querySelectorAll("#dlq-rows input.pick").forEach(function (box) { box.checked = on; });
  });

  function bytesText(bytes) {
    if (bytes === null) return "null";
    return bytes.encoding === "utf8" ? bytes.text : "base64:" + bytes.text;
  }

  function showLetter(letter) {
    var lines = [
      "id            " + letter.id + " of " + letter.topic,
      "reason        " + (letter.reason || "–") + ", after " + num(letter.attempts) + " attempt(s)",
      "error         " + (letter.error || "–"),
      "key           " + bytesText(letter.key),
      "value         " + bytesText(letter.value),
      "headers"
    ];
    Object.keys(letter.headers).forEach(function (name) {
      [].concat(letter.headers[name]).forEach(function (value) { lines.push("  " + name + ": " + bytesText(value)); });
    });
    var detail = $("dlq-detail");
    detail.textContent = lines.join("\n");
    detail.hidden = false;
  }

  $("dlq-replay-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var ids = Array.from(chosen);
    if (ids.length === 0) { say($("dlq-result"), "choose dead letters first", "refused"); return; }
    var body = { topic: $("dlq-topic").value.trim(), ids: ids, dryRun: $("dlq-dry-run").checked };
    var to = $("dlq-to").value.trim();
    if (to) body.to = to;
    say($("dlq-result"), "replaying…", "muted");
    post("api/dead-letters/replay", body).then(function (answer) {
      if (!answer.ok) {
        say($("dlq-result"), "refused (" + answer.status + "): " + (answer.data.error || "no reason given"), "refused");
        return;
      }
      var result = answer.data;
      var sent = result.records.map(function (r) { return r.id + " → " + r.to; }).join(", ");
      say($("dlq-result"), (result.dryRun ? "dry run, would send " : "replayed ") + result.records.length +
        " dead letter(s)" + (sent ? ": " + sent : "") +
        (result.duplicates.length ? "; skipped as duplicates: " + result.duplicates.join(", ") : ""), "done");
    });
  });
})();
`;
