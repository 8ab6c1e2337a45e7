// anshin staff console: passkeys (WebAuthn) on the login and security
// pages. Served from this origin (CSP script-src 'self'; no inline code).
//
// A form marked data-passkey="login" or data-passkey="register" is taken
// over on submit: the page asks its data-options URL for the ceremony
// (POST, form-encoded, with the form's csrf_token when it has one), gets
// { ceremony, options } with byte strings in base64url, calls
// navigator.credentials.get / .create, and posts the form with the
// ceremony token and the authenticator's answer as JSON (byte strings in
// base64url) in hidden fields. The server checks everything; this script
// only carries bytes. Without it, or without WebAuthn, the page says to
// use the code.
(() => {
  'use strict';

  const toBytes = (b64url) => {
    const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  };
  const toB64url = (buf) => {
    const bytes = new Uint8Array(buf);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };

  const creationOptions = (o) => {
    const pk = { ...o.publicKey };
    pk.challenge = toBytes(pk.challenge);
    pk.user = { ...pk.user, id: toBytes(pk.user.id) };
    if (Array.isArray(pk.excludeCredentials)) {
      pk.excludeCredentials = pk.excludeCredentials.map((c) => ({ ...c, id: toBytes(c.id) }));
    }
    return { publicKey: pk };
  };
  const requestOptions = (o) => {
    const pk = { ...o.publicKey };
    pk.challenge = toBytes(pk.challenge);
    if (Array.isArray(pk.allowCredentials)) {
      pk.allowCredentials = pk.allowCredentials.map((c) => ({ ...c, id: toBytes(c.id) }));
    }
    return { publicKey: pk };
  };

  const registration = (cred) => ({
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: toB64url(cred.response.attestationObject),
      clientDataJSON: toB64url(cred.response.clientDataJSON),
      transports:
        typeof cred.response.getTransports === 'function' ? cred.response.getTransports() : undefined,
    },
    extensions: {},
  });
  const assertion = (cred) => ({
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: toB64url(cred.response.authenticatorData),
      clientDataJSON: toB64url(cred.response.clientDataJSON),
      signature: toB64url(cred.response.signature),
      userHandle: cred.response.userHandle ? toB64url(cred.response.userHandle) : null,
    },
    extensions: {},
  });

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    const kind = form.dataset.passkey;
    const note = form.querySelector('[data-passkey-note]');
    const say = (text) => {
      if (!note) return;
      note.textContent = text;
      note.hidden = false;
    };
    const supported = typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
    if (!supported) {
      say(form.dataset.unsupported || '');
      for (const b of form.querySelectorAll('button')) b.disabled = true;
      continue;
    }
    let busy = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (busy) return;
      if (!form.reportValidity()) return;
      busy = true;
      try {
        const body = new URLSearchParams();
        const csrf = form.elements.namedItem('csrf_token');
        if (csrf) body.set('csrf_token', csrf.value);
        const res = await fetch(form.dataset.options, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
        const type = res.headers.get('content-type') || '';
        if (!type.startsWith('application/json')) {
          // The policy sent us elsewhere (step-up, login): go there.
          window.location.assign(res.redirected ? res.url : form.action);
          return;
        }
        const data = await res.json();
        if (!res.ok || !data.ceremony) {
          say(data.message || form.dataset.unsupported || '');
          return;
        }
        let cred;
        if (kind === 'register') {
          cred = await navigator.credentials.create(creationOptions(data.options));
        } else {
          cred = await navigator.credentials.get(requestOptions(data.options));
        }
        if (!cred) {
          say(form.dataset.cancelled || '');
          return;
        }
        const answer = kind === 'register' ? registration(cred) : assertion(cred);
        form.elements.namedItem('ceremony').value = data.ceremony;
        form.elements.namedItem('credential').value = JSON.stringify(answer);
        form.submit();
      } catch (err) {
        say(form.dataset.cancelled || String(err));
      } finally {
        busy = false;
      }
    });
  }
})();
