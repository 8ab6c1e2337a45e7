// anshin: the address forms' "look up address" button, without a reload.
// Without this script the button posts the form and the server fills the
// same fields (member_pages.rs); with it, the page asks
// GET /api/v1/postcodes/{code} and fills prefecture, city and, when empty,
// the street line with the town. Anything else (a malformed or unknown
// postcode, several areas, no network) falls back to the server's answer,
// which says what happened. Served from this origin (CSP script-src 'self').
(() => {
  'use strict';
  for (const button of document.querySelectorAll('button[data-postcode-lookup]')) {
    button.addEventListener('click', async (event) => {
      const form = button.form;
      const field = (name) => form.elements.namedItem(name);
      const postal = field('postal_code');
      if (!postal) return;
      event.preventDefault();
      const fallBack = () => form.requestSubmit(button);
      let data;
      try {
        const res = await fetch(`/api/v1/postcodes/${encodeURIComponent(postal.value.trim())}`, {
          headers: { accept: 'application/json' },
          credentials: 'same-origin',
        });
        if (!res.ok) return fallBack();
        data = await res.json();
      } catch {
        return fallBack();
      }
      if (!data || !Array.isArray(data.areas) || data.areas.length !== 1) return fallBack();
      const area = data.areas[0];
      postal.value = data.postcode;
      field('prefecture').value = area.prefecture;
      field('city').value = area.city;
      const line1 = field('line1');
      if (line1.value.trim() === '') line1.value = area.town;
      let note = form.parentElement.querySelector('p[data-postcode-note]');
      if (!note) {
        note = document.createElement('p');
        note.className = 'notice';
        note.setAttribute('role', 'status');
        note.dataset.postcodeNote = '';
        form.before(note);
      }
      note.textContent = button.dataset.found || '';
      line1.focus();
    });
  }
})();
