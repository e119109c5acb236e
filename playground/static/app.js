"use strict";
// The playground page: polls /api/state, renders the channel or thread open in it (keeping
// elements whose message did not change, so a playing track keeps playing), and sends what
// the visitor does to /api/<action>. Texts from the server arrive escaped (the `html` fields)
// or are set with textContent.

const KEY = decodeURIComponent(location.hash.slice(1));
const POLL_MS = 700;
const $ = (id) => document.getElementById(id);
let channel = null;
let state = null;
let offset = 0;
let ended = false;
let draft = null;
let files = [];
let pollTimer = null;
const shown = new Map();

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "html") node.innerHTML = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

async function api(path, body) {
  const init = { headers: { "X-Playground-Key": KEY } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (_) {
    return { error: "The playground is not running any more." };
  }
  const answer = await response.json().catch(() => ({ error: "Unexpected answer." }));
  if (!response.ok && !answer.error) answer.error = `HTTP ${response.status}`;
  return answer;
}

async function act(name, body) {
  const answer = await api(`/api/${name}`, { channel, ...body });
  if (answer.error) toast(answer.error);
  if (answer.modal) openModal(answer.modal);
  poll();
  return answer;
}

// ------------------------------------------------------------------ polling

async function poll() {
  clearTimeout(pollTimer);
  if (ended) return;
  const query = channel ? `?channel=${channel}` : "";
  const answer = await api(`/api/state${query}`);
  if (answer.error) {
    if (!ended) $("channel-note").textContent = " · " + answer.error;
  } else {
    offset = answer.now - Date.now();
    state = answer;
    if (channel !== answer.channel) { channel = answer.channel; shown.clear(); $("messages").textContent = ""; }
    render();
  }
  pollTimer = setTimeout(poll, POLL_MS);
}

function now() { return Date.now() + offset; }

// ------------------------------------------------------------------ rendering

function render() {
  const list = $("channels");
  list.textContent = "";
  for (const c of state.channels) {
    list.append(el("a", {
      href: "#", class: `channel${c.thread ? " thread" : ""}${c.id === channel ? " open" : ""}`,
      dataset: { channel: c.id }, title: c.thread ? "Open this thread" : "Open this channel",
      onclick: (e) => { e.preventDefault(); open(c.id); },
    }, el("span", { class: "hash", text: c.thread ? "🧵" : "#" }), el("span", { text: c.name }),
    c.thread ? el("span", { class: "count", text: String(c.count) }) : null));
  }
  const current = state.channels.find((c) => c.id === channel);
  $("channel-name").textContent = current ? (current.thread ? "🧵 " : "# ") + current.name : "";
  $("channel-note").textContent = current && current.thread ? " · a thread of #" + parentName(current) : "";
  $("text").placeholder = current ? `Message ${current.thread ? "" : "#"}${current.name}, or / for commands` : "";
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const ids = new Set(state.messages.map((m) => m.id));
  for (const [id, entry] of shown) if (!ids.has(id)) { entry.node.remove(); shown.delete(id); }
  let previous = null;
  for (const m of state.messages) {
    const signature = JSON.stringify(m);
    let entry = shown.get(m.id);
    if (!entry || entry.signature !== signature) {
      const node = message(m);
      if (entry) { keepPlayers(entry.node, node); entry.node.replaceWith(node); }
      entry = { node, signature };
      shown.set(m.id, entry);
    }
    const after = previous ? previous.nextSibling : box.firstChild;
    if (entry.node !== after) box.insertBefore(entry.node, after);
    previous = entry.node;
  }
  times(box);
  if (atBottom) box.scrollTop = box.scrollHeight;
  if (!$("palette").hidden) palette();
}

function parentName(thread) {
  const index = state.channels.indexOf(thread);
  for (let i = index; i >= 0; i--) if (!state.channels[i].thread) return state.channels[i].name;
  return "";
}

function keepPlayers(old, fresh) {
  for (const audio of old.querySelectorAll("audio")) {
    const twin = [...fresh.querySelectorAll("audio")].find((a) => a.getAttribute("src") === audio.getAttribute("src"));
    if (twin) twin.replaceWith(audio);
  }
}

function message(m) {
  const node = el("article", {
    class: `msg${m.bot ? " bot" : ""}${m.ephemeral ? " ephemeral" : ""}`, dataset: { id: m.id },
    oncontextmenu: (e) => { e.preventDefault(); menu(m, e.clientX, e.clientY); },
  });
  node.append(el("div", { class: "head" },
    el("span", { class: "author", text: m.author }),
    m.bot ? el("span", { class: "badge", text: "APP" }) : null,
    el("time", { class: "at", dataset: { iso: m.at } }),
    m.edited ? el("span", { class: "edited", text: "(edited)" }) : null,
    el("button", { type: "button", class: "more", title: "More: apps for this message", "aria-label": "More",
      text: "⋯", onclick: (e) => { const r = e.target.getBoundingClientRect(); menu(m, r.left - 160, r.bottom); } })));
  if (m.html) node.append(el("div", { class: "content", html: m.html }));
  for (const e of m.embeds) node.append(embed(e));
  for (const a of m.attachments) node.append(attachment(a));
  for (const row of m.rows) node.append(el("div", { class: "row" }, row.map((c) => component(m, c))));
  if (m.thread) {
    node.append(el("a", { href: "#", class: "thread-chip jump", dataset: { channel: m.thread.id } },
      el("span", { text: "🧵 " + m.thread.name }),
      el("span", { class: "count", text: `${m.thread.count} message${m.thread.count === 1 ? "" : "s"} ›` })));
  }
  if (m.ephemeral) node.append(el("div", { class: "only-you", text: "👁 Only you can see this" }));
  return node;
}

function embed(e) {
  const box = el("div", { class: "embed" });
  if (e.color) box.style.borderLeftColor = e.color;
  const body = el("div", { class: "embed-body" });
  if (e.author) body.append(el("div", { class: "embed-author", html: e.author }));
  if (e.title) body.append(e.url ? el("a", { class: "embed-title", href: e.url, target: "_blank", rel: "noopener", html: e.title })
                                  : el("div", { class: "embed-title", html: e.title }));
  if (e.html) body.append(el("div", { class: "embed-text", html: e.html }));
  if (e.fields.length) {
    body.append(el("div", { class: "fields" }, e.fields.map((f) =>
      el("div", { class: `field${f.inline ? " inline" : ""}` },
        el("div", { class: "field-name", html: f.name }), el("div", { class: "field-value", html: f.html })))));
  }
  if (e.image) body.append(el("img", { class: "embed-image", src: e.image, alt: "" }));
  if (e.footer || e.at) {
    body.append(el("div", { class: "embed-footer", html: e.footer },
      e.at ? el("time", { class: "at", dataset: { iso: e.at } }) : null));
  }
  box.append(body);
  if (e.thumbnail) box.append(el("img", { class: "thumb", src: e.thumbnail, alt: "cover" }));
  return box;
}

function attachment(a) {
  const caption = el("figcaption", {}, el("a", { href: a.url, download: a.name, text: a.name }),
    el("span", { class: "size", text: " · " + size(a.size) }));
  if (a.kind === "audio") return el("figure", { class: "file audio" }, caption, el("audio", { controls: true, preload: "metadata", src: a.url }));
  if (a.kind === "image") return el("figure", { class: "file image" }, el("img", { src: a.url, alt: a.name }), caption);
  return el("figure", { class: "file" }, caption);
}

function size(bytes) {
  if (bytes >= 1048576) return (bytes / 1048576).toFixed(1) + " MB";
  return Math.max(1, Math.round(bytes / 1024)) + " KB";
}

function component(m, c) {
  if (c.type === "button") {
    const label = [c.emoji, c.label].filter(Boolean).join(" ");
    if (c.url) return el("a", { class: "button link", href: c.url, target: "_blank", rel: "noopener", text: label + " ↗" });
    return el("button", { type: "button", class: `button style-${c.style}`, disabled: c.disabled, text: label,
      onclick: (e) => { e.target.disabled = true; act("click", { message: m.id, id: c.id }); } });
  }
  const select = el("select", { class: "select", disabled: c.disabled, multiple: c.max > 1,
    onchange: () => act("select", { message: m.id, id: c.id, values: [...select.selectedOptions].map((o) => o.value) }) });
  if (c.max <= 1) select.append(el("option", { value: "", text: c.placeholder || "Choose…", disabled: true, selected: !c.options.some((o) => o.default) }));
  for (const o of c.options) select.append(el("option", { value: o.value, selected: o.default, title: o.description, text: o.label }));
  return select;
}

// Discord's <t:…> styles, and message times, on the server's clock.
function times(root) {
  const rel = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const t of root.querySelectorAll("time")) {
    if (t.dataset.iso) {
      const d = new Date(t.dataset.iso);
      t.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      t.title = d.toLocaleString();
      continue;
    }
    const ms = Number(t.dataset.t) * 1000;
    const d = new Date(ms);
    const style = t.dataset.style;
    let text;
    if (style === "R") {
      const s = Math.round((ms - now()) / 1000);
      const a = Math.abs(s);
      text = a < 60 ? rel.format(s, "second") : a < 3600 ? rel.format(Math.round(s / 60), "minute")
        : a < 86400 ? rel.format(Math.round(s / 3600), "hour") : rel.format(Math.round(s / 86400), "day");
    } else if (style === "t") text = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    else if (style === "T") text = d.toLocaleTimeString();
    else if (style === "d") text = d.toLocaleDateString();
    else if (style === "D") text = d.toLocaleDateString([], { dateStyle: "long" });
    else if (style === "F") text = d.toLocaleString([], { dateStyle: "full", timeStyle: "short" });
    else text = d.toLocaleString([], { dateStyle: "long", timeStyle: "short" });
    t.textContent = text;
    t.title = d.toLocaleString();
  }
}

