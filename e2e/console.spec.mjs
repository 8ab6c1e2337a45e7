// The staff console journey (issue 14, C20/C21/C27), run by
// crates/anshin/tests/api/journeys.rs:
//   node e2e/console.spec.mjs <https://console> <enrolment link> <http://control> <ja|en> \
//     [<support enrolment link> <security enrolment link>]
// In Debian's chromium, a new admin opens the one-time enrolment link that
// `anshin staff add` printed, adds the console to an authenticator app (the
// test's control endpoint plays the app: it moves the app's clock one
// step on and answers the code, so no code is used twice), logs in with
// e-mail and code, opens the staff list, adds a support worker (the page
// shows the new one-time link), changes their role (choose, then a page
// asks to confirm), disables them after the confirmation page, and logs
// out. With the two further links: a support worker enrols, logs
// in, looks a member up by e-mail (typed into a form, never in a URL) and
// sees their data with the note that the view was recorded; a security
// worker enrols, logs in, reads the audit log and filters it by the
// member's id (the view of step 7 is there). On every page, at 360 px and 1280 px: axe-core
// (serious/critical), no sideways scroll, one h1, the page's language, no
// console error or CSP violation. After each action the page must say what
// happened. Prints one JSON line on success; exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [base, link, control, lang, supportLink, securityLink] = process.argv.slice(2);
if (!base || !link || !control || !['ja', 'en'].includes(lang)) {
  console.error('usage: node e2e/console.spec.mjs <https://console> <enrolment link> <http://control> <ja|en>');
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
  if (msg.type() === 'error') problems.push(`console error on ${page.url()}: ${msg.text()}`);
});
page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));

let pages = 0;
async function visit(name) {
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
      const file = `console-${lang}-${String(pages).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`;
      await page.screenshot({ path: join(process.env.ANSHIN_SCREENSHOTS, file), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 360, height: 800 });
}

async function says(text, after) {
  const got = (await page.locator('main').textContent()) || '';
  if (!text || !got.includes(text)) problems.push(`after ${after} on ${page.url()}: want "${text}"`);
}

async function submit(selector) {
  await Promise.all([page.waitForNavigation(), page.locator(selector).first().click()]);
}

/** The authenticator app: the next step's code for the secret. */
async function nextCode(secret) {
  const res = await fetch(`${control}/code?secret=${encodeURIComponent(secret)}`, { method: 'POST' });
  return (await res.json()).code;
}

