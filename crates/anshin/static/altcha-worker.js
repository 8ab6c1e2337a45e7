// Solves an ALTCHA proof-of-work challenge (C7) off the main thread:
// finds the number n in 0..=maxnumber with SHA-256(salt + n) == challenge,
// using WebCrypto. Receives the challenge JSON from /api/v1/challenge,
// answers {number} or {error}. First-party, no network access.
'use strict';

const BATCH = 256;

function toBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function same(buf, want) {
  const got = new Uint8Array(buf);
  if (got.length !== want.length) return false;
  for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) return false;
  return true;
}

self.onmessage = async (event) => {
  const c = event.data || {};
  if (c.algorithm !== 'SHA-256' || typeof c.salt !== 'string' ||
      typeof c.challenge !== 'string' || c.challenge.length !== 64 ||
      !Number.isSafeInteger(c.maxnumber) || c.maxnumber < 0) {
    self.postMessage({ error: 'unsupported' });
    return;
  }
  const want = toBytes(c.challenge.toLowerCase());
  const enc = new TextEncoder();
  try {
    for (let start = 0; start <= c.maxnumber; start += BATCH) {
      const end = Math.min(start + BATCH - 1, c.maxnumber);
      const work = [];
      for (let n = start; n <= end; n++) {
        work.push(crypto.subtle.digest('SHA-256', enc.encode(c.salt + n)));
      }
      const hashes = await Promise.all(work);
      for (let i = 0; i < hashes.length; i++) {
        if (same(hashes[i], want)) {
          self.postMessage({ number: start + i });
          return;
        }
      }
    }
    self.postMessage({ error: 'unsolved' });
  } catch (e) {
    self.postMessage({ error: 'crypto' });
  }
};
