// Small DOM helpers: element building, the confirmation/prompt dialog, the live status and error messages.

/** Builds an element. props: class, text, attributes (names with '-' or 'aria'/'data'), on<event> handlers,
 *  and DOM properties (value, checked, disabled, hidden…). Children: nodes, strings, arrays, null (skipped). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key.includes('-') || key === 'role' || key === 'for' || key === 'href' || key === 'src' || key === 'alt'
      || key === 'title' || key === 'type' || key === 'name' || key === 'scope' || key === 'tabindex' || key === 'id')
      el.setAttribute(key, value === true ? '' : String(value));
    else el[key] = value;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let lastStatus = '';
/** Announces a status change to screen readers (the aria-live region), once per change. */
export function announce(message) {
  if (message === lastStatus) return;
  lastStatus = message;
  document.getElementById('live-status').textContent = message;
}

/** Shows an error (or a notice) at the top of the page; it stays until dismissed or the next one. */
export function showError(error) {
  const box = document.querySelector('.messages');
  const message = typeof error === 'string' ? error : (error?.message ?? String(error));
  replace(box, h('p', { class: 'error' }, h('span', { text: message }),
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', text: '×', onclick: () => replace(box) })));
}

export function clearError() {
  replace(document.querySelector('.messages'));
}

/** Runs an async action, showing its error instead of throwing; returns its result or undefined. */
export async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

function openDialog({ title, text, okText, danger, input, choices }) {
  const dialog = document.querySelector('dialog.modal');
  const field = dialog.querySelector('.dialog-field');
  const inputEl = dialog.querySelector('input');
  const choiceBox = dialog.querySelector('.dialog-choices');
  const selects = (choices ?? []).map(c => h('select', { 'data-testid': c.testId },
    c.options.map(o => h('option', { value: o.value, text: o.text, selected: o.value === c.value }))));
  replace(choiceBox, (choices ?? []).map((c, i) => h('label', { class: 'dialog-field' }, h('span', { text: c.label }), selects[i])));
  choiceBox.hidden = !choices;
  const ok = dialog.querySelector('[value=ok]');
  const cancel = dialog.querySelector('[value=cancel]');
  dialog.querySelector('h2').textContent = title;
  dialog.querySelector('.dialog-text').textContent = text ?? '';
  ok.textContent = okText ?? 'OK';
  ok.classList.toggle('danger', !!danger);
  field.hidden = !input;
  if (input) {
    field.querySelector('.dialog-field-label').textContent = input.label;
    inputEl.value = input.value ?? '';
    inputEl.required = true;
  } else {
    inputEl.required = false;
  }
  dialog.returnValue = '';
  // Enter in the field means OK (the form's default button would be the first one, Cancel).
  inputEl.onkeydown = event => {
    if (event.key !== 'Enter' || event.isComposing) return;
    event.preventDefault();
    if (inputEl.reportValidity()) dialog.close('ok');
  };
  return new Promise(resolve => {
    dialog.addEventListener('close', () => {
      const confirmed = dialog.returnValue === 'ok';
      resolve(input ? (confirmed ? inputEl.value.trim() : null) : choices ? (confirmed ? selects.map(s => s.value) : null) : confirmed);
    }, { once: true });
    dialog.showModal();
    // Destructive questions start on Cancel; a prompt starts in its field, a choice on its first list.
    (input ? inputEl : choices ? selects[0] : danger ? cancel : ok).focus();
    if (input) inputEl.select();
  });
}

/** Asks before a destructive action (a modal dialog: Enter/Escape/Tab work as usual). Resolves true on OK. */
export function confirmDialog(title, text, okText = 'Delete') {
  return openDialog({ title, text, okText, danger: true });
}

/** Asks for a text (e.g. a label's new name). Resolves the trimmed text, or null when cancelled. */
export function promptDialog(title, label, value = '', okText = 'Save') {
  return openDialog({ title, okText, input: { label, value } });
}

/** Asks to choose in one or more lists: `choices` = [{ label, testId, options: [{ value, text }], value }] (values are
 *  strings; `value` is chosen first). Resolves the chosen values in that order, or null when cancelled. */
export function chooseDialog(title, choices, okText = 'OK') {
  return openDialog({ title, okText, choices });
}

/** "3 photos" / "1 photo". */
export function plural(count, word, many = word + 's') {
  return `${count} ${count === 1 ? word : many}`;
}

export function percent(value) {
  return value === null || value === undefined || Number.isNaN(value) ? '–' : `${(value * 100).toFixed(1)} %`;
}

export function fixed(value, digits = 4) {
  return value === null || value === undefined ? '–' : Number(value).toFixed(digits);
}