try {
  // 1. The one-time link: the secret as a link and as text; confirm a code.
  await page.goto(link);
  await visit('enrolment');
  const secret = (await page.locator('main code').first().textContent()).trim();
  await page.fill('input[name=code]', await nextCode(secret));
  await submit('main form[action="/enrol"] [type=submit]');
  await page.waitForURL(`${base}/login`);
  await says(words.flash_enrolled, 'enrolment');
  await visit('login (after enrolment)');

  // 2. E-mail and code: the home page lists what the role may do.
  await page.fill('input[name=email]', words.email);
  await page.fill('input[name=code]', await nextCode(secret));
  await submit('main form[action="/login"] [type=submit]');
  await page.waitForURL(`${base}/`);
  await says(words.flash_logged_in, 'login');
  await visit('home');

  // 3. The staff list; add a support worker: the new one-time link shows.
  await submit('a[href="/staff"]');
  await visit('staff list');
  await page.fill('main form[action="/staff"] input[name=email]', 'worker@example.jp');
  await page.selectOption('main form[action="/staff"] select[name=role]', 'support');
  await submit('main form[action="/staff"] [type=submit]');
  await says(words.staff_added, 'adding a worker');
  if (!((await page.locator('main [role=status] code').textContent()) || '').includes('/enrol?token=')) {
    problems.push('the new worker\'s enrolment link is not shown');
  }
  await visit('staff added');

  // 4. Change the worker's role: choose the new one, a page asks to
  // confirm (naming both roles and that their sessions end), then the
  // list says so and shows the new role.
  await Promise.all([
    page.waitForNavigation(),
    page.locator('main li', { hasText: 'worker@example.jp' }).locator('a[href$="/role"]').click(),
  ]);
  await visit('role: choose');
  await page.selectOption('main form[action$="/role"] select[name=role]', 'finance');
  await submit('main form[action$="/role"] [type=submit]');
  await says(words.role_sessions_note, 'choosing a role');
  await visit('role: asks first');
  await submit('main form[method=post][action$="/role"] [type=submit]');
  await says(words.flash_role_changed, 'changing the role');
  const changed = (await page.locator('main li', { hasText: 'worker@example.jp' }).textContent()) || '';
  if (!changed.includes(words.role_finance)) problems.push(`the worker's new role is not shown: "${changed}"`);
  await visit('role changed');

  // 5. Disable the worker: a page asks first; then the list says so.
  const row = page.locator('main li', { hasText: 'worker@example.jp' });
  await Promise.all([page.waitForNavigation(), row.locator('a[href$="/disable"]').click()]);
  await visit('disable: asks first');
  await submit('main form[action$="/disable"] [type=submit]');
  await says(words.flash_disabled, 'disabling');
  const after = (await page.locator('main li', { hasText: 'worker@example.jp' }).textContent()) || '';
  if (!after.includes(words.staff_status_disabled)) problems.push(`the worker is not shown as disabled: "${after}"`);
  await visit('staff disabled');

  // 6. Log out from the menu.
  await submit('header form[action="/logout"] [type=submit]');
  await says(words.flash_logged_out, 'logout');
  await visit('logged out');

  /** Enrols by a one-time link and logs in; returns the secret. */
  async function enrolAndLogIn(enrolLink, email, name) {
    await page.goto(enrolLink);
    await visit(`${name} enrolment`);
    const s = (await page.locator('main code').first().textContent()).trim();
    await page.fill('input[name=code]', await nextCode(s));
    await submit('main form[action="/enrol"] [type=submit]');
    await page.waitForURL(`${base}/login`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=code]', await nextCode(s));
    await submit('main form[action="/login"] [type=submit]');
    await page.waitForURL(`${base}/`);
    await says(words.flash_logged_in, `${name} login`);
    return s;
  }

  if (supportLink && securityLink) {
    // 7. Support looks a member up by e-mail and sees their data.
    await enrolAndLogIn(supportLink, words.support_email, 'support');
    await submit('header a[href="/members"]');
    await page.waitForURL(`${base}/members`);
    await visit('support member lookup');
    await page.fill('main form[action="/members"] input[name=lookup]', words.member_email);
    await submit('main form[action="/members"] [type=submit]');
    if (page.url().includes('@') || page.url().includes('%40')) problems.push(`an e-mail in a URL: ${page.url()}`);
    await says(words.member_recorded, 'viewing a member');
    await says(words.member_phone, 'viewing a member (phone)');
    await says(words.member_email, 'viewing a member (e-mail)');
    await visit('support member view');
    await submit('header form[action="/logout"] [type=submit]');
    await says(words.flash_logged_out, 'support logout');

    // 8. Security reads the audit log and filters it by the member.
    await enrolAndLogIn(securityLink, words.security_email, 'security');
    await submit('header a[href="/audit"]');
    await page.waitForURL(`${base}/audit`);
    await says('member_data_viewed', 'the audit log');
    await visit('security audit log');
    await page.fill('main form[action="/audit"] input[name=person]', words.member_id);
    await submit('main form[action="/audit"] [type=submit]');
    await says('member_data_viewed', 'the filtered audit log');
    const rows = await page.locator('main table#audit tbody tr').count();
    if (rows < 2) problems.push(`the filtered audit log shows ${rows} rows`);
    const text = (await page.locator('main').textContent()) || '';
    if (text.includes(words.member_email) || text.includes(words.member_phone)) problems.push('personal data in the audit log view');
    await visit('security audit log filtered');
    await submit('header form[action="/logout"] [type=submit]');
    await says(words.flash_logged_out, 'security logout');
  }
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
