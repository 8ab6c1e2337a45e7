// The staff console's no-copy layer (issue 15 acceptance 2's method; C23,
// ADR 0017), run by crates/anshin/tests/api/journeys.rs:
//   node e2e/console-nocopy.spec.mjs <https://console> <support enrolment link> <http://control> <ja|en> \
//     <https://site> <label page HTML file>
// In Debian's chromium with clipboard permissions granted:
// 0. control: on the public site (no such layer) select-all + copy does
//    put the page's text on the clipboard, so this browser's clipboard
//    works and the checks below can fail;
// 1. a support worker enrols with TOTP, logs in and looks a member up
//    (ViewMemberData: e-mail, phone, address shown as text);
// 2. on that page select-all + copy (keyboard, with the page and with the
//    lookup field focused, and execCommand) leaves the clipboard as it
//    was: none of the member's fields; nothing is selected;
// 3. copy, cut, the context menu, dragstart, drop and selectstart are
//    refused (their events are cancelled);
// 4. every console response said Cache-Control: no-store;
// 5. printing the page prints nothing of it;
// 6. the label page (not routed yet: its HTML as the server renders it,
//    with a real rendered label as the image) shows the label, has
//    none of the label's fields in its DOM or text, and in print shows
//    only the image, at 104 × 148 mm.
// At 360 px and 1280 px on both console pages: axe-core, no sideways
// scroll, one h1. Prints one JSON line on success; exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [base, link, control, lang, site, labelHtmlFile] = process.argv.slice(2);
if (!base || !link || !control || !['ja', 'en'].includes(lang) || !site || !labelHtmlFile) {
  console.error('usage: node e2e/console-nocopy.spec.mjs <https://console> <support enrolment link> <http://control> <ja|en> <https://site> <label.html>');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
const words = JSON.parse(process.env.ANSHIN_CATALOG || '{}');
const secrets = words.member_fields || [];
const labelHtml = readFileSync(labelHtmlFile, 'utf8');
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
const consoleResponses = [];
page.on('response', (res) => {
  if (res.url().startsWith(base)) consoleResponses.push(res);
});

async function visit(name) {
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 800 });
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
    if (process.env.ANSHIN_SCREENSHOTS && width === 360) {
      const file = `console-nocopy-${lang}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`;
      await page.screenshot({ path: join(process.env.ANSHIN_SCREENSHOTS, file), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function submit(selector) {
  await Promise.all([page.waitForNavigation(), page.locator(selector).first().click()]);
}

async function nextCode(secret) {
  const res = await fetch(`${control}/code?secret=${encodeURIComponent(secret)}`, { method: 'POST' });
  return (await res.json()).code;
}

const SENTINEL = 'clipboard-before-copy';
const setClipboard = (text) => page.evaluate((t) => navigator.clipboard.writeText(t), text);
const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
const mod = process.platform === 'darwin' ? 'Meta' : 'Control';

/** Select-all + copy by keyboard, with `focus` focused first. */
async function selectAllAndCopy(focus) {
  await page.locator(focus).first().click();
  await page.keyboard.press(`${mod}+A`);
  await page.keyboard.press(`${mod}+C`);
}

/** What the clipboard holds after the copies, checked against the member. */
async function expectNothingCopied(where) {
  const got = await clipboard();
  if (got !== SENTINEL) problems.push(`${where}: the clipboard changed to "${got.slice(0, 80)}"`);
  for (const s of secrets) {
    if (got.includes(s)) problems.push(`${where}: the clipboard holds a member field`);
  }
}

/** Which of these events the page cancelled, dispatched at `selector`. */
async function refusedEvents(selector) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    const make = {
      copy: () => new ClipboardEvent('copy', { bubbles: true, cancelable: true }),
      cut: () => new ClipboardEvent('cut', { bubbles: true, cancelable: true }),
      contextmenu: () => new MouseEvent('contextmenu', { bubbles: true, cancelable: true, button: 2 }),
      dragstart: () => new DragEvent('dragstart', { bubbles: true, cancelable: true }),
      drop: () => new DragEvent('drop', { bubbles: true, cancelable: true }),
      selectstart: () => new Event('selectstart', { bubbles: true, cancelable: true }),
    };
    const out = {};
    for (const [type, ev] of Object.entries(make)) out[type] = !el.dispatchEvent(ev());
    return out;
  }, selector);
}

