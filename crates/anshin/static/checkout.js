// The card payment page (C15): mounts the card processor's own element
// (its script, loaded just before this one, from its origin), lets the
// processor's script turn the card into a reference in the browser, and
// sends anshin only that reference. The card number never reaches anshin.
// 3-D Secure is finished with the processor's script; then the server
// asks the processor how the payment stands (the browser's word is never
// taken for it). No inline code: the page's CSP forbids it.
(function () {
  'use strict';
  var form = document.getElementById('pay-form');
  if (!form) return;
  var button = document.getElementById('pay-button');
  var message = document.getElementById('pay-message');
  var status = document.getElementById('pay-status');
  var order = form.getAttribute('data-order');
  var network = form.getAttribute('data-network');
  var base = '/api/v1/orders/' + encodeURIComponent(order) + '/payment';

  function show(text) {
    message.textContent = text || '';
    message.hidden = !text;
  }
  function idle() {
    button.disabled = false;
    status.textContent = '';
  }
  if (typeof window.Stripe !== 'function') {
    show(network);
    button.disabled = true;
    return;
  }
  var stripe = window.Stripe(form.getAttribute('data-publishable-key'));
  var card = stripe.elements().create('card');
  card.mount('#card-element');

  async function api(path, body) {
    var res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body || {}),
    });
    var json = {};
    try { json = await res.json(); } catch (e) { json = {}; }
    if (!res.ok) throw new Error(json.message || network);
    return json;
  }

  async function settle(answer, tries) {
    if (answer.status === 'requires_action') {
      await stripe.confirmCardPayment(answer.client_secret);
      answer = await api(base + '/refresh');
    }
    if (answer.status === 'paid') {
      window.location.assign('/orders/' + encodeURIComponent(order));
      return;
    }
    if (answer.status === 'pending' && tries < 30) {
      status.textContent = answer.message || '';
      await new Promise(function (r) { setTimeout(r, 2000); });
      return settle(await api(base + '/refresh'), tries + 1);
    }
    show(answer.message || network);
    idle();
  }

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    show('');
    button.disabled = true;
    status.textContent = form.getAttribute('data-working');
    try {
      var result = await stripe.createToken(card);
      if (result.error || !result.token || !result.token.card) {
        show((result.error && result.error.message) || network);
        idle();
        return;
      }
      await settle(await api(base, { payment_method: result.token.card.id }), 0);
    } catch (e) {
      show(e.message || network);
      idle();
    }
  });
})();
