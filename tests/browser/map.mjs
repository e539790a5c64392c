// Drives GridMap's web map (GET /map) in Debian's headless chromium through playwright-core.
// Run by tests/tests/e2e/webmap.rs against a server with the demo city:
//
//   node map.mjs http://127.0.0.1:PORT screenshots/ PLAN_ID VIEWER_TOKEN PLANNER_TOKEN
//
// The server lets no anonymous client read (--anonymous-role none), so the pages are opened as
// /map#token=VIEWER_TOKEN, and one without the token must say what is missing.
//
// Checks that the page draws the grids, that a click on a grid shows its chain, that the layer
// switch hides and shows levels, and that a plan preview draws the proposed grids of plan
// PLAN_ID (made by the Rust test) or says plainly when a plan cannot be loaded, and that an
// open map reloads its tiles when that plan is applied (with PLANNER_TOKEN). Saves
// map.png and map-plan.png, and prints one JSON line (the clicked point and the panel's chain)
// for the Rust test to compare with GraphQL.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, screenshots, planId, token, plannerToken] = process.argv.slice(2);
if (!base || !screenshots || !planId || !token || !plannerToken) {
  console.error('usage: node map.mjs BASE_URL SCREENSHOT_DIR PLAN_ID VIEWER_TOKEN');
  process.exit(2);
}
const TIMEOUT = 20_000;

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** How many different units (by code) are drawn on a layer: tiles cut a unit into pieces. */
const rendered = (page, layer) =>
  page.evaluate((id) => new Set(window.gridmap.map.queryRenderedFeatures({ layers: [id] })
    .map((f) => f.properties.code)).size, layer);

const waitRendered = (page, layer, predicate) =>
  page.waitForFunction(
    ([id, p]) => new Function('n', `return ${p}`)(window.gridmap.map.queryRenderedFeatures({ layers: [id] }).length),
    [layer, predicate],
    { timeout: TIMEOUT },
  );

/** A point (page pixels) well inside a feature drawn on `layer`, with its properties. */
async function pointInside(page, layer) {
  return page.evaluate((layer) => {
    const { map } = window.gridmap;
    const canvas = map.getCanvas().getBoundingClientRect();
    const at = (x, y) => map.queryRenderedFeatures([x, y], { layers: [layer] })[0];
    // Scan from the middle outwards; keep a point whose neighbours 6 px away are the same grid.
    for (let r = 0; r < Math.min(canvas.width, canvas.height) / 2; r += 15) {
      for (const [dx, dy] of [[0, 0], [r, 0], [-r, 0], [0, r], [0, -r], [r, r], [-r, -r]]) {
        const x = canvas.width / 2 + dx;
        const y = canvas.height / 2 + dy;
        const here = at(x, y);
        if (!here) continue;
        const same = [[6, 0], [-6, 0], [0, 6], [0, -6]].every(([a, b]) => {
          const next = at(x + a, y + b);
          return next && next.properties.code === here.properties.code;
        });
        if (same) {
          const lngLat = map.unproject([x, y]);
          return { x: canvas.left + x, y: canvas.top + y, lon: lngLat.lng, lat: lngLat.lat, properties: here.properties };
        }
      }
    }
    return null;
  }, layer);
}

async function openMap(context, path) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  await page.goto(`${base}${path}#token=${token}`);
  await page.waitForSelector('#map[data-ready="true"]', { timeout: TIMEOUT });
  return { page, problems };
}

