// The staff console's no-copy layer (C23, docs/adr/0017-labels-and-no-copy.md).
// Loaded by every console page, before the body, from this origin (CSP
// script-src 'self'; no inline code). With the stylesheet's
// `body.console { user-select: none }` it refuses selecting text outside
// form fields, copying and cutting anything (form fields included),
// dragging, dropping and the context menu. Pasting stays allowed: a
// worker pastes or scans a drop-off code into a field.
//
// This is a speed bump, not a wall: screenshots, photos, the browser's
// developer tools and saving the page are out of a page's reach. The real
// defences are that addresses reach the browser only inside the label
// image, with a per-view watermark, and that every view is audited.
(() => {
  'use strict';
  const isField = (t) =>
    t instanceof Element && t.closest('input, textarea, select, [contenteditable="true"]') !== null;
  const refuse = (e) => {
    e.preventDefault();
    e.stopImmediatePropagation();
  };
  for (const type of ['copy', 'cut', 'contextmenu', 'dragstart', 'drop']) {
    document.addEventListener(type, refuse, { capture: true });
  }
  // Selection: none outside form fields (the CSS does the same; this
  // covers browsers that ignore user-select).
  document.addEventListener(
    'selectstart',
    (e) => {
      if (!isField(e.target)) refuse(e);
    },
    { capture: true },
  );
  // The label page's print button (no inline handler under the CSP).
  document.addEventListener('click', (e) => {
    if (e.target instanceof Element && e.target.closest('[data-print]')) window.print();
  });
})();
