// The checkout journey (issue 13, C15), run by
// crates/anshin/tests/api/journeys.rs:
//   node e2e/checkout.spec.mjs <https://site> <http://control> <ja|en>
// In Debian's chromium, a creator (a member without a shop; session
// cookie given by the test) opens a shop from its page and lists three
// items, the first with an image chosen in the file picker. A buyer (a
// member with an address) finds each by the home page's search, opens
// it, presses "add to cart", and goes through the cart, the checkout and
// the payment page, typing the card into the processor's own element
// (localstripe's stripe.js stand-in):
//   4242 4242 4242 4242  pays at once;
//   4000 0027 6000 3184  asks for 3-D Secure in the processor's window;
//   4000 0000 0000 0341  is declined: the page says so in our words, and
//                        after the reservation ends (the test moves the
//                        clock: POST <control>/expire) the item is back.
// Then the seller finds both paid orders in their list and each says
// paid. On every page, at 360 px and
// 1280 px: axe-core (serious/critical), no sideways scroll, one h1, the
// page's language, no console error or CSP violation, no request to any
// origin but the site and the processor. The processor's element is its
// own content and is left out of axe's run (as a real processor's iframe
// would be). Every request the browser sends is written (with its body)
// to $ANSHIN_REQUEST_LOG, for the test to prove no card number ever
// reached anshin. Prints one JSON line on success; exits 1 otherwise.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const [base, control, lang] = process.argv.slice(2);
if (!base || !control || !['ja', 'en'].includes(lang)) {
  console.error('usage: node e2e/checkout.spec.mjs <https://site> <http://control> <ja|en>');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
const catalog = JSON.parse(process.env.ANSHIN_CATALOG || '{}');
const items = {};
const processor = process.env.ANSHIN_PROCESSOR;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`chromium not found at ${executablePath}: run scripts/setup --test`);
  process.exit(2);
}

const problems = [];
const checks = [];
const screenshots = process.env.ANSHIN_SCREENSHOTS;
const requests = [];
const WIDTHS = [360, 1280];
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic'],
});

/** A browser signed in with the session cookie `pair` (`name=value`). */
async function signedIn(pair) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    locale: lang === 'ja' ? 'ja-JP' : 'en-US',
    viewport: { width: 360, height: 800 },
  });
  const [name, ...rest] = pair.split('=');
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
  page.on('request', (req) => {
    const url = req.url();
    const to = url.startsWith(base) ? 'site' : processor && url.startsWith(processor) ? 'processor' : 'other';
    requests.push({ to, method: req.method(), url, body: req.postData() || '' });
    if (to === 'other' && !url.startsWith('data:')) problems.push(`third-party request: ${url}`);
  });
  return page;
}

async function check(page, name) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    const where = `${name} @${width}px (${new URL(page.url()).pathname})`;
    const facts = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      h1: document.querySelectorAll('h1').length,
      lang: document.documentElement.lang,
    }));
    if (facts.scrollWidth > facts.innerWidth) {
      problems.push(`${where}: scrolls sideways (scrollWidth ${facts.scrollWidth} > ${facts.innerWidth})`);
    }
    if (facts.h1 !== 1) problems.push(`${where}: ${facts.h1} h1 elements`);
    if (facts.lang !== lang) problems.push(`${where}: html lang="${facts.lang}"`);
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
      await page.evaluate(axeSource);
    }
    const result = await page.evaluate(() =>
      window.axe.run({ exclude: [['#card-element']] }, { resultTypes: ['violations'] }),
    );
    for (const v of result.violations) {
      if (v.impact === 'serious' || v.impact === 'critical') {
        const targets = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ');
        problems.push(`${where}: axe ${v.impact} ${v.id}: ${v.help} [${targets}]`);
      }
    }
    checks.push({ page: name, width, violations: result.violations.length });
    // ANSHIN_SCREENSHOTS=<dir>: a full-page picture of every page at phone
    // width, to look at (not compared).
    if (screenshots && width === 360) {
      const file = `checkout-${lang}-${String(pages).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`;
      await page.screenshot({ path: join(screenshots, file), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 360, height: 800 });
}

async function expectFlash(page, code) {
  const want = catalog.flash?.[code];
  const got = (await page.locator('[role=status]').allTextContents()).join(' ');
  if (!want || !got.includes(want)) problems.push(`after ${code} on ${page.url()}: flash "${got}", want "${want}"`);
}

async function submit(page, selector) {
  await Promise.all([page.waitForNavigation(), page.locator(selector).first().click()]);
}

let pages = 0;
const visit = async (page, name) => {
  pages += 1;
  await check(page, name);
};

/** A w×h PNG (a plate on a warm background), made here: what a creator
 * uploads with the file picker. */
