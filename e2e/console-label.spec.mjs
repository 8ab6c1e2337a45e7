// The shipping label at the counter in Chromium (issue 15 acceptance 2;
// C19, C23), run by crates/anshin/tests/api/console_labels.rs:
//   node e2e/console-label.spec.mjs <https://console> <ja|en> <staff cookie name=value>
// ANSHIN_CATALOG: { code, fields: [every form of the recipient's and the
// sender's fields], flash_accepted, title }.
// A worker already on shift (checked in by the test from this session):
// 1. opens the counter page, types the drop-off code, submits;
// 2. lands on the label page, which says the parcel was accepted; the
//    label image loads (832 × 1184);
// 3. the page's text and its DOM hold none of the fields;
// 4. every response of the console other than the label image (pages,
//    redirects, scripts, styles) holds none of the fields;
// 5. select-all + copy (keyboard, and script selection + execCommand)
//    leaves the clipboard as it was;
// 6. at 360 px and 1280 px: no sideways scroll, one h1, axe-core.
// Prints one JSON line on success (with the number of label image
// loads, which the test compares with the audit log); exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [base, lang, cookie] = process.argv.slice(2);
if (!base || !['ja', 'en'].includes(lang) || !cookie || !cookie.includes('=')) {
  console.error('usage: node e2e/console-label.spec.mjs <https://console> <ja|en> <cookie name=value>');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
const words = JSON.parse(process.env.ANSHIN_CATALOG || '{}');
const fields = words.fields || [];
if (fields.length === 0 || !words.code) {
  console.error('ANSHIN_CATALOG needs code and fields');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`chromium not found at ${executablePath}: run scripts/setup --test`);
  process.exit(2);
}

const problems = [];
const checks = [];
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic'],
});
const context = await browser.newContext({
  ignoreHTTPSErrors: true,
  locale: lang === 'ja' ? 'ja-JP' : 'en-US',
  viewport: { width: 1280, height: 800 },
  permissions: ['clipboard-read', 'clipboard-write'],
});
const eq = cookie.indexOf('=');
await context.addCookies([{
  name: cookie.slice(0, eq),
  value: cookie.slice(eq + 1),
  url: `${base}/`,
  secure: true,
  httpOnly: true,
  sameSite: 'Strict',
}]);
const page = await context.newPage();
page.on('console', (msg) => {
  if (msg.type() === 'error') problems.push(`console error on ${page.url()}: ${msg.text()}`);
});
page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));

// Every console response, with its body (redirects have none).
const responses = [];
page.on('response', (res) => {
  if (!res.url().startsWith(base)) return;
  responses.push((async () => {
    let body = Buffer.alloc(0);
    if (res.status() < 300 || res.status() >= 400) body = await res.body().catch(() => Buffer.alloc(0));
    return { url: res.url(), status: res.status(), type: res.headers()['content-type'] || '', cache: res.headers()['cache-control'], body };
  })());
});

async function visit(name) {
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    const where = `${name} @${width}px`;
    const facts = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      h1: document.querySelectorAll('h1').length,
      lang: document.documentElement.lang,
    }));
    if (facts.scrollWidth > facts.innerWidth) problems.push(`${where}: scrolls sideways`);
    if (facts.h1 !== 1) problems.push(`${where}: ${facts.h1} h1 elements`);
    if (facts.lang !== lang) problems.push(`${where}: html lang="${facts.lang}"`);
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations) {
      if (v.impact === 'serious' || v.impact === 'critical') {
        problems.push(`${where}: axe ${v.impact} ${v.id}: ${v.help}`);
      }
    }
    checks.push({ page: name, width });
    if (process.env.ANSHIN_SCREENSHOTS) {
      const file = `console-label-${lang}-${name.replace(/[^a-z0-9]+/gi, '-')}-${width}.png`;
      await page.screenshot({ path: join(process.env.ANSHIN_SCREENSHOTS, file), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

const SENTINEL = 'clipboard-before-copy';
const setClipboard = (text) => page.evaluate((t) => navigator.clipboard.writeText(t), text);
const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
const mod = process.platform === 'darwin' ? 'Meta' : 'Control';

function holdsField(text) {
  return fields.filter((f) => text.includes(f));
}

try {
  // 1. The counter: type the code, submit.
  await page.goto(`${base}/shipping/accept`);
  await visit('counter');
  await page.fill('main input[name=code]', words.code);
  await Promise.all([
    page.waitForURL(/\/shipping\/labels\/[0-9a-f-]{36}$/),
    page.locator('#accept-submit').click(),
  ]);

  // 2. The label page: the flash, the image.
  await page.waitForFunction(() => {
    const i = document.querySelector('.label-sheet img');
    return i && i.complete && i.naturalWidth > 0;
  });
  const img = await page.evaluate(() => {
    const i = document.querySelector('.label-sheet img');
    return { w: i.naturalWidth, h: i.naturalHeight, src: i.getAttribute('src') };
  });
  if (img.w !== 832 || img.h !== 1184) problems.push(`the label image did not load: ${JSON.stringify(img)}`);
  const text = (await page.locator('body').innerText()) || '';
  if (words.flash_accepted && !text.includes(words.flash_accepted)) problems.push('the label page does not say the parcel was accepted');
  checks.push({ label: img.src });

  // 3. Text and DOM.
  const dom = await page.evaluate(() => document.documentElement.outerHTML);
  if (holdsField(text).length) problems.push(`the page's text holds a field (${holdsField(text).length})`);
  if (holdsField(dom).length) problems.push(`the DOM holds a field (${holdsField(dom).length})`);

  // 5. Select-all + copy: nothing copied.
  await setClipboard(SENTINEL);
  await page.locator('main h1').click();
  await page.keyboard.press(`${mod}+A`);
  await page.keyboard.press(`${mod}+C`);
  await page.evaluate(() => {
    const r = document.createRange();
    r.selectNodeContents(document.body);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(r);
    document.execCommand('copy');
  });
  const got = await clipboard();
  if (got !== SENTINEL) problems.push(`the clipboard changed to "${got.slice(0, 60)}"`);
  if (holdsField(got).length) problems.push('the clipboard holds a field');

  // 6. Both widths, screenshots. (The image is not fetched again.)
  await visit('label page');

  // 4. Every response but the label image.
  const all = await Promise.all(responses);
  let imageLoads = 0;
  for (const r of all) {
    if (r.cache !== 'no-store') problems.push(`${r.url}: Cache-Control "${r.cache}"`);
    if (/\/shipping\/labels\/[0-9a-f-]{36}\/image$/.test(r.url)) {
      if (r.status === 200 && r.type === 'image/png') imageLoads += 1;
      else problems.push(`the label image answered ${r.status} ${r.type}`);
      continue;
    }
    const body = r.body.toString('utf8');
    const found = holdsField(body);
    if (found.length) problems.push(`${r.url} holds ${found.length} field(s)`);
  }
  if (imageLoads < 1) problems.push('the label image was never loaded');
  checks.push({ responses: all.length, imageLoads });
  console.log(JSON.stringify({ ok: problems.length === 0, checks: checks.length, responses: all.length, image_loads: imageLoads }));
} catch (e) {
  problems.push(`journey step failed: ${e.stack || e.message}`);
} finally {
  await browser.close();
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