const profile = mkdtempSync(join(tmpdir(), 'gridmap-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // WebGL on the CPU (SwiftShader): chromium no longer falls back to it by itself
    '--enable-unsafe-swiftshader'],
});
try {
  // 1. The page draws the default system's grids, coloured by load.
  const { page, problems } = await openMap(context, '/map');
  const gridCount = await rendered(page, 'GRID-fill');
  check(gridCount > 0, 'grids are drawn');
  const legend = await page.textContent('#legend');
  check(/under 300/.test(legend) && /over 500/.test(legend), `the legend names the grid thresholds: ${legend}`);

  // 2. The layer switch: grids off, micro-grids on (zoomed in past their minimum zoom), back.
  await page.uncheck('#layers input[name="GRID"]');
  await waitRendered(page, 'GRID-fill', 'n === 0');
  await page.check('#layers input[name="MICRO_GRID"]');
  const view = await page.evaluate(() => ({ center: window.gridmap.map.getCenter(), zoom: window.gridmap.map.getZoom() }));
  await page.evaluate(() => window.gridmap.map.jumpTo({ zoom: Math.max(14.5, window.gridmap.map.getZoom()) }));
  await waitRendered(page, 'MICRO_GRID-fill', 'n > 0');
  await page.evaluate(() => window.gridmap.settled());
  const microCount = await rendered(page, 'MICRO_GRID-fill');
  await page.uncheck('#layers input[name="MICRO_GRID"]');
  await page.check('#layers input[name="GRID"]');
  await page.evaluate((v) => window.gridmap.map.jumpTo(v), view);
  await waitRendered(page, 'MICRO_GRID-fill', 'n === 0');
  await waitRendered(page, 'GRID-fill', 'n > 0');
  await page.evaluate(() => window.gridmap.settled());

  // 3. A click inside a grid shows its chain, deepest first, grid and community included.
  const target = await pointInside(page, 'GRID-fill');
  check(target, 'some grid is drawn large enough to click');
  await page.mouse.click(target.x, target.y);
  await page.waitForSelector('#chain:not([hidden]) tbody tr', { timeout: TIMEOUT });
  const chain = await page.$$eval('#chain tbody tr', (rows) =>
    rows.map((row) => {
      const [, unit, households, persons] = row.querySelectorAll('td');
      return {
        level: row.dataset.level, name: unit.firstChild.textContent, code: unit.querySelector('.code').textContent,
        households: Number(households.textContent), persons: Number(persons.textContent),
      };
    }));
  const panel = await page.textContent('#chain');
  check(panel.includes(target.properties.code) && panel.includes(target.properties.name),
    `the panel names the clicked grid ${target.properties.code} ${target.properties.name}: ${panel}`);
  check(chain.some((u) => u.level === 'COMMUNITY'), 'the chain reaches the community');
  await page.evaluate(() => window.gridmap.settled());
  await page.screenshot({ path: join(screenshots, 'map.png') });
  check(problems.length === 0, problems.join('\n'));

  // 4. A plan that cannot be loaded is said so plainly.
  const missing = await openMap(context, '/map?plan=999999999');
  await missing.page.waitForSelector('#map[data-plan="failed"]', { timeout: TIMEOUT });
  const message = await missing.page.textContent('#plan-message');
  check(/Could not load rebalance plan 999999999/.test(message), `the failure is explained: ${message}`);
  check((await rendered(missing.page, 'GRID-fill')) > 0, 'the current grids are still drawn');

  // 5. A plan preview: the proposed grids of a real plan outlined over the old ones.
  const planned = await (await fetch(`${base}/geojson/plans/${planId}`,
    { headers: { authorization: `Bearer ${token}` } })).json();
  check(planned.features.length > 0, `plan ${planId} has grids`);
  const plan = await openMap(context, `/map?plan=${planId}`);
  await plan.page.waitForSelector('#map[data-plan="loaded"]', { timeout: TIMEOUT });
  await plan.page.waitForFunction(() => ['kept', 'changed', 'new'].some((s) =>
    window.gridmap.map.queryRenderedFeatures({ layers: [`plan-${s}`] }).length > 0), null, { timeout: TIMEOUT });
  const summary = await plan.page.textContent('#plan-summary');
  check(summary.includes(`${planned.features.length} proposed grids`), `the plan is summarised: ${summary}`);
  const proposed = await pointInside(plan.page, 'plan-hit');
  check(proposed, 'some proposed grid is drawn large enough to click');
  await plan.page.mouse.click(proposed.x, proposed.y);
  await plan.page.waitForSelector('#chain:not([hidden]) tbody tr', { timeout: TIMEOUT });
  const about = await plan.page.textContent('#proposed');
  check(about.includes(`Proposed grid ${proposed.properties.code}`), `a click names the proposed grid: ${about}`);
  await plan.page.evaluate(() => window.gridmap.settled());
  await plan.page.screenshot({ path: join(screenshots, 'map-plan.png') });
  check(plan.problems.length === 0, plan.problems.join('\n'));

  // 6. Live updates: a plan applied elsewhere reaches the open map (gridSystemChanged), which
  // reloads its tiles.
  const graphql = (query, variables, bearer) => fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query, variables }),
  }).then((r) => r.json());
  const read = await graphql('query($id: ID!) { rebalancePlan(id: $id) { baseVersion } }', { id: planId }, token);
  const baseVersion = read.data.rebalancePlan.baseVersion;
  const live = await openMap(context, '/map');
  await live.page.waitForFunction(() => /the default/.test(document.getElementById('status').textContent),
    null, { timeout: TIMEOUT });
  await live.page.waitForTimeout(500); // the subscription opens after the start
  const applied = await graphql('mutation($plan: ID!, $version: Int!) { applyRebalancePlan(planId: $plan, expectedVersion: $version) { version } }',
    { plan: planId, version: baseVersion }, plannerToken);
  check(!applied.errors, `the plan applies: ${JSON.stringify(applied)}`);
  const version = String(applied.data.applyRebalancePlan.version);
  await live.page.waitForSelector(`#map[data-version="${version}"]`, { timeout: TIMEOUT });
  check(live.problems.length === 0, live.problems.join('\n'));

  // 7. Without the token, the page says what is missing.
  const anonymous = await context.newPage();
  await anonymous.goto(`${base}/map`);
  await anonymous.waitForFunction(() => /Could not start the map/.test(document.getElementById('status').textContent),
    null, { timeout: TIMEOUT });
  const status = await anonymous.textContent('#status');
  check(status.includes('/map#token='), `the page asks for a token: ${status}`);

  console.log(JSON.stringify({ lon: target.lon, lat: target.lat, grid: target.properties.code, gridCount, microCount, chain }));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