// ------------------------------------------------------------------ navigation

function open(id, messageId) {
  if (id !== channel) { channel = id; shown.clear(); $("messages").textContent = ""; }
  closeCommand();
  poll().then(() => {
    if (!messageId) return;
    const target = $("messages").querySelector(`[data-id="${messageId}"]`);
    if (target) { target.scrollIntoView({ block: "center" }); target.classList.add("flash"); }
  });
}

document.addEventListener("click", (e) => {
  const jump = e.target.closest("a.jump");
  if (jump) { e.preventDefault(); open(jump.dataset.channel, jump.dataset.message); }
  if (!e.target.closest("#menu") && !e.target.closest(".more")) $("menu").hidden = true;
});

// ------------------------------------------------------------------ the message menu

function menu(m, x, y) {
  const box = $("menu");
  box.textContent = "";
  box.append(el("div", { class: "menu-title", text: "Apps" }));
  for (const name of state.commands.menu) {
    box.append(el("button", { type: "button", role: "menuitem", text: name,
      onclick: () => { box.hidden = true; act("menu", { message: m.id, command: name }); } }));
  }
  if (!state.commands.menu.length) box.append(el("div", { class: "menu-empty", text: "No apps here" }));
  box.hidden = false;
  box.style.left = Math.max(8, Math.min(x, innerWidth - box.offsetWidth - 8)) + "px";
  box.style.top = Math.max(8, Math.min(y, innerHeight - box.offsetHeight - 8)) + "px";
}

