// The bot challenge widget (C7): a first-party, ALTCHA-compatible
// proof-of-work check that works under the site's strict CSP (no inline
// script or style, no third-party request).
//
// Every element with `data-altcha` inside a form becomes a real checkbox
// "I am not a robot" with a label and an aria-live status. Ticking it, or
// focusing the form, fetches a challenge from `data-challenge-url`, solves
// it in a Web Worker (`data-worker`, content-hashed) and writes the
// base64 solution into a hidden input named `altcha`. Submitting before
// it is solved waits for the solution, then submits.
(function () {
  'use strict';

  let counter = 0;

  function expiresAt(salt) {
    const m = /[?&]expires=(\d+)/.exec(salt);
    return m ? Number(m[1]) * 1000 : 0;
  }

  function setup(box) {
    const form = box.closest('form');
    if (!form || box.dataset.altchaReady) return;
    box.dataset.altchaReady = '1';
    const id = 'altcha-' + (++counter);

    const check = document.createElement('input');
    check.type = 'checkbox';
    check.id = id;
    check.className = 'altcha-check';
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = box.dataset.label || 'I am not a robot';
    const status = document.createElement('span');
    status.className = 'altcha-status';
    status.setAttribute('role', 'status');
    status.setAttribute('aria-live', 'polite');
    status.id = id + '-status';
    check.setAttribute('aria-describedby', status.id);
    let hidden = form.querySelector('input[name="altcha"]');
    if (!hidden) {
      hidden = document.createElement('input');
      hidden.type = 'hidden';
      hidden.name = 'altcha';
      box.appendChild(hidden);
    }
    const row = document.createElement('span');
    row.className = 'altcha-row';
    row.appendChild(check);
    row.appendChild(label);
    box.insertBefore(row, box.firstChild);
    box.appendChild(status);

    let running = null;
    let submitAfter = false;
    let expiryTimer = 0;

    function show(state, text) {
      box.dataset.state = state;
      status.textContent = text || '';
      box.setAttribute('aria-busy', state === 'working' ? 'true' : 'false');
    }

    function reset() {
      hidden.value = '';
      check.checked = false;
      show('idle', '');
    }

    function solve() {
      if (hidden.value) return Promise.resolve(hidden.value);
      if (running) return running;
      show('working', box.dataset.working);
      check.checked = false;
      running = fetch(box.dataset.challengeUrl || '/api/v1/challenge', {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        cache: 'no-store'
      })
        .then(function (res) {
          if (!res.ok) throw new Error('challenge ' + res.status);
          return res.json();
        })
        .then(function (c) {
          return new Promise(function (resolve, reject) {
            const worker = new Worker(box.dataset.worker);
            worker.onmessage = function (e) {
              worker.terminate();
              if (e.data && Number.isSafeInteger(e.data.number)) {
                resolve({ c: c, number: e.data.number });
              } else {
                reject(new Error('unsolved'));
              }
            };
            worker.onerror = function () {
              worker.terminate();
              reject(new Error('worker'));
            };
            worker.postMessage(c);
          });
        })
        .then(function (r) {
          const payload = {
            algorithm: r.c.algorithm,
            challenge: r.c.challenge,
            number: r.number,
            salt: r.c.salt,
            signature: r.c.signature
          };
          hidden.value = btoa(JSON.stringify(payload));
          check.checked = true;
          show('done', box.dataset.done);
          const left = expiresAt(r.c.salt) - Date.now() - 10000;
          clearTimeout(expiryTimer);
          if (left > 0) expiryTimer = setTimeout(reset, left);
          running = null;
          if (submitAfter) {
            submitAfter = false;
            if (form.requestSubmit) form.requestSubmit(); else form.submit();
          }
          return hidden.value;
        })
        .catch(function () {
          running = null;
          submitAfter = false;
          hidden.value = '';
          check.checked = false;
          show('error', box.dataset.error);
        });
      return running;
    }

    check.addEventListener('change', function () {
      if (check.checked && !hidden.value) {
        solve();
      } else if (!check.checked && hidden.value) {
        // Unticking is allowed; a solution already made stays valid.
        check.checked = true;
      }
    });
    form.addEventListener('focusin', function (e) {
      if (e.target !== check) solve();
    }, { once: true });
    form.addEventListener('submit', function (e) {
      if (!hidden.value) {
        e.preventDefault();
        submitAfter = true;
        solve();
      }
    });
    show('idle', '');
  }

  function init() {
    document.querySelectorAll('[data-altcha]').forEach(setup);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
