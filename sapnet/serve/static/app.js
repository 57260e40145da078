// The page of `sapnet serve`: photos dropped or chosen are sent one at a time to POST
// /api/derain (the server queues them anyway, and one at a time keeps its queue free for
// others); each gets a card with its progress, a before/after viewer and its downloads.

import { BeforeAfter } from "./viewer.js";
import { zipBlob } from "./zip.js";

const $ = (selector) => document.querySelector(selector);
const modelSelect = $("#model");
const results = $("#results");
const template = $("#card-template");

const state = {
  models: [],
  limits: null,
  items: [],    // one per photo, in the order they were added
  tasks: [],    // {item, model, format, download}: requests still to send, in order
  running: false,
};

// null until the models are known: the server then uses its default
const chosenModel = () => (modelSelect.disabled ? null : modelSelect.value);
const fileSize = (bytes) => (bytes < 1e6
  ? `${Math.max(1, Math.round(bytes / 1e3))} kB`
  : `${(bytes / 1e6).toLocaleString("en", { maximumFractionDigits: 1 })} MB`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// models and limits

async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function formatMetrics(values) {
  const parts = [];
  if ("psnr_y" in values) parts.push(`<b>${values.psnr_y.toFixed(2)} dB</b> / <b>${values.ssim_y.toFixed(3)}</b> PSNR-Y / SSIM-Y`);
  if ("psnr_rgb" in values) parts.push(`${values.psnr_rgb.toFixed(2)} dB / ${values.ssim_rgb.toFixed(3)} RGB`);
  return parts.join(" · ");
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showModelInfo() {
  const model = state.models.find((candidate) => candidate.name === modelSelect.value);
  const info = $("#model-info");
  info.replaceChildren();
  if (!model) return;
  const line = element("p", "model-line");
  line.append(element("span", `badge badge-${model.origin}`, model.origin), " ", element("span", "", model.description));
  info.append(line);
  const metrics = Object.entries(model.metrics);
  if (!metrics.length) {
    info.append(element("p", "muted", "No metrics measured for this model."));
    return;
  }
  const list = element("ul", "metrics");
  for (const [set, values] of metrics) {
    const row = element("li");
    const numbers = element("span", "numbers");
    numbers.innerHTML = formatMetrics(values); // numbers formatted here, no text from the server
    row.append(element("span", "set", set), numbers);
    list.append(row);
  }
  info.append(list);
}

async function loadModels() {
  try {
    const [models, limits] = await Promise.all([getJSON("api/models"), getJSON("api/limits")]);
    state.models = models;
    state.limits = limits;
  } catch (error) {
    $("#model-info").textContent = `The server did not answer (${error.message}); reload the page.`;
    return;
  }
  modelSelect.replaceChildren(...state.models.map((model) => {
    const option = element("option", "", model.default ? `${model.name} (default)` : model.name);
    option.value = model.name;
    option.selected = model.default;
    return option;
  }));
  modelSelect.disabled = false;
  showModelInfo();
  $("#limits").textContent = `PNG, JPEG, BMP, TIFF, WebP · up to ${fileSize(state.limits.max_upload_bytes)} and `
    + `${state.limits.max_megapixels} megapixels each`;
}

// ---------------------------------------------------------------------------------------------
// cards

function setStatus(item, status, text, fraction = null) {
  item.status = status;
  item.card.dataset.status = status;
  item.card.querySelector(".status-text").textContent = text;
  const bar = item.card.querySelector(".status .bar");
  bar.classList.toggle("busy", fraction === null && status === "working");
  bar.querySelector(".fill").style.width = `${Math.round(100 * (fraction ?? (status === "done" ? 1 : 0)))}%`;
  updateSummary();
}

function forget(result) {
  if (result) URL.revokeObjectURL(result.url);
}

function createItem(file) {
  const card = template.content.firstElementChild.cloneNode(true);
  const item = { file, card, status: "waiting", result: null, png: null, removed: false, inputUrl: URL.createObjectURL(file) };
  card.querySelector(".name").textContent = file.name;
  card.querySelector(".details").textContent = fileSize(file.size);
  const before = card.querySelector("img.before");
  before.addEventListener("load", () => {
    card.querySelector(".details").textContent = `${before.naturalWidth}×${before.naturalHeight} · ${fileSize(file.size)}`;
  });
  before.addEventListener("error", () => { card.querySelector(".no-preview").hidden = false; });
  before.src = item.inputUrl;
  item.viewer = new BeforeAfter(card);
  card.querySelector(".png").addEventListener("click", () => downloadPng(item));
  card.querySelector(".redo").addEventListener("click", () => {
    enqueue({ item, model: chosenModel(), format: null });
  });
  card.querySelector(".remove").addEventListener("click", () => removeItem(item));
  results.append(card);
  state.items.push(item);
  return item;
}

function removeItem(item) {
  item.removed = true;
  item.card.remove();
  URL.revokeObjectURL(item.inputUrl);
  forget(item.result);
  forget(item.png);
  state.items = state.items.filter((other) => other !== item);
  updateSummary();
}

function showResult(item, result) {
  forget(item.result);
  forget(item.png);
  item.result = result;
  item.png = result.suffix === ".png" ? result : null;
  item.viewer.showResult(result.url);
  const download = item.card.querySelector("a.download");
  download.href = result.url;
  download.download = result.name;
  download.textContent = `Download ${result.suffix.slice(1).toUpperCase()}`;
  download.title = result.name;
  download.hidden = false;
  const png = item.card.querySelector("button.png");
  png.hidden = result.suffix === ".png";
  png.disabled = false;
  png.textContent = "PNG";
  const note = result.warning ? ` · ${result.warning}` : "";
  item.doneText = `Derained in ${result.seconds.toFixed(2)} s with ${result.model}${note}`;
  setStatus(item, "done", item.doneText);
}

function save(url, name) {
  const link = element("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

// The PNG of a result in another format is derained again as PNG (exactly what `sapnet derain
// --format png` writes), the first time it is asked for.
function downloadPng(item) {
  if (item.png) {
    save(item.png.url, item.png.name);
    return;
  }
  const button = item.card.querySelector("button.png");
  button.disabled = true;
  button.textContent = "PNG…";
  enqueue({ item, model: item.result.model, format: "png", download: true }, true);
}

// ---------------------------------------------------------------------------------------------
// requests

function responseName(xhr, fallback) {
  const header = xhr.getResponseHeader("content-disposition") || "";
  const encoded = /filename\*=UTF-8''([^;]+)/i.exec(header);
  return encoded ? decodeURIComponent(encoded[1]) : fallback;
}

async function errorMessage(xhr) {
  try {
    return JSON.parse(await xhr.response.text()).error;
  } catch {
    return `HTTP ${xhr.status}`;
  }
}

/** POST one photo; resolves with the finished XMLHttpRequest (any status). */
function post(item, model, format, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("image", item.file, item.file.name);
    if (model) form.append("model", model);
    if (format) form.append("format", format);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "api/derain");
    xhr.responseType = "blob";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress("upload", event.loaded / event.total);
    });
    xhr.upload.addEventListener("load", () => onProgress("derain"));
    xhr.addEventListener("load", () => resolve(xhr));
    xhr.addEventListener("error", () => reject(new Error("the server could not be reached")));
    xhr.send(form);
  });
}

