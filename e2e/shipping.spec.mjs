// Anonymous shipping, the members' side (issue 15 part A, C19), run by
// crates/anshin/tests/api/journeys.rs in two phases:
//   node e2e/shipping.spec.mjs <https://site> <ja|en> seller <session cookie> <order id>
//   node e2e/shipping.spec.mjs <https://site> <ja|en> buyer  <session cookie> <order id>
// seller: the sale's page shows the drop-off code (text and a QR image
// that loads), the parcel size rules and the status; the seller chooses
// the sender address (the page says so after); the shop page has the
// shipping settings, saved with a flash.
// buyer: the order's page shows the seller by display name, the status
// and the tracking timeline the test recorded, and no drop-off code.
// Every page at 360 px and 1280 px: axe-core (serious/critical), no
// sideways scroll, one h1, the page's language, no console error or CSP
// violation. ANSHIN_SCREENSHOTS=DIR keeps a full-page screenshot at 360
// px. Words come from ANSHIN_CATALOG (JSON). Prints one JSON line on
// success; exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [base, lang, phase, cookie, order] = process.argv.slice(2);
if (!base || !['ja', 'en'].includes(lang) || !['seller', 'buyer'].includes(phase) || !cookie || !order) {
  console.error('usage: node e2e/shipping.spec.mjs <https://site> <ja|en> <seller|buyer> <cookie> <order id>');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
const words = JSON.parse(process.env.ANSHIN_CATALOG || '{}');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`chromium not found at ${executablePath}: run scripts/setup --test`);
  process.exit(2);
}
const screenshots = process.env.ANSHIN_SCREENSHOTS;
const problems = [];
const checks = [];
const WIDTHS = [360, 1280];
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic'],
});
const context = await browser.newContext({
  ignoreHTTPSErrors: true,
  locale: lang === 'ja' ? 'ja-JP' : 'en-US',
  viewport: { width: 360, height: 800 },
});
const [name, ...rest] = cookie.split('=');
await context.addCookies([{ name, value: rest.join('='), url: base, secure: true, httpOnly: true, sameSite: 'Lax' }]);
await context.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (e) => {
    console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
  });
});
const page = await context.newPage();
page.on('console', (msg) => {
  if (msg.type() === 'error') problems.push(`console error on ${page.url()}: ${msg.text()}`);
});
page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));

let pages = 0;
async function visit(label) {
  pages += 1;
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    const where = `${label} @${width}px (${new URL(page.url()).pathname})`;
    const facts = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      h1: document.querySelectorAll('h1').length,
      lang: document.documentElement.lang,
    }));
    if (facts.scrollWidth > facts.innerWidth) problems.push(`${where}: scrolls sideways (${facts.scrollWidth} > ${facts.innerWidth})`);
    if (facts.h1 !== 1) problems.push(`${where}: ${facts.h1} h1 elements`);
    if (facts.lang !== lang) problems.push(`${where}: html lang="${facts.lang}"`);
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations) {
      if (v.impact === 'serious' || v.impact === 'critical') {
        const targets = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ');
        problems.push(`${where}: axe ${v.impact} ${v.id}: ${v.help} [${targets}]`);
      }
    }
    checks.push({ page: label, width, violations: result.violations.length });
    if (screenshots && width === 360) {
      const file = `shipping-${lang}-${phase}-${String(pages).padStart(2, '0')}-${label.replace(/[^a-z0-9]+/gi, '-')}.png`;
      await page.screenshot({ path: join(screenshots, file), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 360, height: 800 });
}

async function text(selector) {
  return (await page.locator(selector).allTextContents()).join(' ');
}

async function expectFlash(code) {
  const want = words.flash?.[code];
  const got = await text('[role=status]');
  if (!want || !got.includes(want)) problems.push(`after ${code} on ${page.url()}: flash "${got}", want "${want}"`);
}

async function submit(selector) {
  await Promise.all([page.waitForNavigation(), page.locator(selector).first().click()]);
}

try {
  if (phase === 'seller') {
    await page.goto(`${base}/sales/${order}`);
    await visit('sale');
    const code = (await text('#dropoff-code')).trim();
    if (!/^[2-9A-Y]{4}-[2-9A-Y]{4}-[2-9A-Y]{3}$/.test(code)) problems.push(`drop-off code "${code}"`);
    const qrWidth = await page.locator('img.dropoff-qr').evaluate((img) => img.naturalWidth);
    if (!(qrWidth > 100)) problems.push(`the QR image did not load (${qrWidth})`);
    for (const w of [words.dropoff_title, words.sizes_title, words.status_awaiting_dropoff, words.buyer_name]) {
      if (!(await text('main')).includes(w)) problems.push(`sale page lacks "${w}"`);
    }
    // Choose the sender address for this parcel.
    await submit('form[action$="/sender"] button[type=submit]');
    await expectFlash('sender_chosen');
    await visit('sender chosen');
    if (!(await text('main')).includes(words.sender_set)) problems.push('no word that the sender is set');
    // The shop's shipping settings.
    await page.goto(`${base}/shop/manage`);
    if (!(await page.locator('#f-anonymous').isChecked())) problems.push('anonymous shipping is not on by default');
    await visit('shop settings');
    await submit('form[action="/shop/manage/shipping"] button[type=submit]');
    await expectFlash('shipping_saved');
    console.log(JSON.stringify({ phase, pages, checks: checks.length, code }));
  } else {
    await page.goto(`${base}/orders/${order}`);
    await visit('order');
    const main = await text('main');
    for (const w of [words.seller_name, words.status_in_transit, words.event_accepted, words.event_in_transit]) {
      if (!main.includes(w)) problems.push(`order page lacks "${w}"`);
    }
    if ((await page.locator('#dropoff-code').count()) !== 0) problems.push('the buyer sees a drop-off code');
    const lines = await page.locator('#timeline li').count();
    if (lines !== 2) problems.push(`timeline has ${lines} lines, want 2`);
    console.log(JSON.stringify({ phase, pages, checks: checks.length, lines }));
  }
} catch (e) {
  problems.push(`journey stopped: ${e.stack || e}`);
}
await browser.close();
if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
