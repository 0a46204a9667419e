// The fleet view's page, script and style (fleet_view.hpp). Everything a node says (names, facts,
// output, errors) is put on the page as text (textContent), never as markup.
namespace steward::input {

extern const char* const kFleetViewPage;
extern const char* const kFleetViewScript;
extern const char* const kFleetViewStyle;

const char* const kFleetViewPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>steward fleet</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header><h1>steward fleet</h1><span id="status">loading…</span></header>
<section id="login" hidden>
  <p>The fleet view needs its token: the file named by fleetViewTokenFile on central
  (by default <code>&lt;databaseFolder&gt;/fleet-view.token</code>).</p>
  <label>Token <input id="token" type="password" autocomplete="off"></label>
  <button id="use-token" type="button">Open</button>
</section>
<main id="view" hidden>
  <section>
    <h2>Nodes <span id="node-count"></span></h2>
    <table id="nodes">
      <thead><tr><th>Node</th><th>State</th><th>Last seen</th><th>Key</th><th>Version</th>
      <th>Queued here</th><th>Inbox/outbox</th><th>Facts</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Run a command</h2>
    <form id="run">
      <label>Target <input id="target" value="*" title="names, patterns (ship*), * for every node"></label>
      <label>Where <input id="where" placeholder="role=db"></label>
      <label class="wide">Command <input id="command" placeholder="uptime"></label>
      <button id="send" type="submit">Send</button>
    </form>
    <p id="run-error" class="error"></p>
    <table id="results">
      <thead><tr><th>Node</th><th>State</th><th>Output</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Messages in flight <span id="queue-count"></span></h2>
    <table id="queue">
      <thead><tr><th>Id</th><th>To</th><th>Method</th><th>Age</th><th>What</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Recent errors</h2>
    <ol id="errors"></ol>
  </section>
</main>
<script src="/app.js"></script>
</body>
</html>
)PAGE";

const char* const kFleetViewScript = R"SCRIPT('use strict';
const $ = (id) => document.getElementById(id);
let token = '';

function readToken() {
  const found = location.hash.match(/token=([^&]+)/);
  if (found) {
    sessionStorage.setItem('stewardToken', decodeURIComponent(found[1]));
    history.replaceState(null, '', location.pathname);
  }
  token = sessionStorage.getItem('stewardToken') || '';
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {}, {'Authorization': 'Bearer ' + token});
  const answer = await fetch(path, Object.assign({}, options, {headers}));
  const body = await answer.json().catch(() => ({error: answer.statusText}));
  if (!answer.ok) {
    const error = new Error(body.error || answer.statusText);
    error.status = answer.status;
    throw error;
  }
  return body;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function ago(seconds) {
  if (seconds === undefined) return 'never';
  if (seconds < 120) return seconds + ' s ago';
  if (seconds < 7200) return Math.floor(seconds / 60) + ' min ago';
  if (seconds < 172800) return Math.floor(seconds / 3600) + ' h ago';
  return Math.floor(seconds / 86400) + ' d ago';
}

function renderNodes(nodes) {
  const body = $('nodes').tBodies[0];
  body.replaceChildren();
  for (const n of nodes) {
    const row = body.insertRow();
    row.dataset.node = n.node;
    const state = n.key === 'pending' ? 'pending' : (n.online ? 'online' : 'offline');
    row.dataset.state = state;
    cell(row, n.node);
    cell(row, state, 'state ' + state);
    cell(row, ago(n.secondsAgo));
    cell(row, n.key);
    cell(row, (n.facts && n.facts.stewardVersion) || '-');
    cell(row, String(n.queued || 0));
    cell(row, n.lastSeenUnixMs ? n.inbox + '/' + n.outbox : '-');
    const facts = Object.entries(n.facts || {}).filter(([k]) => k !== 'stewardVersion' && k !== 'uptimeSeconds');
    cell(row, facts.map(([k, v]) => k + '=' + v).join('  '), 'facts');
  }
  $('node-count').textContent = '(' + nodes.length + ')';
}

