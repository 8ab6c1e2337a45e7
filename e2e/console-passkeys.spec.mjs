// Staff passkeys in a real browser (issue 14 acceptance 3, C21), run by
// crates/anshin/tests/api/journeys.rs:
//   node e2e/console-passkeys.spec.mjs <https://localhost:PORT> <enrolment link> <http://control> <ja|en>
// In Debian's chromium with its virtual authenticator (CDP WebAuthn.enable
// + WebAuthn.addVirtualAuthenticator: ctap2, internal, resident keys, user
// verification), a new support worker enrols with TOTP (the control
// endpoint plays the app), logs in with the code, opens the security page,
// adds a passkey (navigator.credentials.create through the page's own
// script), logs out, logs in with e-mail + passkey
// (navigator.credentials.get), steps up with it after the clock moved,
// and removes the passkey. The console is
// opened at localhost: browsers refuse WebAuthn on an IP address. On every page, at 360 px and 1280 px: axe-core
// (serious/critical), no sideways scroll, one h1, the page's language, no
// console error or CSP violation. After each action the page must say what
// happened. Prints one JSON line on success; exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [base, link, control, lang] = process.argv.slice(2);
if (!base || !link || !control || !['ja', 'en'].includes(lang)) {
  console.error('usage: node e2e/console-passkeys.spec.mjs <https://console> <enrolment link> <http://control> <ja|en>');
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
      const file = `console-passkeys-${lang}-${String(pages).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`;
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
  // The virtual authenticator: a platform authenticator with resident
  // keys and user verification that says yes by itself.
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  // 1. Enrol with TOTP and log in with the code (the fallback).
  await page.goto(link);
  const secret = (await page.locator('main code').first().textContent()).trim();
  await page.fill('input[name=code]', await nextCode(secret));
  await submit('main form[action="/enrol"] [type=submit]');
  await page.waitForURL(`${base}/login`);
  await visit('login: passkey and code');
  await page.fill('main form[action="/login"] input[name=email]', words.email);
  await page.fill('main form[action="/login"] input[name=code]', await nextCode(secret));
  await submit('main form[action="/login"] [type=submit]');
  await page.waitForURL(`${base}/`);
  await says(words.flash_logged_in, 'login with the code');

  // 2. The security page: no passkey yet; add one.
  await submit('header a[href="/security"]');
  await visit('security: no passkey');
  await page.fill('main form[data-passkey=register] input[name=name]', 'Chromium');
  // The page's script asks for options, runs navigator.credentials.create
  // and posts the answer: one navigation, back to this page.
  await Promise.all([
    page.waitForNavigation(),
    page.locator('main form[data-passkey=register] [type=submit]').click(),
  ]);
  await says(words.flash_passkey_added, 'adding a passkey');
  const listed = (await page.locator('main ul').textContent()) || '';
  if (!listed.includes('Chromium')) problems.push(`the new passkey is not listed: "${listed}"`);
  await visit('security: one passkey');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  if (credentials.length !== 1 || !credentials[0].isResidentCredential) {
    problems.push(`the authenticator holds ${JSON.stringify(credentials.map((c) => c.isResidentCredential))}`);
  }

  // 3. Log out; log in with e-mail + passkey (no code).
  await submit('header form[action="/logout"] [type=submit]');
  await says(words.flash_logged_out, 'logout');
  await page.fill('main form[data-passkey=login] input[name=email]', words.email);
  await Promise.all([
    page.waitForURL(`${base}/`, { waitUntil: 'load' }),
    page.locator('main form[data-passkey=login] [type=submit]').click(),
  ]);
  await says(words.flash_logged_in, 'login with a passkey');
  await visit('home after a passkey login');
  const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  if (!(after.credentials[0] && after.credentials[0].signCount >= 1)) {
    problems.push(`the passkey was not used: ${JSON.stringify(after.credentials)}`);
  }

  // 4. Some minutes later (the control endpoint moves the app's clock),
  // acts need the second factor again: step up with the passkey.
  await fetch(`${control}/advance`, { method: 'POST' });
  await page.goto(`${base}/step-up`);
  await visit('step-up: passkey or code');
  await Promise.all([
    page.waitForURL(`${base}/`, { waitUntil: 'load' }),
    page.locator('main form[data-passkey=step-up] [type=submit]').click(),
  ]);
  await says(words.flash_stepped_up, 'step-up with a passkey');

  // 5. Remove the passkey on the security page.
  await submit('header a[href="/security"]');
  const used = (await page.locator('main ul').textContent()) || '';
  if (!used.includes(words.last_used_word)) problems.push(`the last use is not shown: "${used}"`);
  await submit('main form[action$="/remove"] [type=submit]');
  await says(words.flash_passkey_removed, 'removing the passkey');
  await visit('security: removed');
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
