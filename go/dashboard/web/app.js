// The dashboard page's script: every two seconds it reads the cluster from the head's closed API
// (the browser sends the token's cookie) and redraws the tables. Every value from the cluster is
// set as text, never as HTML.
"use strict";

const refreshMs = 2000;
let selectedJob = null;

// get fetches a path of the API as JSON; a refusal sends the browser to the login form.
async function get(path) {
  const rep = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (rep.status === 401 || rep.status === 403) {
    window.location.assign("/login");
    throw new Error("signed out");
  }
  if (!rep.ok) {
    throw new Error(path + ": " + rep.status + " " + (await rep.text()).trim());
  }
  return rep.json();
}

// listOf reads the records of a reply of Ray's state API.
async function listOf(kind) {
  const rep = await get("/api/v0/" + kind + "?limit=10000");
  return rep.data.result.result;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el("td", c));
  return tr;
}

function stateCell(state) {
  return el("td", state, "state state-" + state);
}

function idCell(id) {
  return el("td", id || "", "id");
}

function fill(tableId, rows) {
  const body = document.querySelector("#" + tableId + " tbody");
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = row([el("td", "none", "muted")]);
    tr.firstChild.colSpan = document.querySelectorAll("#" + tableId + " thead th").length;
    body.appendChild(tr);
  }
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function num(x) {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

function bar(used, total) {
  const b = el("span", null, "bar");
  const fillPart = el("span");
  fillPart.style.width = (total > 0 ? Math.min(100, (100 * used) / total) : 0) + "%";
  b.appendChild(fillPart);
  return b;
}

// resourcesText is a node's resources as "CPU 1/2, GPU 0/1, memory ...": in use of total, the
// object store and the nodes' own resources left out.
function resourcesText(total, avail) {
  const parts = [];
  for (const name of Object.keys(total || {}).sort()) {
    if (name === "object_store_memory" || name.startsWith("node:") || name.includes("_group_")) continue;
    const t = total[name];
    const used = avail && name in avail ? t - avail[name] : avail ? t : 0;
    if (name === "memory") parts.push("memory " + bytes(used) + "/" + bytes(t));
    else parts.push(name + " " + num(used) + "/" + num(t));
  }
  return parts.join(", ");
}

function time(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "";
}

function drawNodes(nodes) {
  let alive = 0, cpuUsed = 0, cpuTotal = 0, storeUsed = 0, storeTotal = 0;
  const rows = nodes.map((n) => {
    if (n.state === "ALIVE") {
      alive++;
      const t = (n.resources_total || {}).CPU || 0;
      const a = (n.resources_available || {}).CPU;
      cpuTotal += t;
      cpuUsed += a === undefined ? t : t - a;
      storeUsed += n.object_store_used_memory || 0;
      storeTotal += n.object_store_total_memory || 0;
    }
    const store = el("td");
    store.className = "store";
    store.dataset.used = String(n.object_store_used_memory || 0);
    if (n.state === "ALIVE") {
      store.appendChild(bar(n.object_store_used_memory, n.object_store_total_memory));
      store.appendChild(document.createTextNode(bytes(n.object_store_used_memory) + " / " + bytes(n.object_store_total_memory)));
    }
    const tr = row([idCell(n.node_id), n.node_ip, n.is_head_node ? "yes" : "", stateCell(n.state),
      el("td", n.state === "ALIVE" ? resourcesText(n.resources_total, n.resources_available) : n.state_message || ""), store]);
    tr.dataset.nodeId = n.node_id;
    return tr;
  });
  fill("nodes", rows);
  const dead = nodes.length - alive;
  document.getElementById("summary-nodes").textContent = alive + " alive" + (dead ? ", " + dead + " dead" : "");
  document.getElementById("summary-cpus").textContent = num(cpuUsed) + " / " + num(cpuTotal);
  document.getElementById("summary-store").textContent = bytes(storeUsed) + " / " + bytes(storeTotal);
}

function drawJobs(jobs) {
  jobs.sort((a, b) => (b.start_time || 0) - (a.start_time || 0));
  let running = 0;
  const rows = jobs.map((j) => {
    if (j.status === "RUNNING" || j.status === "PENDING") running++;
    const id = j.submission_id || j.job_id;
    const tr = row([el("td", id, "id"), stateCell(j.status), el("td", j.entrypoint, "id"), time(j.start_time), time(j.end_time),
      el("td", (j.message || "").split("\n")[0])]);
    if (j.type !== "SUBMISSION") return tr; // (a driver that joined on its own: no job log)
    tr.className = "clickable" + (id === selectedJob ? " selected" : "");
    tr.dataset.job = id;
    tr.addEventListener("click", () => {
      selectedJob = id;
      drawLogs();
      for (const other of document.querySelectorAll("#jobs tbody tr")) {
        other.classList.toggle("selected", other.dataset.job === id);
      }
    });
    return tr;
  });
  fill("jobs", rows);
  document.getElementById("summary-jobs").textContent = String(running);
}

async function drawLogs() {
  if (!selectedJob) return;
  const id = selectedJob;
  const rep = await get("/api/jobs/" + encodeURIComponent(id) + "/logs");
  if (id !== selectedJob) return;
  document.getElementById("job-logs").hidden = false;
  document.getElementById("job-logs-id").textContent = id;
  const pre = document.getElementById("job-logs-text");
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent = rep.logs || "(no output yet)";
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

function countsText(counts) {
  return Object.keys(counts).sort().map((k) => k + ": " + counts[k]).join(", ");
}

function drawTasks(summary) {
  const cluster = summary.data.result.result.node_id_to_summary.cluster;
  const groups = Object.values(cluster.summary);
  groups.sort((a, b) => a.func_or_class_name.localeCompare(b.func_or_class_name));
  const byState = {};
  for (const g of groups) {
    for (const [s, n] of Object.entries(g.state_counts)) byState[s] = (byState[s] || 0) + n;
  }
  fill("tasks", groups.map((g) => {
    const tr = row([el("td", g.func_or_class_name, "id"), g.type, countsText(g.state_counts)]);
    tr.dataset.func = g.func_or_class_name;
    return tr;
  }));
  document.getElementById("task-totals").textContent = cluster.total + " tasks" + (cluster.total ? ": " + countsText(byState) : "");
}

function drawActors(actors) {
  const byState = {};
  for (const a of actors) byState[a.state] = (byState[a.state] || 0) + 1;
  actors.sort((a, b) => (a.state === "ALIVE" ? 0 : 1) - (b.state === "ALIVE" ? 0 : 1) || a.class_name.localeCompare(b.class_name));
  fill("actors", actors.map((a) => {
    const tr = row([idCell(a.actor_id), a.class_name, a.name, stateCell(a.state), idCell(a.node_id), a.pid || "", a.num_restarts]);
    tr.dataset.actor = a.name || a.actor_id;
    return tr;
  }));
  document.getElementById("summary-actors").textContent = String(byState.ALIVE || 0);
  document.getElementById("actor-totals").textContent = actors.length + " actors" + (actors.length ? ": " + countsText(byState) : "");
}

function drawGroups(groups) {
  fill("placement-groups", groups.map((g) => {
    const bundles = (g.bundles || []).map((b) => {
      const res = Object.keys(b.unit_resources).sort().map((k) => k + " " + num(b.unit_resources[k])).join(", ");
      return "{" + res + "}" + (b.node_id ? " on " + b.node_id : "");
    }).join("; ");
    const tr = row([idCell(g.placement_group_id), g.name, stateCell(g.state), g.strategy, el("td", bundles)]);
    tr.dataset.group = g.name || g.placement_group_id;
    return tr;
  }));
}

async function refresh() {
  const problem = document.getElementById("problem");
  try {
    const [nodes, jobs, tasks, actors, groups] = await Promise.all([
      listOf("nodes"), get("/api/jobs/"), get("/api/v0/tasks/summarize"), listOf("actors"), listOf("placement_groups"),
    ]);
    drawNodes(nodes);
    drawJobs(jobs);
    drawTasks(tasks);
    drawActors(actors);
    drawGroups(groups);
    await drawLogs();
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
    problem.hidden = true;
  } catch (e) {
    problem.textContent = "could not read the cluster: " + e.message;
    problem.hidden = false;
  } finally {
    setTimeout(refresh, refreshMs);
  }
}

refresh();