function renderQueue(queue) {
  const body = $('queue').tBodies[0];
  body.replaceChildren();
  const now = Date.now();
  for (const m of queue) {
    const row = body.insertRow();
    cell(row, String(m.id));
    cell(row, m.toNode);
    cell(row, m.method);
    cell(row, Math.max(0, Math.floor((now - m.createdUnixMs) / 1000)) + ' s');
    cell(row, m.summary || '');
  }
  $('queue-count').textContent = '(' + queue.length + ')';
}

function renderErrors(errors) {
  const list = $('errors');
  list.replaceChildren();
  for (const line of errors.slice().reverse()) {
    const item = document.createElement('li');
    item.textContent = line;
    list.appendChild(item);
  }
}

function showLogin(why) {
  $('view').hidden = true;
  $('login').hidden = false;
  $('status').textContent = why;
}

async function refresh() {
  if (!token) return showLogin('no token');
  try {
    const fleet = await api('/api/fleet');
    $('login').hidden = true;
    $('view').hidden = false;
    renderNodes(fleet.nodes.nodes || []);
    renderQueue(fleet.queue.outbox || []);
    renderErrors(fleet.errors || []);
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (error) {
    if (error.status === 401) return showLogin(error.message);
    $('status').textContent = error.message;
  }
}

function renderResults(nodes) {
  const body = $('results').tBodies[0];
  body.replaceChildren();
  for (const [node, r] of Object.entries(nodes)) {
    const row = body.insertRow();
    row.dataset.node = node;
    row.dataset.state = r.state;
    cell(row, node);
    cell(row, r.state, 'state ' + r.state);
    const out = cell(row, '', 'output');
    const text = [r.output, r.stderr, r.error, r.note].filter((s) => s).join('\n');
    const pre = document.createElement('pre');
    pre.textContent = text;
    out.appendChild(pre);
  }
}

async function follow(run) {
  const until = Date.now() + 120000;
  while (Date.now() < until) {
    let status;
    try {
      status = await api('/api/run/' + run);
    } catch (error) {
      $('run-error').textContent = error.message;
      return;
    }
    renderResults(status.nodes);
    if (Object.values(status.nodes).every((r) => r.state !== 'waiting')) return;
    await new Promise((done) => setTimeout(done, 500));
  }
}

async function send(event) {
  event.preventDefault();
  $('run-error').textContent = '';
  $('results').tBodies[0].replaceChildren();
  try {
    const started = await api('/api/run', {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({target: $('target').value, where: $('where').value, command: $('command').value}),
    });
    await follow(started.run);
    refresh();
  } catch (error) {
    $('run-error').textContent = error.message;
  }
}

$('use-token').addEventListener('click', () => {
  sessionStorage.setItem('stewardToken', $('token').value);
  readToken();
  refresh();
});
$('run').addEventListener('submit', send);
readToken();
refresh();
setInterval(refresh, 5000);
)SCRIPT";

const char* const kFleetViewStyle = R"STYLE(body { font: 14px system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
header { display: flex; align-items: baseline; gap: 1em; padding: 0.6em 1.2em; background: #1d2430; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; }
#status { color: #b8c2d0; font-size: 0.9em; }
main, #login { padding: 0.5em 1.2em 2em; }
section { margin-top: 1em; }
h2 { font-size: 1.05em; margin: 0.8em 0 0.4em; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #e1e5ea; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
.state.online, .state.ok { color: #17803d; font-weight: 600; }
.state.offline, .state.failed, .state.refused, .state.undelivered, .state.notStarted { color: #b42318; font-weight: 600; }
.state.pending, .state.waiting { color: #9a6700; }
.facts { color: #57606a; font-size: 0.9em; }
pre { margin: 0; white-space: pre-wrap; font: 12px ui-monospace, monospace; }
form { display: flex; flex-wrap: wrap; gap: 0.8em; align-items: end; }
label { display: flex; flex-direction: column; font-size: 0.85em; gap: 0.2em; }
label.wide { flex: 1; }
input { font: inherit; padding: 0.3em 0.4em; }
button { font: inherit; padding: 0.35em 1.2em; }
.error { color: #b42318; }
#errors li { font: 12px ui-monospace, monospace; margin: 0.2em 0; }
)STYLE";

}  // namespace steward::input