try {
  // 0. Control: the public site has no such layer; the clipboard works.
  await page.goto(site);
  await setClipboard(SENTINEL);
  await selectAllAndCopy('h1');
  const copied = await clipboard();
  if (copied === SENTINEL || copied.trim().length < 10) {
    problems.push(`control: select-all + copy on the public site copied nothing ("${copied.slice(0, 40)}"): the clipboard checks below would prove nothing`);
  }
  checks.push({ control_copied_chars: copied.length });

  // 1. Enrol and log in as support; look the member up.
  await page.goto(link);
  const secret = (await page.locator('main code').first().textContent()).trim();
  await page.fill('input[name=code]', await nextCode(secret));
  await submit('main form[action="/enrol"] [type=submit]');
  await page.waitForURL(`${base}/login`);
  await page.fill('input[name=email]', words.support_email);
  await page.fill('input[name=code]', await nextCode(secret));
  await submit('main form[action="/login"] [type=submit]');
  await page.waitForURL(`${base}/`);
  await submit('header a[href="/members"]');
  await page.fill('main form[action="/members"] input[name=lookup]', words.member_email);
  await submit('main form[action="/members"] [type=submit]');
  const text = (await page.locator('main').textContent()) || '';
  // The page does show the member (so an empty clipboard means something).
  for (const s of secrets) {
    if (!text.includes(s)) problems.push(`the member page does not show a field the test expects (${secrets.indexOf(s)})`);
  }
  await visit('member view');

  // 2. Select-all + copy, three ways; nothing selected, nothing copied.
  await setClipboard(SENTINEL);
  await selectAllAndCopy('main h1');
  const selected = await page.evaluate(() => window.getSelection().toString());
  if (selected.trim() !== '') problems.push(`select-all selected text: "${selected.slice(0, 60)}"`);
  await expectNothingCopied('keyboard select-all + copy on the page');
  // A form field holding the member's e-mail (as typed for the next
  // lookup): selectable for editing, but neither copyable nor cuttable.
  await page.fill('main input[name=lookup]', words.member_email);
  await selectAllAndCopy('main input[name=lookup]');
  await expectNothingCopied('select-all + copy in the lookup field');
  await page.keyboard.press(`${mod}+X`);
  await expectNothingCopied('cut in the lookup field');
  const field = await page.inputValue('main input[name=lookup]');
  if (field !== words.member_email) problems.push('cut removed the field\'s text');
  await page.evaluate(() => {
    const r = document.createRange();
    r.selectNodeContents(document.querySelector('main'));
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(r);
    document.execCommand('copy');
  });
  await expectNothingCopied('script selection + execCommand copy');

  // 3. The events are cancelled, on the data and on the page.
  for (const sel of ['#member dd', 'main', 'header a.brand']) {
    const refused = await refusedEvents(sel);
    for (const [type, ok] of Object.entries(refused)) {
      if (!ok) problems.push(`${type} on ${sel} was not refused`);
    }
    checks.push({ refused: sel });
  }
  // Selecting inside a form field stays possible (editing the lookup).
  const fieldSelect = await page.evaluate(() =>
    document.querySelector('main input[name=lookup]').dispatchEvent(new Event('selectstart', { bubbles: true, cancelable: true })),
  );
  if (!fieldSelect) problems.push('selecting inside the lookup field was refused');
  // A real right-click and a real drag of the brand link onto the field.
  await page.click('#member dd', { button: 'right' });
  await page.fill('main input[name=lookup]', '');
  await page.dragAndDrop('header a.brand', 'main input[name=lookup]').catch(() => {});
  if ((await page.inputValue('main input[name=lookup]')) !== '') problems.push('a dragged link was dropped into the field');

  // 4. Every console response said no-store.
  const stored = consoleResponses.filter((r) => r.headers()['cache-control'] !== 'no-store');
  for (const r of stored) problems.push(`${r.url()}: Cache-Control "${r.headers()['cache-control']}"`);
  checks.push({ console_responses: consoleResponses.length });
  if (consoleResponses.length < 8) problems.push(`only ${consoleResponses.length} console responses seen`);

  // 5. Printing the member page prints nothing of it.
  await page.emulateMedia({ media: 'print' });
  if (await page.locator('main').isVisible()) problems.push('the member page prints its data');
  await page.emulateMedia({ media: 'screen' });

  // 6. The label page, as the server renders it (not routed yet).
  await page.setContent(labelHtml, { waitUntil: 'load' });
  await page.waitForFunction(() => document.querySelector('.label-sheet img')?.complete);
  const img = await page.evaluate(() => {
    const i = document.querySelector('.label-sheet img');
    return { w: i.naturalWidth, h: i.naturalHeight };
  });
  if (img.w !== 832 || img.h !== 1184) problems.push(`the label image did not load: ${JSON.stringify(img)}`);
  const dom = await page.evaluate(() => document.documentElement.outerHTML + document.body.innerText);
  for (const s of secrets.concat(words.label_fields || [])) {
    if (dom.includes(s)) problems.push('a label field is in the label page\'s DOM');
  }
  await visit('label page');
  await setClipboard(SENTINEL);
  await selectAllAndCopy('main h1');
  await expectNothingCopied('select-all + copy on the label page');
  for (const [type, ok] of Object.entries(await refusedEvents('.label-sheet img'))) {
    if (!ok) problems.push(`${type} on the label image was not refused`);
  }
  await page.emulateMedia({ media: 'print' });
  const printed = await page.evaluate(() => {
    const vis = (el) => !!el && getComputedStyle(el).display !== 'none' && el.getBoundingClientRect().height > 0;
    const i = document.querySelector('.label-sheet img');
    const r = i.getBoundingClientRect();
    return {
      img: vis(i),
      w: r.width,
      h: r.height,
      h1: vis(document.querySelector('main h1')),
      header: vis(document.querySelector('header.site')),
      button: vis(document.querySelector('[data-print]')),
    };
  });
  // 104 mm and 148 mm at CSS's 96 px per inch.
  const mm = (px) => (px * 25.4) / 96;
  if (!printed.img || Math.abs(mm(printed.w) - 104) > 1 || Math.abs(mm(printed.h) - 148) > 1) {
    problems.push(`in print the label is not 104 × 148 mm: ${JSON.stringify(printed)}`);
  }
  if (printed.h1 || printed.header || printed.button) problems.push(`print shows more than the label: ${JSON.stringify(printed)}`);
  if (process.env.ANSHIN_SCREENSHOTS) {
    await page.screenshot({ path: join(process.env.ANSHIN_SCREENSHOTS, `console-nocopy-${lang}-label-print.png`), fullPage: true });
  }
  await page.emulateMedia({ media: 'screen' });
  checks.push({ printed });
} catch (e) {
  problems.push(`journey step failed: ${e.stack || e.message}`);
} finally {
  await browser.close();
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(JSON.stringify({ checks: checks.length, ok: true }));