async function runTask({ item, model, format, download }) {
  const what = format === "png" ? " as PNG" : "";
  const by = model || "the default model";
  const started = performance.now();
  let ticker = null;
  const onProgress = (stage, fraction) => {
    if (stage === "upload") {
      setStatus(item, "working", `Uploading ${Math.round(100 * fraction)} %`, fraction);
    } else if (!ticker) {
      const tick = () => {
        const seconds = Math.round((performance.now() - started) / 1000);
        setStatus(item, "working", `Deraining${what} with ${by}… ${seconds} s`);
      };
      tick();
      ticker = setInterval(tick, 500);
    }
  };
  try {
    for (;;) {
      onProgress("upload", 0);
      const xhr = await post(item, model, format, onProgress);
      clearInterval(ticker);
      ticker = null;
      if (item.removed) return;
      if (xhr.status === 503) {
        const wait = Number(xhr.getResponseHeader("retry-after")) || 5;
        setStatus(item, "working", `The server is busy; trying again in ${wait} s`);
        await sleep(wait * 1000);
        continue;
      }
      if (xhr.status !== 200) throw new Error(await errorMessage(xhr));
      const name = responseName(xhr, "derained.png");
      const result = {
        url: URL.createObjectURL(xhr.response),
        blob: xhr.response,
        name,
        suffix: name.slice(name.lastIndexOf(".")).toLowerCase(),
        model: xhr.getResponseHeader("x-sapnet-model"),
        seconds: Number(xhr.getResponseHeader("x-sapnet-seconds")),
        warning: xhr.getResponseHeader("x-sapnet-warning"),
      };
      if (download) {
        item.png = result;
        finishPng(item, item.doneText);
        save(result.url, result.name);
      } else {
        showResult(item, result);
      }
      return;
    }
  } catch (error) {
    clearInterval(ticker);
    if (item.removed) return;
    if (download) finishPng(item, `${item.doneText} · PNG failed: ${error.message}`); // the result stands
    else setStatus(item, "failed", error.message);
  }
}

