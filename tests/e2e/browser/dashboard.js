// The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core,
// signs in through the login form and checks what the page shows of a running cluster.
// tests/e2e/jobs.sh runs it against its cluster; it prints "PASS name" or "FAIL name: why" per
// check (the suite counts them) and keeps a screenshot.
//
// Environment: DASHBOARD_URL, RAY_TOKEN, SCREENSHOT (the PNG to write), RELEASE_FILE (written to
// end the held job), and what the cluster holds: NODE_IPS (space-separated), DONE_JOB and its
// LOG_LINE, HELD_JOB (RUNNING, holding HELD_BYTES in the head's store until RELEASE_FILE
// exists), ACTOR (alive), DEAD_ACTOR, GROUP (a PACK group), FUNC (a task that finished).
"use strict";

const fs = require("fs");
const { chromium } = require("playwright-core");

const env = process.env;
const base = env.DASHBOARD_URL.replace(/\/$/, "");
let failures = 0;

function pass(name) {
  console.log("PASS " + name);
}
function fail(name, why) {
  failures++;
  console.log("FAIL " + name + ": " + String(why).replace(/\s+/g, " ").slice(0, 600));
}

// check runs one check: f passes, or throws why it did not.
async function check(name, f) {
  try {
    await f();
    pass(name);
  } catch (e) {
    fail(name, e && e.message ? e.message : e);
  }
}

function expect(cond, why) {
  if (!cond) throw new Error(why);
}

// rowText waits (up to ms) for the row of table whose data attribute attr is value to contain
// every one of wants, and returns its text.
async function rowText(page, table, attr, value, wants, ms = 15000) {
  const sel = `#${table} tbody tr[data-${attr}="${value}"]`;
  try {
    await page.waitForFunction(
      ([sel, wants]) => {
        const r = document.querySelector(sel);
        return r && wants.every((w) => r.textContent.includes(w));
      },
      [sel, wants],
      { timeout: ms },
    );
  } catch (e) {
    const body = await page.locator(`#${table} tbody`).textContent().catch(() => "(no table)");
    throw new Error(`no row ${attr}=${value} with ${JSON.stringify(wants)} in #${table}: ${body}`);
  }
  return page.locator(sel).textContent();
}

