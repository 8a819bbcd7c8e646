// Guidance (issue 12, item 6): the project's hints where users get stuck — too few photos for a label, no test set or
// none for a label, an unbalanced training set, unreadable photos, a run whose loss diverged — each on the screen it
// applies to, with what to do. One call per screen: `guidance(view, project, where)` puts the box near the top of the
// screen (under its first panel) and returns { refresh } for after a change (an upload, a run's end), and `ready`, settled
// once the first hints are shown (a screen can wait for it before placing what the box would push down).
import { h, replace } from './dom.js';
import { api } from './api.js';

const SCREEN = { collect: 'Collect', train: 'Train', evaluate: 'Evaluate' };

/** Shows the hints for `where` (collect | train | evaluate) under the screen's first panel (its title and main
 *  controls); refresh() reloads them. options.hide(item): true for a hint the screen already shows (the Train screen's
 *  run message says a diverged run's reason as it ends; the hint says it after a reload). */
export function guidance(view, project, where, options = {}) {
  const list = h('ul', { class: 'hints', 'data-testid': 'hints' });
  const box = h('section', { class: 'guidance', hidden: true, 'data-testid': 'guidance', 'data-where': where, 'aria-labelledby': `guidance-${where}` },
    h('h2', { id: `guidance-${where}`, class: 'visually-hidden', text: `Hints for ${SCREEN[where] ?? where}` }), list);
  const first = view.querySelector(':scope > section');
  if (first) first.after(box); else view.prepend(box);
  let asked = 0;
  const refresh = async () => {
    const mine = ++asked;
    const items = await api.guidance(project.id).catch(() => null);
    if (mine !== asked || !items || !box.isConnected) return;
    const here = items.filter(item => item.where === where && !options.hide?.(item));
    replace(list, here.map(item => h('li', {
      class: `hint ${item.severity === 'error' ? 'error' : 'warning'}`, 'data-testid': 'hint', 'data-code': item.code,
      'data-severity': item.severity, 'data-label-id': item.labelId ?? '',
    },
      h('p', { class: 'hint-message', 'data-testid': 'hint-message' }, h('strong', { text: item.severity === 'error' ? 'Problem: ' : 'Hint: ' }), item.message),
      h('p', { class: 'hint-action', 'data-testid': 'hint-action' }, item.action,
        item.where !== 'collect' && /on Collect/.test(item.action) ? [' ', h('a', { href: `#/p/${project.id}/collect`, text: 'Open Collect' })] : null))));
    box.hidden = here.length === 0;
    box.dataset.count = String(here.length);
    box.dataset.shown = String(mine);   // how many times the hints were (re)loaded: tests wait for a refresh by it
  };
  const ready = refresh();
  return { element: box, refresh, ready };
}