function plate(w, h) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const d = Math.hypot(x - w / 2, y - h / 2) / (Math.min(w, h) / 2);
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = d < 0.8 ? 60 : 220;
      raw[o + 1] = d < 0.8 ? 80 + Math.round(60 * d) : 200;
      raw[o + 2] = d < 0.8 ? 160 : 170;
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const titles = lang === 'ja'
  ? { ok: '藍色の湯呑み', three_ds: '白磁の一輪挿し', declined: '一点物の茶碗' }
  : { ok: 'Indigo teacup', three_ds: 'White bud vase', declined: 'One-off tea bowl' };

/** The creator lists an item on sale from the shop page; with `image`,
 * adds a picture. Returns the item's id. */
async function list(page, key, price, stock, image) {
  await page.locator('main a.button[href="/shop/manage/items/new"]').first().click();
  await page.waitForURL(`${base}/shop/manage/items/new`);
  if (image) await visit(page, 'new item');
  await page.fill('input[name=title]', titles[key]);
  await page.fill('textarea[name=description]', lang === 'ja' ? '手びねりの器です。' : 'Hand-built by the maker.');
  await page.fill('input[name=price]', price);
  await page.fill('input[name=stock]', stock);
  await page.selectOption('select[name=status]', 'on_sale');
  await submit(page, 'form[action="/shop/manage/items/new"] [type=submit]');
  await page.waitForURL(/\/shop\/manage\/items\/[0-9a-f-]{36}$/);
  await expectFlash(page, 'item_added');
  const id = page.url().split('/items/')[1];
  if (image) {
    await page.setInputFiles('#f-image', { name: 'cup.png', mimeType: 'image/png', buffer: plate(480, 360) });
    await submit(page, 'form[action$="/images"] [type=submit]');
    await expectFlash(page, 'image_added');
    if ((await page.locator('.thumbs img').count()) !== 1) problems.push('the uploaded image is not shown');
    await visit(page, 'item with an image');
  }
  await page.goto(`${base}/shop/manage`);
  return id;
}

/** Finds the item by the home page's search, opens it, adds it to the
 * cart, checks out; returns the order id (on the payment page). */
