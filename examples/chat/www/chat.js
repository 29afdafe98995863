// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// chat.js: the chat example's page. Plain JavaScript, no build step. It
// speaks shared CHAT.md over one WebSocket to /ws on the same host.
"use strict";

const $ = (id) => document.getElementById(id);
const rooms = new Map(); // name -> {members: Set, lines: [], unread: 0}
let me = "";
let active = "";
let ws = null;
let sent = 0;

function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}

function time(ts) {
  const d = ts ? new Date(ts) : new Date();
  return d.toTimeString().slice(0, 8);
}

function status(text, bad) {
  $("status").textContent = text;
  $("status").className = bad ? "status bad" : "status";
}

// line adds one entry to a room's log (the active one is on screen).
function line(room, kind, parts) {
  const r = rooms.get(room);
  const entry = { kind, parts };
  if (r) {
    r.lines.push(entry);
    if (r.lines.length > 500) r.lines.shift();
    if (room !== active) { r.unread++; drawRooms(); }
  }
  if (!r || room === active) drawLine(entry);
}

function note(kind, text) { // not about a room: shown where you are
  drawLine({ kind, parts: { text } });
}

function drawLine(e) {
  const li = document.createElement("li");
  li.className = e.kind;
  const p = e.parts;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = time(p.ts) + (p.seq ? " #" + p.seq : "");
  li.appendChild(meta);
  if (p.from !== undefined) {
    const f = document.createElement("span");
    f.className = "from";
    f.textContent = p.from + ":";
    li.appendChild(f);
  }
  li.appendChild(document.createTextNode(p.text));
  $("log").appendChild(li);
  $("log").scrollTop = $("log").scrollHeight;
}

function drawRooms() {
  const ul = $("rooms");
  ul.textContent = "";
  for (const [name, r] of rooms) {
    const li = document.createElement("li");
    li.textContent = name;
    if (name === active) li.className = "active";
    if (r.unread) {
      const u = document.createElement("span");
      u.className = "unread";
      u.textContent = " (" + r.unread + ")";
      li.appendChild(u);
    }
    li.onclick = () => show(name);
    ul.appendChild(li);
  }
}

function drawMembers() {
  const ul = $("members");
  ul.textContent = "";
  const r = rooms.get(active);
  $("members-room").textContent = r ? "in " + active : "";
  if (!r) return;
  for (const m of [...r.members].sort()) {
    const li = document.createElement("li");
    li.textContent = m === me ? m + " (you)" : m;
    ul.appendChild(li);
  }
}

function show(name) {
  active = name;
  const r = rooms.get(name);
  $("log").textContent = "";
  if (r) { r.unread = 0; r.lines.forEach(drawLine); }
  $("active-room").textContent = r ? "# " + name : "no room yet: join one";
  const on = !!r;
  $("text").disabled = !on;
  $("send").disabled = !on;
  $("leave").disabled = !on;
  drawRooms();
  drawMembers();
  if (on) $("text").focus();
}

function msgLine(m, history) {
  const kind = (history ? "msg history" : "msg") + (m.from === me ? " mine" : "");
  line(m.room, kind, { ts: m.ts, seq: m.seq, from: m.from, text: m.text });
}

function onEvent(e) {
  switch (e.ev) {
  case "welcome":
    me = e.name;
    status("connected as " + me + " on node " + e.node);
    $("nick").placeholder = me;
    note("presence", "welcome, " + me + " (node " + e.node + ")");
    send({ op: "join", room: $("room").value || "lobby" });
    break;
  case "nick": { // no presence comes about ourselves: rename us here
    for (const r of rooms.values())
      if (r.members.delete(me)) r.members.add(e.name);
    me = e.name;
    drawMembers();
    status("connected as " + me);
    note("presence", "you are now " + me);
    break;
  }
  case "joined": {
    const fresh = !rooms.has(e.room);
    const r = { members: new Set(e.members), lines: [], unread: 0 };
    if (!fresh) r.lines = rooms.get(e.room).lines;
    rooms.set(e.room, r);
    show(e.room);
    line(e.room, "presence", { text: "you joined " + e.room + " (" +
      e.members.length + " here, " + e.history.length + " earlier messages)" });
    for (const m of e.history) msgLine(m, true);
    break;
  }
  case "left":
    rooms.delete(e.room);
    show(rooms.size ? rooms.keys().next().value : "");
    note("presence", "you left " + e.room);
    break;
  case "msg":
    msgLine(e, false);
    break;
  case "presence": {
    const r = rooms.get(e.room);
    let text;
    if (e.state === "join") { r && r.members.add(e.name); text = e.name + " joined"; }
    else if (e.state === "leave") { r && r.members.delete(e.name); text = e.name + " left"; }
    else { r && r.members.delete(e.from); r && r.members.add(e.name);
      text = e.from + " is now " + e.name; }
    line(e.room, "presence", { text });
    if (e.room === active) drawMembers();
    break;
  }
  case "rooms": {
    const ul = $("all-rooms");
    ul.textContent = "";
    for (const r of e.rooms) {
      const li = document.createElement("li");
      li.textContent = r.room + " (" + r.members + ")";
      li.style.cursor = "pointer";
      li.onclick = () => send({ op: "join", room: r.room });
      ul.appendChild(li);
    }
    if (!e.rooms.length) ul.textContent = "none";
    break;
  }
  case "who":
    break;
  case "error":
    note("error", "error " + e.code + (e.op ? " (" + e.op + ")" : "") +
      (e.detail ? ": " + e.detail : ""));
    break;
  }
}

function connect() {
  const proto = location.protocol === "https:" ? "wss://" : "ws://";
  ws = new WebSocket(proto + location.host + "/ws");
  ws.onmessage = (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (_) { return; }
    onEvent(e);
  };
  ws.onclose = (c) => {
    if (c.code !== 1000 && c.code !== 1005)
      note("error", "the server closed this connection: " + c.code +
        (c.reason ? " " + c.reason : ""));
    status("disconnected (" + c.code + (c.reason ? " " + c.reason : "") +
      "): reload to reconnect", true);
    $("text").disabled = true;
    $("send").disabled = true;
  };
}

$("nick-form").onsubmit = (ev) => {
  ev.preventDefault();
  const name = $("nick").value.trim();
  if (name) send({ op: "nick", name });
};
$("join-form").onsubmit = (ev) => {
  ev.preventDefault();
  const room = $("room").value.trim();
  if (room) send({ op: "join", room });
};
$("say-form").onsubmit = (ev) => {
  ev.preventDefault();
  const text = $("text").value;
  if (!text || !active) return;
  send({ op: "say", room: active, text, id: "c-" + (++sent) });
  $("text").value = "";
};
$("leave").onclick = () => { if (active) send({ op: "leave", room: active }); };
$("list-rooms").onclick = () => send({ op: "rooms" });

connect();
