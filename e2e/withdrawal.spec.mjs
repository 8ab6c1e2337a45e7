// Withdrawal (issue 16, C18), the member's side, run by
// crates/anshin/tests/api/withdrawal.rs:
//   node e2e/withdrawal.spec.mjs <https://site> <ja|en> <session cookie>
// From the account page the member follows the link to leave; the page
// says what goes and what stays and asks before destroying (the button
// does nothing until the box is ticked); ticked, the account is deleted
// and the home page says so; the account page then asks for a login.
// Every page at 360 px and 1280 px: axe-core (serious/critical), no
// sideways scroll, one h1, the page's language, no console error or CSP
// violation. ANSHIN_SCREENSHOTS=DIR keeps a full-page screenshot at 360
// px. Words come from ANSHIN_CATALOG (JSON). Prints one JSON line on
// success; exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [base, lang, cookie] = process.argv.slice(2);
if (!base || !['ja', 'en'].includes(lang) || !cookie) {
  console.error('usage: node e2e/withdrawal.spec.mjs <https://site> <ja|en> <session cookie>');
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
      const file = `withdrawal-${lang}-${String(pages).padStart(2, '0')}-${label.replace(/[^a-z0-9]+/gi, '-')}.png`;
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
  await page.goto(`${base}/account`);
  await visit('account');
  await submit('a[href="/account/withdraw"]');
  await visit('withdraw');
  const main = await text('main');
  for (const w of [words.withdraw_lead, words.withdraw_kept, words.withdraw_email_free]) {
    if (!main.includes(w)) problems.push(`withdraw page lacks "${w}"`);
  }
  // Not ticked: the browser keeps the form (nothing is deleted).
  await page.locator('form[action="/account/withdraw"] button[type=submit]').click();
  await page.waitForTimeout(300);
  if (new URL(page.url()).pathname !== '/account/withdraw') problems.push(`unticked, the form went to ${page.url()}`);
  await page.locator('input[name=confirm]').check();
  await submit('form[action="/account/withdraw"] button[type=submit]');
  if (new URL(page.url()).pathname !== '/') problems.push(`after leaving: ${page.url()}`);
  await expectFlash('withdrawn');
  await visit('after leaving');
  await page.goto(`${base}/account`);
  const after = new URL(page.url()).pathname;
  if (after !== '/login') problems.push(`the account page after leaving is ${after}, want /login`);
  console.log(JSON.stringify({ pages, checks: checks.length, after }));
} catch (e) {
  problems.push(`journey stopped: ${e.stack || e}`);
}
await browser.close();
if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