async function checkout(page, key, label) {
  const first = key === 'ok';
  await page.goto(`${base}/`);
  await page.fill('main form[action="/search"] input[name=q]', titles[key]);
  await submit(page, 'main form[action="/search"] [type=submit]');
  await page.waitForURL(/\/search\?/);
  if (first) await visit(page, 'search results');
  const card = page.locator('.item-card a', { hasText: titles[key] });
  if ((await card.count()) !== 1) problems.push(`the search for ${titles[key]} found ${await card.count()} cards`);
  await card.first().click();
  await page.waitForURL(`${base}/items/${items[key]}`);
  if (first) {
    const shown = await page.locator('.gallery img').first().evaluate(
      (img) => new Promise((ok) => (img.complete ? ok(img.naturalWidth) : img.addEventListener('load', () => ok(img.naturalWidth)))),
    );
    if (!(shown > 0)) problems.push('the item image did not load for the buyer');
    await visit(page, 'item page');
  }
  await page.locator(`main a.button[href="/cart/add?item=${items[key]}"]`).click();
  await page.waitForURL(`${base}/cart/add?item=${items[key]}`);
  await visit(page, `add to cart (${label})`);
  await page.fill('input[name=quantity]', '1');
  await submit(page, 'form[action="/cart"] [type=submit]');
  await page.waitForURL(`${base}/cart`);
  await expectFlash(page, 'cart_added');
  await visit(page, `cart (${label})`);
  await page.locator('main a.button[href^="/checkout/"]').first().click();
  await page.waitForURL(/\/checkout\//);
  await visit(page, `checkout (${label})`);
  await submit(page, 'main form[action^="/checkout/"] [type=submit]');
  await page.waitForURL(/\/orders\/[0-9a-f-]+\/pay$/);
  await page.locator('#card-element input').first().waitFor();
  await visit(page, `payment page (${label})`);
  return page.url().split('/orders/')[1].split('/')[0];
}

/** Types the card into the processor's element and presses pay. */
async function typeCardAndPay(page, number) {
  const field = (p) => page.locator(`#card-element input[placeholder=${p}]`);
  await field('number').fill(number);
  await field('exp_month').fill('12');
  await field('exp_year').fill('34');
  await field('cvc').fill('123');
  await field('postal_code').fill('15000');
  await page.locator('#pay-button').click();
}

const orders = {};
try {
  // 0. The creator opens a shop and lists three items, one with a picture.
  const seller = await signedIn(process.env.SELLER_COOKIE);
  await seller.goto(`${base}/shop/manage`);
  await visit(seller, 'shop (not open yet)');
  await seller.fill('form[action="/shop/manage"] input[name=name]', lang === 'ja' ? 'やきもの工房' : 'Pottery studio');
  await seller.fill('form[action="/shop/manage"] textarea[name=description]', lang === 'ja' ? '手づくりの**器**の店です。' : 'A shop of hand-made **pottery**.');
  await submit(seller, 'form[action="/shop/manage"] [type=submit]');
  await expectFlash(seller, 'shop_opened');
  await visit(seller, 'shop manage');
  items.ok = await list(seller, 'ok', '1800', '3', true);
  items.three_ds = await list(seller, 'three_ds', '5200', '3', false);
  items.declined = await list(seller, 'declined', '12000', '1', false);

  const buyer = await signedIn(process.env.BUYER_COOKIE);

  // 1. 4242 4242 4242 4242: paid at once.
  orders.ok = await checkout(buyer, 'ok', '4242');
  await typeCardAndPay(buyer, '4242424242424242');
  await buyer.waitForURL(`${base}/orders/${orders.ok}`, { timeout: 30000 });
  await expectFlash(buyer, 'order_paid');
  if ((await buyer.getAttribute('#order-status', 'data-status')) !== 'paid') problems.push('the 4242 order is not paid');
  await visit(buyer, 'order paid (4242)');

  // 2. 3-D Secure: the processor's window asks; the buyer confirms.
  orders.threeDs = await checkout(buyer, 'three_ds', '3-D Secure');
  await typeCardAndPay(buyer, '4000002760003184');
  const authenticate = buyer.getByRole('button', { name: 'Complete authentication' });
  await authenticate.waitFor({ timeout: 30000 });
  await authenticate.click();
  await buyer.waitForURL(`${base}/orders/${orders.threeDs}`, { timeout: 30000 });
  await expectFlash(buyer, 'order_paid');
  if ((await buyer.getAttribute('#order-status', 'data-status')) !== 'paid') problems.push('the 3-D Secure order is not paid');
  await visit(buyer, 'order paid (3-D Secure)');

  // 3. Declined: the page says why, in our words; the stock comes back.
  orders.declined = await checkout(buyer, 'declined', 'declined');
  await typeCardAndPay(buyer, '4000000000000341');
  const message = buyer.locator('#pay-message');
  await message.waitFor({ state: 'visible', timeout: 30000 });
  const said = (await message.textContent()).trim();
  if (said !== catalog.decline) problems.push(`declined card: "${said}", want "${catalog.decline}"`);
  if (!(await buyer.locator('#pay-button').isEnabled())) problems.push('the pay button stays disabled after a decline');
  await visit(buyer, 'payment declined');
  await buyer.goto(`${base}/cart/add?item=${items.declined}`);
  const held = await buyer.locator('main .card').textContent();
  if (!held.includes(catalog.sold_out)) problems.push(`while reserved the item should show sold out: "${held}"`);
  const expired = await (await fetch(`${control}/expire`, { method: 'POST' })).json();
  if (expired.cancelled !== 1) problems.push(`the reservation did not end: ${JSON.stringify(expired)}`);
  await buyer.goto(`${base}/cart/add?item=${items.declined}`);
  const back = await buyer.locator('main .card').textContent();
  if (!back.includes(catalog.one_left)) problems.push(`the stock did not come back: "${back}"`);
  await visit(buyer, 'item back on sale');
  await buyer.goto(`${base}/orders/${orders.declined}`);
  if ((await buyer.getAttribute('#order-status', 'data-status')) !== 'cancelled') problems.push('the declined order is not cancelled');
  await visit(buyer, 'order cancelled');
  await buyer.goto(`${base}/orders`);
  await visit(buyer, 'orders');

  // 4. The seller sees both paid orders, as paid (and not the cancelled
  // one, which was never a sale).
  await seller.goto(`${base}/sales`);
  await visit(seller, 'sales');
  const listed = await seller.locator('main a[href^="/sales/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  for (const id of [orders.ok, orders.threeDs]) {
    if (!listed.includes(`/sales/${id}`)) problems.push(`the seller's list lacks sale ${id}: ${listed}`);
  }
  if (listed.includes(`/sales/${orders.declined}`)) problems.push('the seller sees the cancelled order');
  for (const id of [orders.ok, orders.threeDs]) {
    await seller.goto(`${base}/sales/${id}`);
    if ((await seller.getAttribute('#order-status', 'data-status')) !== 'paid') problems.push(`sale ${id} is not paid`);
  }
  await visit(seller, 'sale');
} catch (e) {
  problems.push(`journey step failed: ${e.stack || e.message}`);
} finally {
  if (process.env.ANSHIN_REQUEST_LOG) writeFileSync(process.env.ANSHIN_REQUEST_LOG, JSON.stringify(requests));
  await browser.close();
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(JSON.stringify({ pages, checks: checks.length, orders, items }));
