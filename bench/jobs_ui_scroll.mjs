/**
 * Scroll the labrig jobs list top to bottom in headless Chromium and report frame timing.
 *
 * Driven by bench/bench_jobs_ui.py (which starts a server and seeds its jobs); prints one JSON
 * object. Two lists are scrolled the same way in the same page:
 *  - labrig: the panel's virtualised jobs list, fetching pages with page_token as it goes;
 *  - peer: the same jobs rendered in full (one <li> per job, the panel's row markup and CSS),
 *    as the list was before it was virtualised, in a box of the same size.
 *
 * usage: node bench/jobs_ui_scroll.mjs URL EXPECTED_JOBS [STEP_PX]
 */
import { chromium } from '@playwright/test';

const [url, expectedArg, stepArg] = process.argv.slice(2);
const expected = Number(expectedArg);
const step = Number(stepArg ?? 300);

/** In the page: rAF loop that scrolls `el` by `step` px a frame to the bottom. */
async function scrollAndMeasure(page, selector, stepPx) {
  return page.evaluate(
    async ({ selector, stepPx }) => {
      const el = document.querySelector(selector);
      const longTasks = [];
      const observer = new PerformanceObserver(list => {
        for (const entry of list.getEntries()) {
          longTasks.push(entry.duration);
        }
      });
      observer.observe({ entryTypes: ['longtask'] });
      const rowsInDom = () =>
        el.querySelectorAll('[data-testid="labrig-job"], .labrig-peer-row').length;
      const frames = [];
      const spikes = [];
      let maxRows = 0;
      let stalls = 0;
      const started = performance.now();
      await new Promise(resolve => {
        let last = performance.now();
        let lastTop = -1;
        const tick = now => {
          frames.push(now - last);
          if (now - last > 50 && frames.length > 1) {
            spikes.push({
              at_s: +((now - started) / 1000).toFixed(2),
              ms: +(now - last).toFixed(1),
              row: Math.floor(el.scrollTop / 44)
            });
          }
          last = now;
          maxRows = Math.max(maxRows, rowsInDom());
          const bottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 1;
          // The virtualised list ends with a "Loading more…" row until the last page is in.
          if (bottom && !el.querySelector('.labrig-VirtualList-more')) {
            resolve();
            return;
          }
          if (el.scrollTop === lastTop) {
            stalls++; // waiting at the end of the loaded rows for the next page
          }
          lastTop = el.scrollTop;
          el.scrollTop += stepPx;
          if (performance.now() - started > 600_000) {
            resolve();
            return;
          }
          requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      });
      observer.disconnect();
      const elapsed = performance.now() - started;
      const sorted = frames.slice(1).sort((a, b) => a - b);
      const pick = q => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      return {
        frames: sorted.length,
        seconds: elapsed / 1000,
        p50_ms: pick(0.5),
        p95_ms: pick(0.95),
        p99_ms: pick(0.99),
        max_ms: sorted[sorted.length - 1],
        over_50ms: sorted.filter(f => f > 50).length,
        long_tasks: longTasks.length,
        long_task_ms: longTasks.reduce((a, b) => a + b, 0),
        max_rows_in_dom: maxRows,
        stalled_frames: stalls,
        dom_nodes: el.querySelectorAll('*').length,
        spikes: spikes.slice(0, 20),
        rows_loaded: Number(
          el.querySelector('[aria-setsize]')?.getAttribute('aria-setsize') ??
            el.querySelectorAll('li').length
        )
      };
    },
    { selector, stepPx }
  );
}

const browser = await chromium.launch({
  executablePath: process.env.LABRIG_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run']
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(`${url}/lab?reset`);
await page.waitForSelector('#jupyterlab-splash', { state: 'detached', timeout: 120_000 });
const tab = page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="labrig-panel"]');
if (!(await page.locator('#labrig-panel').isVisible())) {
  await tab.click();
}
// Collapse the other sections so the Jobs section sits at the top, as a user would.
for (const id of ['resources', 'datasets', 'models']) {
  const toggle = page.locator(`[data-testid="labrig-section-${id}"] .labrig-Section-toggle`);
  if ((await toggle.getAttribute('aria-expanded')) === 'true') {
    await toggle.click();
  }
}
const list = '[data-testid="labrig-jobs-list"]';
await page.waitForSelector(`${list} [data-testid="labrig-job"]`, { timeout: 60_000 });

if (process.env.BENCH_SCREENSHOT) {
  await page.locator('#labrig-panel').screenshot({ path: process.env.BENCH_SCREENSHOT });
}
const mountStart = Date.now();
if (process.env.BENCH_TRACE) {
  // A Chromium performance trace of the labrig scroll, to find what a slow frame spent.
  await browser.startTracing(page, {
    path: process.env.BENCH_TRACE,
    categories: ['devtools.timeline', 'v8', 'disabled-by-default-v8.gc', 'blink.user_timing']
  });
}
const labrig = await scrollAndMeasure(page, list, step);
if (process.env.BENCH_TRACE) {
  await browser.stopTracing();
}
labrig.wall_s = (Date.now() - mountStart) / 1000;

// The peer: every job as a DOM row, in a box of the panel list's size, fed the jobs the panel
// fetched (read back from the server in pages of 500).
const build = await page.evaluate(async count => {
  const items = [];
  let token = null;
  do {
    const query = new URLSearchParams({ limit: '500' });
    if (token) {
      query.set('page_token', token);
    }
    const response = await fetch(`/labrig/api/v1/jobs?${query}`);
    const page = await response.json();
    items.push(...page.items);
    token = page.next_page_token;
  } while (token && items.length < count);
  const panelList = document.querySelector('[data-testid="labrig-jobs-list"]');
  const box = panelList.getBoundingClientRect();
  const host = document.createElement('div');
  host.id = 'labrig-peer';
  host.className = 'labrig-Panel';
  Object.assign(host.style, {
    position: 'fixed',
    left: `${box.left}px`,
    top: `${box.top}px`,
    width: `${box.width}px`,
    height: `${box.height}px`,
    overflowY: 'auto',
    zIndex: 10000,
    background: 'var(--jp-layout-color1)'
  });
  const started = performance.now();
  const ul = document.createElement('ul');
  ul.className = 'labrig-List';
  const escape = s => String(s).replace(/[&<>"]/g, c => `&#${c.charCodeAt(0)};`);
  ul.innerHTML = items
    .map(
      job => `<li class="labrig-Item labrig-peer-row" tabindex="0">
        <div class="labrig-Item-primary"><span class="labrig-Item-name">${escape(job.name)}</span>
        <span class="labrig-JobStatus labrig-JobStatus-${job.status.toLowerCase()}">${job.status.toLowerCase()}</span></div>
        <div class="labrig-Item-secondary"><span>${escape(job.notebook_path)}</span> · ${escape(job.created_at)}</div></li>`
    )
    .join('');
  host.appendChild(ul);
  document.body.appendChild(host);
  void host.scrollHeight; // force layout
  return { rows: items.length, build_ms: performance.now() - started };
}, expected);
const peer = await scrollAndMeasure(page, '#labrig-peer', step);
peer.build_and_layout_ms = build.build_ms;
peer.rows = build.rows;

await browser.close();
console.log(JSON.stringify({ labrig, peer, step_px: step }));
