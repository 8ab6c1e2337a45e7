// The vulnerability disclosure programme (issue 18, C5), run by
// crates/anshin/tests/api/vdp.rs:
//   node e2e/vdp.spec.mjs <https://site> <https://console> <security enrolment link> <http://control> <ja|en>
// In Debian's chromium: a researcher follows the footer's link to
// /security, reads the policy, sends the form once without an address
// (the error names the field and keeps the text), then with it, solving the
// bot challenge, and sees the tracking id; security.txt opens from the
// page. Then a new member of the security team enrols with TOTP (the
// control endpoint plays the authenticator app), logs in, opens the
// vulnerability reports from the menu, opens the report (text and address
// shown), marks it confirmed and adds a note. On every page, at 360 px and
// 1280 px: axe-core (serious/critical), no sideways scroll, one h1, the
// page's language, no console error or CSP violation.
// ANSHIN_SCREENSHOTS=DIR keeps a full-page screenshot of each page at
// 360 px. Prints one JSON line (pages, checks, tracking) on success; exits
// 1 otherwise.
import { journey } from './harness.mjs';

const [site, base, link, control, lang] = process.argv.slice(2);
if (!site || !base || !link || !control || !['ja', 'en'].includes(lang)) {
  console.error('usage: node e2e/vdp.spec.mjs <https://site> <https://console> <security enrolment link> <http://control> <ja|en>');
  process.exit(2);
}
const words = JSON.parse(process.env.ANSHIN_CATALOG || '{}');
const { browser, page, problems, checks, visit, says, submit, pages } = await journey({ lang, prefix: 'vdp' });

/** The authenticator app: the next step's code for the secret. */
async function nextCode(secret) {
  const res = await fetch(`${control}/code?secret=${encodeURIComponent(secret)}`, { method: 'POST' });
  return (await res.json()).code;
}


/** Ticks the bot challenge widget in `form` and waits for its solution. */
async function solveChallenge(form) {
  const widget = page.locator(`${form} [data-altcha]`);
  if ((await widget.count()) === 0) return;
  await page.locator(`${form} .altcha label`).click();
  await page.waitForFunction(
    (f) => document.querySelector(`${f} input[name="altcha"]`)?.value.length > 0,
    form,
    { timeout: 60000 },
  );
}

let tracking = '';
try {
  // 1. The researcher: the footer leads to the policy and the form.
  await page.goto(`${site}/`);
  await submit('footer a[href="/security"]');
  await page.waitForURL(`${site}/security`);
  await says(words.vdp_title, 'the policy page');
  await says(words.safe_harbour_title, 'the policy (safe harbour)');
  await says(words.dont_title, 'the policy (what not to do)');
  await says(words.response_title, 'the policy (response times)');
  await visit('security policy');

  // Without an address: the field's error, the text kept.
  await page.fill('#f-message', words.report);
  await page.locator('#f-reply_email').evaluate((el) => el.removeAttribute('required'));
  await solveChallenge('form[action="/security"]');
  await submit('form[action="/security"] button[type=submit]');
  if ((await page.locator('#reply_email-error').count()) !== 1) problems.push('no error for the missing address');
  if ((await page.locator('#f-message').inputValue()) !== words.report) problems.push('the report text was not kept');
  await visit('security form error');

  // With it: the tracking id.
  await page.fill('#f-reply_email', words.reporter);
  await solveChallenge('form[action="/security"]');
  await submit('form[action="/security"] button[type=submit]');
  await says(words.sent_title, 'the report sent');
  const sent = (await page.locator('#vdp-sent-body').textContent()) || '';
  const m = sent.match(/VDP-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}/);
  if (!m) problems.push(`no tracking id on the page: ${sent}`);
  tracking = m ? m[0] : '';
  if ((await page.locator('#f-message').inputValue()) !== '') problems.push('the form is not empty after sending');
  await visit('security sent');

  // security.txt, from the page.
  const txt = await (await page.request.get(`${site}/.well-known/security.txt`)).text();
  if (!txt.includes(`Canonical: ${site}/.well-known/security.txt`)) problems.push(`security.txt: ${txt}`);

  // 2. The security team: enrol by the one-time link, log in.
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

  // 3. The reports, from the menu; the report opened.
  await submit('header a[href="/vdp"]');
  await page.waitForURL(`${base}/vdp`);
  await says(words.list_title, 'the reports list');
  await says(tracking, 'the report in the list');
  await visit('vdp list');
  await submit(`#vdp-reports a:has-text("${tracking}")`);
  await says(words.report, 'the report text, decrypted');
  await says(words.reporter, 'the reporter, decrypted');
  await visit('vdp report');

  // 4. Triage: confirmed, then a note.
  await page.selectOption('#vdp-status-select', 'confirmed');
  await submit('form[action$="/status"] button[type=submit]');
  await says(words.flash_status, 'the status changed');
  await says(words.status_confirmed, 'the new status shown');
  await page.fill('#vdp-note', words.note);
  await submit('form[action$="/notes"] button[type=submit]');
  await says(words.flash_note, 'the note added');
  await says(words.note, 'the note shown');
  await visit('vdp triaged');
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
console.log(JSON.stringify({ pages: pages(), checks: checks.length, tracking }));
