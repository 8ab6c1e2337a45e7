// Browser test for the bot challenge widget (C7), run by
// crates/anshin/tests/challenge_browser.rs:
//   node e2e/challenge.spec.mjs https://127.0.0.1:<port>
// Opens /login (Japanese) and /signup (English) in Debian's chromium under the site's real CSP,
// activates the widget (click on the label; keyboard Space), waits until
// the hidden `altcha` input holds a solution, and fails on any console
// error, page error or CSP violation. Prints one JSON line
// {"solutions": [...]} so the Rust test can verify them server-side.
import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

const base = process.argv[2];
if (!base) {
  console.error('usage: node e2e/challenge.spec.mjs <https://host:port>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`chromium not found at ${executablePath}: run scripts/setup --test`);
  process.exit(2);
}

const problems = [];
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic'],
});
const solutions = [];
try {
  // A browser tab in the given language, watched for every kind of error.
  const open = async (locale) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale });
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
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
    page.on('request', (req) => {
      if (!req.url().startsWith(base) && !req.url().startsWith('data:')) {
        problems.push(`third-party request: ${req.url()}`);
      }
    });
    return page;
  };

  // 1. /login in Japanese: click the label of the first widget.
  let page = await open('ja-JP');
  await page.goto(`${base}/login`);
  const label = page.locator('form[action="/login/code"] .altcha label');
  await label.waitFor({ timeout: 10000 });
  const text = await label.textContent();
  if (text !== 'ロボットではありません') problems.push(`unexpected label: ${text}`);
  const status = page.locator('form[action="/login/code"] .altcha [aria-live="polite"]');
  if ((await status.count()) !== 1) problems.push('no aria-live status');
  await label.click();
  const hidden = page.locator('form[action="/login/code"] input[type="hidden"][name="altcha"]');
  await page.waitForFunction(
    () => document.querySelector('form[action="/login/code"] input[name="altcha"]')?.value.length > 0,
    null,
    { timeout: 60000 },
  );
  solutions.push(await hidden.inputValue());
  const checked = await page.locator('form[action="/login/code"] input[type="checkbox"]').isChecked();
  if (!checked) problems.push('checkbox not ticked after solving');
  const state = await page.locator('form[action="/login/code"] .altcha').getAttribute('data-state');
  if (state !== 'done') problems.push(`widget state after solving: ${state}`);

  // 2. /signup in English, with the keyboard only: focus the checkbox,
  // press Space.
  page = await open('en-US');
  await page.goto(`${base}/signup`);
  const box = page.locator('form[action="/signup"] .altcha input[type="checkbox"]');
  await box.waitFor({ timeout: 10000 });
  const en = await page.locator('form[action="/signup"] .altcha label').textContent();
  if (en !== 'I am not a robot') problems.push(`unexpected English label: ${en}`);
  await box.focus();
  await page.keyboard.press('Space');
  await page.waitForFunction(
    () => document.querySelector('form[action="/signup"] input[name="altcha"]')?.value.length > 0,
    null,
    { timeout: 60000 },
  );
  solutions.push(await page.locator('form[action="/signup"] input[name="altcha"]').inputValue());
  const policy = (await (await page.request.get(`${base}/signup`)).headers())['content-security-policy'] || '';
  if (!policy.includes("script-src 'self'")) problems.push(`page not under the strict CSP: ${policy}`);
} catch (e) {
  problems.push(`test step failed: ${e.message}`);
} finally {
  await browser.close();
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(JSON.stringify({ solutions }));