// ------------------------------------------------------------------ modals

function openModal(modal) {
  const dialog = $("modal");
  const form = $("modal-form");
  form.textContent = "";
  form.append(el("h2", { text: modal.title }));
  const inputs = {};
  for (const c of modal.controls) {
    if (c.type === "note") { form.append(el("p", { text: c.text })); continue; }
    let input;
    if (c.type === "select") {
      input = el("select", { name: c.id, multiple: c.max > 1 });
      for (const o of c.options) input.append(el("option", { value: o.value, selected: o.default, text: o.label }));
    } else if (c.long) {
      input = el("textarea", { name: c.id, placeholder: c.placeholder, maxlength: c.max, rows: 3 });
      input.value = c.value;
    } else {
      input = el("input", { name: c.id, placeholder: c.placeholder, maxlength: c.max });
      input.value = c.value;
    }
    inputs[c.id] = [c, input];
    form.append(el("label", {}, el("span", { text: c.label + (c.required ? " *" : "") }),
      c.description ? el("small", { text: c.description }) : null, input));
  }
  form.append(el("div", { class: "actions" },
    el("button", { type: "button", class: "button", text: "Cancel", onclick: () => dialog.close() }),
    el("button", { type: "submit", class: "button style-1", text: "Submit" })));
  form.onsubmit = (e) => {
    e.preventDefault();
    const values = {};
    for (const [id, [c, input]] of Object.entries(inputs)) {
      values[id] = c.type === "select" ? (c.max > 1 ? [...input.selectedOptions].map((o) => o.value) : input.value) : input.value;
    }
    dialog.close();
    act("modal", { handle: modal.handle, values });
  };
  dialog.showModal();
}

