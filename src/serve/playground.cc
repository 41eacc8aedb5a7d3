#include "serve/playground.h"

namespace steer::serve {

const std::string& playground_html() {
  static const std::string page = R"steer_page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>steer — steering playground</title>
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #d9dde5; --accent: #3559e0; --bg: #f7f8fa; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 14px 24px; border-bottom: 1px solid var(--line); background: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: var(--muted); }
  main { display: grid; grid-template-columns: 340px 1fr; gap: 20px; padding: 20px 24px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
  h2 { font-size: 14px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 10px; }
  label { display: block; font-size: 13px; color: var(--muted); margin: 8px 0 3px; }
  textarea, input[type=text], input[type=number], input[type=password] { width: 100%; font: inherit; padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px; }
  textarea { min-height: 96px; resize: vertical; }
  button { font: inherit; padding: 8px 16px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; margin-top: 12px; }
  button:disabled { opacity: .5; cursor: default; }
  .vector { border-top: 1px solid var(--line); padding: 10px 0 4px; }
  .vector:first-child { border-top: 0; }
  .vector .name { font-weight: 600; display: flex; justify-content: space-between; align-items: center; }
  .vector .meta { color: var(--muted); font-size: 12px; }
  .row { display: flex; gap: 8px; align-items: center; }
  .row input[type=range] { flex: 1; }
  .coef { width: 52px; text-align: right; font-variant-numeric: tabular-nums; }
  .answers { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; margin-top: 16px; }
  .answer pre { white-space: pre-wrap; word-wrap: break-word; font: 14px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; min-height: 160px; margin: 0; }
  .answer .info { color: var(--muted); font-size: 12px; margin-top: 8px; }
  .empty { color: var(--muted); font-style: italic; }
  .error { color: #b42318; }
</style>
</head>
<body>
<header><h1>steer</h1><span id="model">steering playground</span></header>
<main>
  <div>
    <section>
      <h2>Steering vectors</h2>
      <div id="vectors"><p class="empty">loading…</p></div>
    </section>
    <section style="margin-top:16px">
      <h2>Settings</h2>
      <label for="max_tokens">max tokens</label><input id="max_tokens" type="number" value="96" min="1" max="2048">
      <label for="temperature">temperature (0 = greedy)</label><input id="temperature" type="number" value="0" min="0" max="2" step="0.1">
      <label for="key">API key (if the server has one)</label><input id="key" type="password" placeholder="none">
    </section>
  </div>
  <div>
    <section>
      <h2>Prompt</h2>
      <textarea id="prompt">Write a short note to a friend about your weekend.</textarea>
      <button id="go">Generate both</button>
    </section>
    <div class="answers">
      <section class="answer"><h2>Unsteered</h2><pre id="plain"></pre><div class="info" id="plain_info"></div></section>
      <section class="answer"><h2>Steered</h2><pre id="steered"></pre><div class="info" id="steered_info"></div></section>
    </div>
  </div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const keyBox = $("key");
keyBox.value = localStorage.getItem("steer_key") || "";
keyBox.addEventListener("change", () => localStorage.setItem("steer_key", keyBox.value));
function headers() {
  const h = { "Content-Type": "application/json" };
  if (keyBox.value) h["Authorization"] = "Bearer " + keyBox.value;
  return h;
}
function range(layers) {
  if (!layers.length) return "";
  const a = Math.min(...layers), b = Math.max(...layers);
  return layers.length === b - a + 1 ? (a === b ? String(a) : a + "-" + b) : layers.join(",");
}
let vectorList = [];
async function loadVectors() {
  const box = $("vectors");
  try {
    const models = await fetch("/v1/models", { headers: headers() }).then((r) => r.json());
    if (models.data && models.data[0]) $("model").textContent = models.data[0].id;
    const r = await fetch("/v1/steering/vectors", { headers: headers() });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error ? j.error.message : r.statusText);
    vectorList = j.data;
    box.innerHTML = "";
    if (!vectorList.length) box.innerHTML = '<p class="empty">no vectors loaded (start the server with --vectors DIR)</p>';
    for (const v of vectorList) {
      const d = document.createElement("div");
      d.className = "vector";
      const ablation = v.kind === "ablation";
      d.innerHTML =
        '<div class="name"><span></span><label style="margin:0"><input type="checkbox" class="on"> use</label></div>' +
        '<div class="meta"></div>' +
        (ablation ? '<div class="meta">ablation direction: removed at every layer</div>'
                  : '<div class="row"><input type="range" class="slider" min="-12" max="12" step="0.5" value="4">' +
                    '<span class="coef">4.0</span></div><label>layers</label><input type="text" class="layers">');
      d.querySelector(".name span").textContent = v.name;
      d.querySelector(".meta").textContent = v.file + " · " + v.site + " · layers " + range(v.layers);
      if (!ablation) {
        d.querySelector(".layers").value = range(v.layers);
        const s = d.querySelector(".slider"), c = d.querySelector(".coef");
        s.addEventListener("input", () => (c.textContent = Number(s.value).toFixed(1)));
      }
      d.dataset.name = v.name;
      d.dataset.kind = v.kind;
      box.appendChild(d);
    }
    const first = box.querySelector(".on");
    if (first) first.checked = true;
  } catch (e) {
    box.innerHTML = '<p class="error"></p>';
    box.querySelector("p").textContent = "could not list vectors: " + e.message;
  }
}
function steering() {
  const add = [], ablate = [];
  for (const d of document.querySelectorAll(".vector")) {
    if (!d.querySelector(".on").checked) continue;
    if (d.dataset.kind === "ablation") { ablate.push(d.dataset.name); continue; }
    const item = { vector: d.dataset.name, coefficient: Number(d.querySelector(".slider").value) };
    const layers = d.querySelector(".layers").value.trim();
    if (layers) item.layers = layers;
    add.push(item);
  }
  return { add, ablate };
}
async function stream(body, out, info) {
  out.textContent = "";
  info.textContent = "";
  const t0 = performance.now();
  let first = 0, pieces = 0;
  const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body) });
  if (!r.ok) {
    const j = await r.json().catch(() => ({}));
    out.innerHTML = '<span class="error"></span>';
    out.firstChild.textContent = j.error ? j.error.message : r.statusText;
    return;
  }
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "", finish = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, cut).trim();
      buf = buf.slice(cut + 2);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      const c = chunk.choices[0];
      if (c.delta && c.delta.content) {
        if (!first) first = performance.now() - t0;
        out.textContent += c.delta.content;
        pieces++;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  const s = (performance.now() - t0) / 1000;
  info.textContent = `finish: ${finish} · first token ${(first / 1000).toFixed(2)} s · ${s.toFixed(2)} s`;
}
$("go").addEventListener("click", async () => {
  const go = $("go");
  go.disabled = true;
  const base = {
    messages: [{ role: "user", content: $("prompt").value }],
    max_tokens: Number($("max_tokens").value),
    temperature: Number($("temperature").value),
    stream: true,
  };
  try {
    await Promise.all([
      stream(base, $("plain"), $("plain_info")),
      stream(Object.assign({ steering: steering() }, base), $("steered"), $("steered_info")),
    ]);
  } finally {
    go.disabled = false;
  }
});
// A link can carry the prompt and start the run: /?prompt=...&coefficient=6&run=1
const params = new URLSearchParams(location.search);
if (params.get("prompt")) $("prompt").value = params.get("prompt");
loadVectors().then(() => {
  if (params.get("coefficient"))
    for (const s of document.querySelectorAll(".slider")) {
      s.value = params.get("coefficient");
      s.dispatchEvent(new Event("input"));
    }
  if (params.get("run") === "1") $("go").click();
});
</script>
</body>
</html>
)steer_page";
  return page;
}

}  // namespace steer::serve