function finishPng(item, text) {
  const button = item.card.querySelector("button.png");
  button.disabled = false;
  button.textContent = "PNG";
  setStatus(item, "done", text);
}

function enqueue(task, first = false) {
  if (first) state.tasks.unshift(task); else state.tasks.push(task);
  if (!task.download) setStatus(task.item, "waiting", "Waiting…");
  pump();
}

async function pump() {
  if (state.running) return;
  state.running = true;
  while (state.tasks.length) {
    const task = state.tasks.shift();
    if (!task.item.removed) await runTask(task);
  }
  state.running = false;
  updateSummary();
}

// ---------------------------------------------------------------------------------------------
// adding photos, the summary and the ZIP

// The one place a dropped file is routed by kind; video would get its own job and endpoint.
function kindOf(file) {
  return file.type.startsWith("video/") ? "video" : "image";
}

function addFiles(files) {
  for (const file of files) {
    const item = createItem(file);
    if (kindOf(file) === "video") {
      setStatus(item, "failed", "Videos are not supported yet: drop photos");
    } else if (state.limits && file.size > state.limits.max_upload_bytes) {
      setStatus(item, "failed", `${fileSize(file.size)} is over the server's ${fileSize(state.limits.max_upload_bytes)} limit`);
    } else {
      enqueue({ item, model: chosenModel(), format: null });
    }
  }
}

function updateSummary() {
  const total = state.items.length;
  const done = state.items.filter((item) => item.result).length;
  const failed = state.items.filter((item) => item.status === "failed").length;
  const finished = state.items.filter((item) => item.status === "done" || item.status === "failed").length;
  $("#summary").hidden = total === 0;
  $("#overall-bar").style.width = `${total ? Math.round((100 * finished) / total) : 0}%`;
  const failures = failed ? ` · ${failed} failed` : "";
  $("#overall-text").textContent = `${finished} of ${total} finished${failures}`;
  $("#zip").disabled = done === 0;
}

async function downloadZip() {
  const used = new Map();
  const files = state.items.filter((item) => item.result).map((item) => {
    const { name, blob } = item.result;
    const count = (used.get(name) || 0) + 1;
    used.set(name, count);
    const dot = name.lastIndexOf(".");
    return { name: count === 1 ? name : `${name.slice(0, dot)} (${count})${name.slice(dot)}`, blob };
  });
  const archive = await zipBlob(files);
  const url = URL.createObjectURL(archive);
  save(url, "derained.zip");
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function setUpDropping() {
  const drop = $("#drop");
  const input = $("#files");
  input.addEventListener("change", () => {
    addFiles([...input.files]);
    input.value = "";
  });
  // the whole window takes drops, so a photo dropped beside the zone is not opened by the browser
  let depth = 0;
  document.addEventListener("dragenter", (event) => {
    event.preventDefault();
    depth += 1;
    drop.classList.add("over");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) drop.classList.remove("over");
  });
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    drop.classList.remove("over");
    addFiles([...event.dataTransfer.files]);
  });
}

modelSelect.addEventListener("change", showModelInfo);
$("#zip").addEventListener("click", downloadZip);
$("#clear").addEventListener("click", () => [...state.items].forEach(removeItem));
setUpDropping();
loadModels();