// ------------------------------------------------------------------ the composer

function palette() {
  const box = $("palette");
  const typed = $("text").value.slice(1).trim().toLowerCase();
  box.textContent = "";
  const matches = state.commands.slash.filter((c) => c.name.startsWith(typed) || c.name.includes(typed));
  for (const c of matches) {
    box.append(el("button", { type: "button", class: "command", dataset: { command: c.name },
      onclick: () => startCommand(c) },
      el("strong", { text: "/" + c.name }), el("span", { text: c.description })));
  }
  box.hidden = !matches.length;
}

function startCommand(c) {
  draft = c;
  $("text").value = "";
  $("palette").hidden = true;
  const box = $("command");
  box.textContent = "";
  box.append(el("div", { class: "command-head" }, el("strong", { text: "/" + c.name }),
    el("span", { text: c.description }),
    el("button", { type: "button", class: "close", title: "Cancel", text: "×", onclick: closeCommand })));
  const grid = el("div", { class: "options" });
  for (const o of c.options) grid.append(optionInput(c, o));
  box.append(grid);
  box.hidden = false;
  const first = box.querySelector("select, input");
  if (first) first.focus();
}

function optionInput(c, o) {
  let input;
  const attrs = { name: o.name, required: o.required, dataset: { type: o.type } };
  if (o.choices.length) {
    input = el("select", { ...attrs, dataset: { type: o.type, json: "1" } },
      el("option", { value: "", text: o.required ? "Choose…" : "(default)" }),
      o.choices.map((ch) => el("option", { value: JSON.stringify(ch.value), text: ch.name })));
  } else if (o.type === "attachment") {
    input = el("select", attrs, el("option", { value: "", text: "Choose a recording…" }),
      state.demos.map((d) => el("option", { value: "demo:" + d, text: "demo: " + d })),
      el("option", { value: "upload", text: "A file of yours…" }));
    const picker = el("input", { type: "file", hidden: true, accept: "audio/*", onchange: async () => {
      const f = picker.files[0];
      if (f) { input.upload = { name: f.name, data: await base64(f) }; input.options[input.options.length - 1].text = "yours: " + f.name; }
    } });
    input.addEventListener("change", () => { if (input.value === "upload") picker.click(); });
    return el("label", { class: "option", title: o.description }, el("span", { text: o.name + (o.required ? " *" : "") }), input, picker);
  } else if (o.type === "boolean") {
    input = el("select", attrs, el("option", { value: "", text: "(default)" }),
      el("option", { value: "true", text: "True" }), el("option", { value: "false", text: "False" }));
  } else if (o.type === "channel") {
    input = el("select", attrs, el("option", { value: "", text: "(none)" }),
      state.channels.filter((ch) => !ch.thread).map((ch) => el("option", { value: ch.id, text: "#" + ch.name })));
  } else if (o.type === "user" || o.type === "mentionable") {
    input = el("select", attrs, el("option", { value: "", text: "(none)" }), el("option", { value: state.you, text: "@you" }));
  } else {
    const numeric = o.type === "integer" || o.type === "number";
    input = el("input", { ...attrs, type: numeric ? "number" : "text", step: o.type === "number" ? "any" : null,
      min: o.min, max: o.max, placeholder: o.description, list: o.autocomplete ? `ac-${o.name}` : null });
    if (o.autocomplete) {
      const list = el("datalist", { id: `ac-${o.name}` });
      input.addEventListener("input", async () => {
        const answer = await api("/api/autocomplete", { channel, command: c.name, option: o.name, value: input.value });
        list.textContent = "";
        for (const ch of answer.choices || []) list.append(el("option", { value: ch.value, text: ch.name }));
      });
      return el("label", { class: "option", title: o.description }, el("span", { text: o.name + (o.required ? " *" : "") }), input, list);
    }
  }
  return el("label", { class: "option", title: o.description }, el("span", { text: o.name + (o.required ? " *" : "") }), input);
}

