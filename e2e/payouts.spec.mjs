// Creator payouts (issue 16, C16), run by crates/anshin/tests/api/payouts.rs:
//   node e2e/payouts.spec.mjs <https://site> <https://console> <finance enrolment link> <http://control> <ja|en>
// In Debian's chromium: the creator (SELLER_COOKIE) opens their payout
// page, sees their balance and asks for a payout (the page says so, the
// list shows it requested); a new member of the finance team enrols with
// TOTP (the control endpoint plays the authenticator app), logs in, opens
// Payouts from the menu, builds a batch, downloads the Zengin file (whole
// 120-byte records, header first, end last), uploads it by mistake as
// the bank's result (the page says exactly what is wrong and nothing
// changes), uploads the bank's result (the line paid; the page says how
// many were paid and failed) and the same result again (the page says it
// changed nothing); the creator's page then shows it paid. On every page, at 360 px and
// 1280 px: axe-core (serious/critical), no sideways scroll, one h1, the
// page's language, no console error or CSP violation.
// ANSHIN_SCREENSHOTS=DIR keeps a full-page screenshot of each page at
// 360 px. Prints one JSON line on success; exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [site, base, link, control, lang] = process.argv.slice(2);
if (!site || !base || !link || !control || !['ja', 'en'].includes(lang)) {
  console.error('usage: node e2e/payouts.spec.mjs <https://site> <https://console> <finance enrolment link> <http://control> <ja|en>');
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

const problems = [];
let expect422 = false;
const checks = [];
const WIDTHS = [360, 1280];
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic'],
});

async function newPage(cookie) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    acceptDownloads: true,
    locale: lang === 'ja' ? 'ja-JP' : 'en-US',
    viewport: { width: 360, height: 800 },
  });
  if (cookie) {
    const [name, ...rest] = cookie.split('=');
    await context.addCookies([{ name, value: rest.join('='), url: site, secure: true, httpOnly: true, sameSite: 'Lax' }]);
  }
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    // The refused result file answers 422 on purpose (the page says why).
    const expected = expect422 && msg.text().includes('status of 422');
    if (msg.type() === 'error' && !expected) problems.push(`console error on ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  return page;
}

let pages = 0;
async function visit(page, name) {
  pages += 1;
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    const where = `${name} @${width}px (${new URL(page.url()).pathname})`;
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
    checks.push({ page: name, width, violations: result.violations.length });
    if (process.env.ANSHIN_SCREENSHOTS && width === 360) {
      const file = `payouts-${lang}-${String(pages).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`;
      await page.screenshot({ path: join(process.env.ANSHIN_SCREENSHOTS, file), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 360, height: 800 });
}

async function says(page, text, after) {
  const got = (await page.locator('main').textContent()) || '';
  if (!text || !got.includes(text)) problems.push(`after ${after} on ${page.url()}: want "${text}"`);
}

async function submit(page, selector) {
  await Promise.all([page.waitForNavigation(), page.locator(selector).first().click()]);
}

async function nextCode(secret) {
  const res = await fetch(`${control}/code?secret=${encodeURIComponent(secret)}`, { method: 'POST' });
  return (await res.json()).code;
}

let fileRecords = 0;
try {
  // 1. The creator asks for a payout of their balance.
  const creator = await newPage(process.env.SELLER_COOKIE);
  await creator.goto(`${site}/account/payouts`);
  await says(creator, words.title, 'the payout page');
  await says(creator, words.balance, 'the balance');
  await visit(creator, 'payout page');
  await submit(creator, 'main form[action="/account/payouts"] [type=submit]');
  await creator.waitForURL(`${site}/account/payouts`);
  await says(creator, words.flash.payout_requested, 'the request');
  await says(creator, words.status_requested, 'the list (requested)');
  await visit(creator, 'payout requested');

  // 2. Finance: enrol, log in, Payouts from the menu.
  const page = await newPage(null);
  await page.goto(link);
  const secret = (await page.locator('main code').first().textContent()).trim();
  await page.fill('input[name=code]', await nextCode(secret));
  await submit(page, 'main form[action="/enrol"] [type=submit]');
  await page.waitForURL(`${base}/login`);
  await page.fill('input[name=email]', words.email);
  await page.fill('input[name=code]', await nextCode(secret));
  await submit(page, 'main form[action="/login"] [type=submit]');
  await page.waitForURL(`${base}/`);
  await says(page, words.flash_logged_in, 'login');
  await submit(page, 'header a[href="/finance/payouts"]');
  await page.waitForURL(`${base}/finance/payouts`);
  await says(page, words.console_title, 'the payouts page');
  if ((await page.locator('#requested tbody tr').count()) !== 1) problems.push('not exactly one payout waiting');
  await visit(page, 'finance payouts');

  // 3. A batch, its file, the line marked paid.
  await submit(page, '#build');
  await says(page, words.flash_built, 'building the batch');
  await visit(page, 'finance batch');
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export').click()]);
  const bytes = readFileSync(await download.path());
  if (bytes.length % 122 !== 0) problems.push(`the file is ${bytes.length} bytes: not whole 120-byte records with CR LF`);
  fileRecords = bytes.length / 122;
  if (bytes[0] !== 0x31 || bytes[bytes.length - 122] !== 0x39) problems.push('the file does not start with a header and end with an end record');
  await page.reload();
  // The transfer file uploaded as the result by mistake: refused, saying why.
  const upload = async (buffer) => {
    await page.setInputFiles('#result-file', { name: 'result.txt', mimeType: 'text/plain', buffer });
    await submit(page, '#import-result');
  };
  expect422 = true;
  await upload(bytes);
  expect422 = false;
  await says(page, words.err_result, 'uploading the transfer file as the result');
  await visit(page, 'finance result refused');
  if ((await page.locator('#items button[value=paid]').count()) !== 1) problems.push('a refused file changed the line');
  // The bank's result: the data record's result code (byte 113) is 0, paid.
  const result = Buffer.from(bytes);
  result[122 + 112] = 0x30;
  await upload(result);
  await says(page, words.flash_imported, 'importing the result');
  await says(page, words.console_status_paid, 'the line (paid)');
  await visit(page, 'finance result imported');
  // The same file again: nothing changes, and the page says so.
  await upload(result);
  await says(page, words.flash_import_again, 'importing the result again');
  await says(page, words.console_status_paid, 'the line (still paid)');
  await visit(page, 'finance result again');

  // 4. The creator sees it paid.
  await creator.goto(`${site}/account/payouts`);
  await says(creator, words.status_paid, 'the list (paid)');
  await visit(creator, 'payout paid');
} catch (e) {
  problems.push(`journey step failed: ${e.stack || e.message}`);
} finally {
  await browser.close();
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(JSON.stringify({ pages, checks: checks.length, file_records: fileRecords }));
