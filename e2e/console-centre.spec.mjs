// The shipping centre's shifts and two-person void in the staff console
// (issue 15; C24, C25), run by crates/anshin/tests/api/journeys.rs:
//   node e2e/console-centre.spec.mjs <https://console> <manager enrolment link> <worker enrolment link> <http://control> <ja|en>
// In Debian's chromium, two people in two browsers: a shipping manager
// enrols with TOTP (the control endpoint plays the authenticator app),
// registers two terminals and checks in on one; a shipping worker enrols,
// checks in on the other, asks for a waybill to be voided (asked first);
// the manager opens the pending voids, approves it (asked first, the
// reason shown); the worker checks out (asked first); the manager reads
// the shift log. Plain forms, no script. On every page, at 360 px and
// 1280 px: axe-core (serious/critical), no sideways scroll, one h1, the
// page's language, no console error or CSP violation. ANSHIN_SCREENSHOTS=DIR
// keeps a full-page screenshot of each page at 360 px. Prints one JSON
// line on success; exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [base, managerLink, workerLink, control, lang] = process.argv.slice(2);
if (!base || !managerLink || !workerLink || !control || !['ja', 'en'].includes(lang)) {
  console.error('usage: node e2e/console-centre.spec.mjs <https://console> <manager link> <worker link> <http://control> <ja|en>');
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
const checks = [];
const WIDTHS = [360, 1280];
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic'],
});

async function person(who) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    locale: lang === 'ja' ? 'ja-JP' : 'en-US',
    viewport: { width: 360, height: 800 },
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`${who}: console error on ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`${who}: page error on ${page.url()}: ${err.message}`));
  return { who, page };
}

let pages = 0;
async function visit(p, name) {
  const { page } = p;
  pages += 1;
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    const where = `${p.who} ${name} @${width}px (${new URL(page.url()).pathname})`;
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
      const file = `console-centre-${lang}-${String(pages).padStart(2, '0')}-${p.who}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`;
      await page.screenshot({ path: join(process.env.ANSHIN_SCREENSHOTS, file), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 360, height: 800 });
}

async function says(p, text, after) {
  const got = (await p.page.locator('main').textContent()) || '';
  if (!text || !got.includes(text)) problems.push(`${p.who} after ${after} on ${p.page.url()}: want "${text}"`);
}

async function submit(p, selector) {
  await Promise.all([p.page.waitForNavigation(), p.page.locator(selector).first().click()]);
}

/** The authenticator app: the next step's code for the secret. */
async function nextCode(secret) {
  const res = await fetch(`${control}/code?secret=${encodeURIComponent(secret)}`, { method: 'POST' });
  return (await res.json()).code;
}

async function enrolAndLogIn(p, link, email) {
  const { page } = p;
  await page.goto(link);
  const secret = (await page.locator('main code').first().textContent()).trim();
  await page.fill('input[name=code]', await nextCode(secret));
  await submit(p, 'main form[action="/enrol"] [type=submit]');
  await page.waitForURL(`${base}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=code]', await nextCode(secret));
  await submit(p, 'main form[action="/login"] [type=submit]');
  await page.waitForURL(`${base}/`);
  await says(p, words.flash_logged_in, 'login');
}

const manager = await person('manager');
const worker = await person('worker');
try {
  // 1. The manager: the shift page from the menu; no terminals yet.
  await enrolAndLogIn(manager, managerLink, words.manager_email);
  await submit(manager, 'header a[href="/shipping/shift"]');
  await says(manager, words.no_terminals, 'the shift page without terminals');
  await visit(manager, 'shift without terminals');
  // Register two terminals.
  await submit(manager, 'main a[href="/shipping/terminals"]');
  await visit(manager, 'terminals empty');
  for (const [label, serial] of [[words.t1, 'SN-0001'], [words.t2, 'SN-0002']]) {
    await manager.page.fill('#label', label);
    await manager.page.fill('#serial', serial);
    await submit(manager, '#register');
    await says(manager, words.flash_registered, `registering ${label}`);
  }
  await says(manager, words.t2, 'the registry');
  await visit(manager, 'terminals registered');
  // Off shift, the pending voids send to the shift page.
  await manager.page.goto(`${base}/shipping/voids`);
  if (!manager.page.url().endsWith('/shipping/shift')) problems.push(`manager off shift not sent to the shift page: ${manager.page.url()}`);
  await says(manager, words.flash_shift_needed, 'voids off shift');
  await visit(manager, 'shift needed');
  await manager.page.selectOption('#terminal', { label: `${words.t1} (SN-0001)` });
  await submit(manager, '#check-in');
  await says(manager, words.flash_checked_in, 'manager check-in');
  await says(manager, words.on_shift_t1, 'manager on shift');

  // 2. The worker: check in on the other terminal, ask for a void.
  await enrolAndLogIn(worker, workerLink, words.worker_email);
  await submit(worker, 'header a[href="/shipping/shift"]');
  await visit(worker, 'shift page');
  await submit(worker, '#check-in');
  await says(worker, words.flash_checked_in, 'worker check-in');
  await says(worker, words.on_shift_t2, 'worker on shift');
  await visit(worker, 'on shift');
  await submit(worker, '#link-void-new');
  await visit(worker, 'void form');
  await worker.page.fill('#shipment', words.shipment);
  await worker.page.fill('#reason', words.reason);
  await submit(worker, '#void-submit');
  await says(worker, words.confirm_void, 'asking to request a void');
  await visit(worker, 'confirm void request');
  await submit(worker, '#confirm');
  await says(worker, words.flash_void_requested, 'requesting a void');
  await visit(worker, 'void requested');

  // 3. The manager approves it (asked first, the reason shown).
  await manager.page.goto(`${base}/shipping/shift`);
  await submit(manager, '#link-voids');
  await says(manager, words.shipment, 'the pending voids');
  await says(manager, words.reason, 'the pending voids (reason)');
  await visit(manager, 'pending voids');
  await submit(manager, 'main form[action$="/approve"] [type=submit]');
  await says(manager, words.confirm_approve_start, 'asking to approve');
  await says(manager, words.reason, 'asking to approve (reason)');
  await visit(manager, 'confirm approve');
  await submit(manager, '#confirm');
  await says(manager, words.flash_void_approved, 'approving');
  await says(manager, words.none_voids, 'approved (none left)');
  await visit(manager, 'void approved');

  // 4. The worker checks out (asked first).
  await worker.page.goto(`${base}/shipping/shift`);
  await submit(worker, '#check-out');
  await says(worker, words.confirm_check_out, 'asking to check out');
  await visit(worker, 'confirm check-out');
  await submit(worker, '#confirm');
  await says(worker, words.flash_checked_out, 'checking out');
  await says(worker, words.off_shift, 'checked out');
  await visit(worker, 'checked out');

  // 5. The manager reads the shift log.
  await manager.page.goto(`${base}/shipping/shifts`);
  await says(manager, words.t1, 'the shift log (t1)');
  await says(manager, words.t2, 'the shift log (t2)');
  await says(manager, words.end_checked_out, 'the shift log (checked out)');
  await visit(manager, 'shift log');
} catch (e) {
  problems.push(`journey step failed: ${e.stack || e.message}`);
} finally {
  await browser.close();
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(JSON.stringify({ pages, checks: checks.length }));