async function main() {
  const browser = await chromium.launch({ executablePath: env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const scriptErrors = [];
  page.on("pageerror", (e) => scriptErrors.push(e.message));
  page.on("console", (m) => {
    // (the wrong token's 403 is the one error the browser logs that is no fault of the page)
    if (m.type() === "error" && !m.text().includes("403 (Forbidden)")) scriptErrors.push(m.text());
  });
  const tokenCookie = async () => (await context.cookies(base)).find((c) => c.name === "ray-authentication-token");

  try {
    await check("the dashboard sends a browser without the token to its login form", async () => {
      await page.goto(base + "/");
      expect(page.url() === base + "/login", "at " + page.url());
      await page.locator("#token").waitFor({ timeout: 5000 });
      expect((await page.locator("table").count()) === 0, "the form shows tables");
    });

    await check("a wrong token at the login form is refused and sets no cookie", async () => {
      await page.fill("#token", "not-the-token");
      await Promise.all([page.waitForNavigation(), page.click("#sign-in")]);
      const msg = await page.locator("#login-error").textContent();
      expect(msg.includes("Wrong token"), "message " + msg);
      expect(!(await tokenCookie()), "a cookie was set");
    });

    await check("the right token signs in: the page shows the cluster", async () => {
      await page.fill("#token", env.RAY_TOKEN);
      await Promise.all([page.waitForURL(base + "/"), page.click("#sign-in")]);
      await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, null, { timeout: 20000 });
    });

    await check("the token is in an HttpOnly, SameSite=Strict cookie that no script of the page reads", async () => {
      const c = await tokenCookie();
      expect(c, "no cookie");
      expect(c.httpOnly && c.sameSite === "Strict" && c.value === env.RAY_TOKEN, JSON.stringify({ ...c, value: "..." }));
      const seen = await page.evaluate(() => document.cookie);
      expect(!seen.includes(env.RAY_TOKEN.slice(0, 8)), "document.cookie holds it");
    });

    await check("the page shows the nodes, alive, with their IPs and resources", async () => {
      const ips = env.NODE_IPS.split(" ");
      for (const ip of ips) {
        await page.waitForFunction(
          (ip) => [...document.querySelectorAll("#nodes tbody tr")].some((r) => r.children[1].textContent === ip && r.textContent.includes("ALIVE") && r.textContent.includes("CPU")),
          ip, { timeout: 15000 },
        ).catch(async () => { throw new Error(`no alive node ${ip}: ` + (await page.locator("#nodes tbody").textContent())); });
      }
      const rows = await page.locator("#nodes tbody tr").count();
      const summary = await page.locator("#summary-nodes").textContent();
      expect(rows === ips.length && summary === ips.length + " alive", `${rows} rows, summary "${summary}"`);
    });

    await check("the page shows the object store's use: the held object in the head's store", async () => {
      const want = Number(env.HELD_BYTES);
      await page.waitForFunction(
        (want) => [...document.querySelectorAll("#nodes td.store")].some((c) => Number(c.dataset.used) >= want),
        want, { timeout: 15000 },
      ).catch(async () => { throw new Error("stores: " + (await page.locator("#nodes tbody").textContent())); });
      const total = await page.locator("#summary-store").textContent();
      expect(/MiB \/ /.test(total), "the summary says " + total);
    });

    await check("the page shows the jobs and their states", async () => {
      await rowText(page, "jobs", "job", env.DONE_JOB, ["SUCCEEDED"]);
      await rowText(page, "jobs", "job", env.HELD_JOB, ["RUNNING"]);
    });

    await check("a click on a job shows its logs", async () => {
      await page.click(`#jobs tbody tr[data-job="${env.DONE_JOB}"]`);
      await page.waitForFunction(
        (line) => document.getElementById("job-logs-text").textContent.includes(line),
        env.LOG_LINE, { timeout: 10000 },
      ).catch(async () => { throw new Error("logs: " + (await page.locator("#job-logs").textContent())); });
    });

    await check("the page counts the tasks by function and state", async () => {
      await rowText(page, "tasks", "func", env.FUNC, ["FINISHED"]);
      const totals = await page.locator("#task-totals").textContent();
      expect(/^[1-9][0-9]* tasks: .*FINISHED: [1-9]/.test(totals), "totals " + totals);
    });

    await check("the page shows the actors, alive and dead", async () => {
      await rowText(page, "actors", "actor", env.ACTOR, ["ALIVE"]);
      await rowText(page, "actors", "actor", env.DEAD_ACTOR, ["DEAD"]);
    });

    await check("the page shows the placement groups", async () => {
      await rowText(page, "placement-groups", "group", env.GROUP, ["CREATED", "PACK", "CPU 1"]);
    });

    await page.screenshot({ path: env.SCREENSHOT, fullPage: true });

    await check("the page refreshes itself: the released job turns SUCCEEDED without a reload", async () => {
      fs.writeFileSync(env.RELEASE_FILE, "go\n");
      await rowText(page, "jobs", "job", env.HELD_JOB, ["SUCCEEDED"], 30000);
    });

    await check("the page ran without script errors (its policy allows only its own script)", async () => {
      expect(scriptErrors.length === 0, scriptErrors.join("; "));
    });

    await check("sign out forgets the cookie: the page asks for the token again", async () => {
      await Promise.all([page.waitForURL(base + "/login"), page.click("#sign-out")]);
      expect(!(await tokenCookie()), "the cookie is still there");
      await page.goto(base + "/");
      expect(page.url() === base + "/login", "at " + page.url());
    });
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(failures ? 1 : 0),
  (e) => {
    fail("the browser ran", e && e.stack ? e.stack : e);
    process.exit(1);
  },
);
