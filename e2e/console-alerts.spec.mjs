// The security alerts in the staff console (issue 17, C29), run by
// crates/anshin/tests/api/journeys.rs:
//   node e2e/console-alerts.spec.mjs <https://console> <security enrolment link> <http://control> <ja|en>
// In Debian's chromium, a new member of the security team enrols with
// TOTP (the control endpoint plays the authenticator app), logs in, opens
// the alerts from the menu and sees the alerts that are on (the
// credential-stuffing rule and a support worker's sign-in from a new
// network, in the page's language, marked as still on) and in the
// history; then the self-scan page (C30) from the menu, with
// the newest report's findings. On every page, at 360 px and 1280 px: axe-core (serious/critical), no
// sideways scroll, one h1, the page's language, no console error or CSP
// violation. ANSHIN_SCREENSHOTS=DIR keeps a full-page screenshot of each
// page at 360 px. Prints one JSON line on success; exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [base, link, control, lang] = process.argv.slice(2);
if (!base || !link || !control || !['ja', 'en'].includes(lang)) {
  console.error('usage: node e2e/console-alerts.spec.mjs <https://console> <security enrolment link> <http://control> <ja|en>');
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
      const file = `console-alerts-${lang}-${String(pages).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`;
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
  // 1. Enrol by the one-time link, log in.
  await page.goto(link);
  await visit('enrolment');
  const secret = (await page.locator('main code').first().textContent()).trim();
  await page.fill('input[name=code]', await nextCode(secret));
  await submit('main form[action="/enrol"] [type=submit]');
  await page.waitForURL(`${base}/login`);
  await page.fill('input[name=email]', words.email);
  await page.fill('input[name=code]', await nextCode(secret));
  await submit('main form[action="/login"] [type=submit]');
  await page.waitForURL(`${base}/`);
  await says(words.flash_logged_in, 'login');
  await visit('home');

  // 2. The alerts, from the menu: the credential-stuffing alert is on.
  await submit('header a[href="/alerts"]');
  await page.waitForURL(`${base}/alerts`);
  await says(words.title, 'the alerts page');
  await says(words.rule_text, 'the alert on (rule in words)');
  await says('failed_logins', 'the alert on (rule name)');
  await says(words.rule_text_staff, 'the staff sign-in from a new network (rule in words)');
  await says('staff_new_network', 'the staff sign-in from a new network (rule name)');
  await says(words.still_on, 'the history (still on)');
  if ((await page.locator('#alerts-on li').count()) !== 2) problems.push('not exactly two alerts on');
  if ((await page.locator('#alerts tbody tr').count()) !== 2) problems.push('not exactly two alerts in the history');
  await visit('alerts');

  // 3. The self-scan (C30), from the menu: the newest report's findings.
  await submit('header a[href="/selfscan"]');
  await page.waitForURL(`${base}/selfscan`);
  await says(words.selfscan_title, 'the self-scan page');
  await says(words.selfscan_findings, 'the newest report (findings)');
  await says('no_dependency_list', 'the finding (a binary without its list)');
  if ((await page.locator('#selfscan-items li').count()) < 1) problems.push('no finding listed');
  await page.locator('details summary').first().click();
  if (!(await page.locator('#selfscan-text').isVisible())) problems.push('the report text does not open');
  await visit('selfscan');
  await submit('header form[action="/logout"] [type=submit]');
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
