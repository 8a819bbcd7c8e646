// Try it: the current model on the webcam, live, and on a dropped or pasted image (issue 12, item 3).
import { h, replace } from './dom.js';

export async function render(view) {
  replace(view, h('section', { 'data-testid': 'try-screen' }, h('h1', { text: 'Try it' }),
    h('p', { class: 'muted', text: 'Live prediction is being built.' })));
  return () => {};
}
