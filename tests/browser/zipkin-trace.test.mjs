// The demo's traces in the real Zipkin UI, in a real browser: Debian's Chromium driven by
// playwright-core. Run by scripts/test.sh after it ran the demo:
//
//   ZIPKIN_URL=http://127.0.0.1:9411 DEMO_TRACE_IDS=<id>,<id> DEMO_TRACE_FILES=<trace-<id>.json>,... \
//     node --test tests/browser/
//
// DEMO_TRACE_IDS are traces the demo sent to that Zipkin; DEMO_TRACE_FILES are files the demo
// wrote without Zipkin, which the UI's "Upload JSON" button must load. Screenshots go to
// SCREENSHOT_DIR (default target/browser).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const zipkin = (process.env.ZIPKIN_URL || 'http://127.0.0.1:9411').replace(/\/+$/, '');
const list = (v) => (v || '').split(',').map((s) => s.trim()).filter(Boolean);
const traceIds = list(process.env.DEMO_TRACE_IDS);
const traceFiles = list(process.env.DEMO_TRACE_FILES);
const shots = resolve(process.env.SCREENSHOT_DIR || join(here, '..', '..', 'target', 'browser'));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

// The rows the UI must draw for one demo trace, in tree order ("service: span").
const ROWS = [
  'webapp: index',
  'webapp: do_stuff',
  'service1: index_service1',
  'service1: service1_do_stuff',
];

let context;
let profile;

before(async () => {
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath} (apt-get install chromium)`);
  mkdirSync(shots, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'zipkin-rs-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 520 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

// Waits for the trace page to render and reads what it shows.
async function readTracePage(page, id) {
  await page.getByText('Total Spans', { exact: true }).waitFor({ timeout: 30_000 });
  // The span rows draw after the header; wait for the deepest one.
  await page.getByText(ROWS[3], { exact: true }).first().waitFor({ timeout: 30_000 });
  const text = await page.locator('body').innerText();
  const number = (label) => {
    const m = text.match(new RegExp(`${label}\\s+(\\d+)`));
    assert.ok(m, `no "${label}" on the trace page of ${id}:\n${text}`);
    return Number(m[1]);
  };
  const labels = await page.getByText(/^(webapp|service1): \S+$/).allInnerTexts();
  return { text, totalSpans: number('Total Spans'), services: number('Services'), labels };
}

function checkDemoTrace(id, seen) {
  assert.equal(seen.totalSpans, 4, `Total Spans of ${id}`);
  assert.equal(seen.services, 2, `Services of ${id}`);
  assert.ok(seen.text.includes(id), `the page names trace ${id}`);
  // The page title repeats the root ("webapp: index"); then one row per span, in tree order.
  assert.deepEqual(seen.labels.slice(-4), ROWS, `rows of ${id}: ${seen.labels}`);
  assert.equal(seen.labels.length, 5, `labels of ${id}: ${seen.labels}`);
}

test('the demo sent at least one trace to check', () => {
  assert.ok(traceIds.length > 0, 'DEMO_TRACE_IDS is empty: run the demo against Zipkin first');
});

for (const id of traceIds) {
  test(`trace ${id} renders in the Zipkin UI with 4 spans from webapp and service1`, async () => {
    const page = await context.newPage();
    try {
      const url = `${zipkin}/zipkin/traces/${id}`;
      const response = await page.goto(url);
      assert.equal(response.status(), 200, url);
      checkDemoTrace(id, await readTracePage(page, id));
      await page.screenshot({ path: join(shots, `zipkin-trace-${id}.png`) });
    } finally {
      await page.close();
    }
  });
}

for (const file of traceFiles) {
  test(`${file} loads with the UI's "Upload JSON" button`, async () => {
    const id = file.match(/trace-([0-9a-f]+)\.json$/)?.[1];
    assert.ok(id, `${file} is not a trace-<id>.json file`);
    const page = await context.newPage();
    try {
      await page.goto(`${zipkin}/zipkin/`);
      const upload = page.locator('button:has(svg[data-icon=upload])');
      await upload.hover();
      await page.getByRole('tooltip', { name: 'Upload JSON' }).waitFor({ timeout: 10_000 });
      await page.locator('input[type=file]').setInputFiles(file);
      checkDemoTrace(id, await readTracePage(page, id));
      await page.screenshot({ path: join(shots, `uploaded-trace-${id}.png`) });
    } finally {
      await page.close();
    }
  });
}