function optionValue(input) {
  const type = input.dataset.type;
  const raw = input.value;
  if (raw === "") return null;
  if (input.dataset.json) return JSON.parse(raw);
  if (type === "attachment") return raw === "upload" ? (input.upload || null) : { demo: raw.slice(5) };
  if (type === "boolean") return raw === "true";
  if (type === "integer") return parseInt(raw, 10);
  if (type === "number") return parseFloat(raw);
  if (type === "channel") return { channel: raw };
  if (type === "user" || type === "mentionable") return { user: raw };
  if (type === "role") return { role: raw };
  return raw;
}

function closeCommand() {
  draft = null;
  $("command").hidden = true;
  $("command").textContent = "";
}

function base64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function showFiles() {
  const box = $("attached");
  box.textContent = "";
  files.forEach((f, i) => box.append(el("span", { class: "chip" }, el("span", { text: "📎 " + f.name }),
    el("button", { type: "button", text: "×", title: "Remove", onclick: () => { files.splice(i, 1); showFiles(); } }))));
}

$("file").addEventListener("change", async (e) => {
  for (const f of e.target.files) files.push({ name: f.name, data: await base64(f) });
  e.target.value = "";
  showFiles();
});

$("text").addEventListener("input", () => {
  if ($("text").value.startsWith("/") && !draft) palette(); else $("palette").hidden = true;
});

$("composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (draft) {
    const options = {};
    for (const input of $("command").querySelectorAll("[name]")) {
      const value = optionValue(input);
      if (value !== null) options[input.name] = value;
    }
    const missing = draft.options.filter((o) => o.required && !(o.name in options));
    if (missing.length) { toast("Fill in: " + missing.map((o) => o.name).join(", ")); return; }
    const command = draft.name;
    closeCommand();
    $("send").disabled = true;
    await act("slash", { command, options });
    $("send").disabled = false;
    return;
  }
  const text = $("text").value;
  if (text.startsWith("/")) {
    const exact = state.commands.slash.find((c) => "/" + c.name === text.trim());
    if (exact) startCommand(exact); else palette();
    return;
  }
  $("send").disabled = true;
  const answer = await act("send", { content: text, files });
  $("send").disabled = false;
  if (!answer.error) { $("text").value = ""; files = []; showFiles(); }
});

$("end").addEventListener("click", async () => {
  await api("/api/end", {});
  ended = true;
  clearTimeout(pollTimer);
  document.body.classList.add("ended");
  $("channel-note").textContent = " · the session has ended; the bot has stopped";
});

setInterval(() => { if (state) times($("messages")); }, 1000);
if (!KEY) $("channel-note").textContent = "Open the address the terminal printed (it ends with #…).";
else poll();
