// The genmodels web page: plain JavaScript against the same HTTP API as any client.
"use strict";

const $ = (selector) => document.querySelector(selector);
let models = [];

function headers(json) {
  const result = {};
  if (json) result["Content-Type"] = "application/json";
  const token = $("#token").value.trim();
  if (token) result["Authorization"] = "Bearer " + token;
  return result;
}

function showError(message) {
  const box = $("#error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function failure(response) {
  try {
    const body = await response.json();
    const detail = Array.isArray(body.detail)
      ? body.detail.map((item) => (item.loc || []).join(".") + ": " + item.msg).join("; ")
      : body.detail;
    return response.status + " " + detail;
  } catch (error) {
    return response.status + " " + response.statusText;
  }
}

function current() {
  return models.find((model) => model.name === $("#model").value);
}

function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form)) {
    if (value === "" || value instanceof File) continue;
    const input = form.elements[name];
    values[name] = input.type === "number" ? Number(value) : value;
  }
  return values;
}

async function loadModels() {
  const response = await fetch("/models", { headers: headers(false) });
  if (!response.ok) {
    showError(await failure(response));
    return;
  }
  showError("");
  models = await response.json();
  const select = $("#model");
  const chosen = select.value;
  select.replaceChildren(...models.map((model) => new Option(model.name + " (" + model.family + ", " + model.data_kind + ")", model.name)));
  if (chosen) select.value = chosen;
  modelChanged();
}

function modelChanged() {
  const model = current();
  if (!model) return;
  const can = model.capabilities;
  $("#model-info").textContent =
    "data " + model.data_kind + " " + JSON.stringify(model.data_shape) + "; log_prob " + model.log_prob_kind +
    (can.detector ? "; detector saved" : "") + "; controls: " + (can.controls.join(", ") || "none");
  for (const label of document.querySelectorAll("[data-control]")) {
    label.hidden = !can.controls.includes(label.dataset.control);
  }
  $("#generate-section").hidden = !can.generate;
  $("#samples").replaceChildren();
  $("#generated").textContent = "";
}

async function sample(event) {
  event.preventDefault();
  const model = current();
  const request = formValues(event.target);
  for (const name of ["labels", "temperature", "top_k", "top_p", "truncation"]) {
    if (!model.capabilities.controls.includes(name)) delete request[name];
  }
  const picture = model.data_kind === "images" || model.data_kind === "molecules";
  request.format = picture ? "png" : "json";
  const response = await fetch("/models/" + encodeURIComponent(model.name) + "/sample", {
    method: "POST", headers: headers(true), body: JSON.stringify(request),
  });
  if (!response.ok) {
    showError(await failure(response));
    return;
  }
  showError("");
  const target = $("#samples");
  if (picture) {
    const image = new Image();
    image.id = "sample-grid";
    image.alt = request.n + " samples of " + model.name + " (seed " + request.seed + ")";
    image.src = URL.createObjectURL(await response.blob());
    target.replaceChildren(image);
    return;
  }
  const body = await response.json();
  if (body.kind === "text") {
    target.replaceChildren(...body.texts.map((text) => Object.assign(document.createElement("pre"), { textContent: text })));
  } else if (body.kind === "table") {
    target.replaceChildren(table(body.columns, body.rows.map((row) => body.columns.map((name) => row[name]))));
  } else {
    target.replaceChildren(Object.assign(document.createElement("pre"), { textContent: JSON.stringify(body.samples) }));
  }
}

let streaming = null;

async function generate(event) {
  event.preventDefault();
  const model = current();
  const request = formValues(event.target);
  const output = $("#generated");
  output.textContent = request.prompt || "";
  output.dataset.state = "streaming";
  streaming = new AbortController();
  try {
    const response = await fetch("/models/" + encodeURIComponent(model.name) + "/generate", {
      method: "POST", headers: headers(true), body: JSON.stringify(request), signal: streaming.signal,
    });
    if (!response.ok) {
      showError(await failure(response));
      return;
    }
    showError("");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const kind = /^event: (.*)$/m.exec(message)[1];
        const data = JSON.parse(/^data: (.*)$/m.exec(message)[1]);
        if (kind === "token") output.textContent += data.text;
        if (kind === "error") showError(data.message);
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") showError(String(error));
  } finally {
    output.dataset.state = "done";
    streaming = null;
  }
}

function table(columns, rows, classes) {
  const element = document.createElement("table");
  const head = element.createTHead().insertRow();
  for (const name of columns) head.appendChild(Object.assign(document.createElement("th"), { textContent: name }));
  const body = element.createTBody();
  rows.forEach((values, index) => {
    const row = body.insertRow();
    if (classes && classes[index]) row.className = classes[index];
    for (const value of values) {
      row.insertCell().textContent = typeof value === "number" && !Number.isInteger(value) ? value.toFixed(4) : String(value);
    }
  });
  return element;
}

function histogram(scores, threshold) {
  const svg = $("#histogram");
  const width = Number(svg.getAttribute("width")), height = Number(svg.getAttribute("height"));
  const low = Math.min(...scores, threshold ?? Infinity), high = Math.max(...scores, threshold ?? -Infinity);
  const bins = 30, span = high - low || 1, counts = new Array(bins).fill(0);
  for (const score of scores) counts[Math.min(bins - 1, Math.floor(((score - low) / span) * bins))] += 1;
  const tallest = Math.max(...counts), ns = "http://www.w3.org/2000/svg", parts = [];
  counts.forEach((count, index) => {
    const bar = document.createElementNS(ns, "rect");
    const barHeight = (count / tallest) * (height - 10);
    Object.entries({ class: "bar", x: (index * width) / bins, y: height - barHeight, width: width / bins - 1, height: barHeight })
      .forEach(([key, value]) => bar.setAttribute(key, value));
    parts.push(bar);
  });
  if (threshold !== null) {
    const line = document.createElementNS(ns, "line"), x = ((threshold - low) / span) * width;
    Object.entries({ class: "threshold", x1: x, x2: x, y1: 0, y2: height }).forEach(([key, value]) => line.setAttribute(key, value));
    parts.push(line);
  }
  svg.replaceChildren(...parts);
  svg.hidden = false;
}

async function score(event) {
  event.preventDefault();
  const model = current();
  const form = new FormData();
  for (const file of $("#score-file").files) form.append("file", file);
  const response = await fetch("/models/" + encodeURIComponent(model.name) + "/score", {
    method: "POST", headers: headers(false), body: form,
  });
  if (!response.ok) {
    showError(await failure(response));
    return;
  }
  showError("");
  const body = await response.json();
  const flagged = body.flagged === null ? "no detector saved: no flags" : body.flagged + " of " + body.rows.length + " rows flagged";
  $("#score-summary").textContent = "score " + body.score + "; " + flagged +
    (body.threshold === null ? "" : " (threshold " + body.threshold.toFixed(4) + ")");
  const columns = ["row", "score", "rank", "flag"];
  const rows = body.rows.map((row) => [row.row, row.score, row.rank, row.flag === null ? "" : row.flag ? "yes" : "no"]);
  $("#scores").replaceWith(Object.assign(table(columns, rows, body.rows.map((row) => (row.flag ? "flagged" : ""))), { id: "scores" }));
  histogram(body.rows.map((row) => row.score), body.threshold);
}

$("#model").addEventListener("change", modelChanged);
$("#token").addEventListener("change", loadModels);
$("#sample-form").addEventListener("submit", sample);
$("#generate-form").addEventListener("submit", generate);
$("#stop").addEventListener("click", () => streaming && streaming.abort());
$("#score-form").addEventListener("submit", score);
loadModels();
