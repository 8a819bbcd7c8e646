// Tailor Studio: one page, six screens chosen by the address's hash (#/, #/p/<id>/collect|train|evaluate|try|models), so
// a reload or a bookmark reopens the same screen (a running training run shows live with its history).
import { replace, h, clearError, showError } from './dom.js';
import { api } from './api.js';

// A screen's module is imported when the screen is first shown (index.html preloads them all): the project is asked for
// while the module loads, not after every screen's module has.
const screens = {
  projects: () => import('./projects.js'),
  collect: () => import('./collect.js'),
  train: () => import('./train.js'),
  evaluate: () => import('./evaluate.js'),
  try: () => import('./try.js'),
  models: () => import('./models.js'),
};
const titles = { collect: 'Collect', train: 'Train', evaluate: 'Evaluate', try: 'Try it', models: 'Models' };
let cleanup = null;
let generation = 0;

function parse(hash) {
  const match = /^#\/p\/(\d+)\/(collect|train|evaluate|try|models)(?:\/(.*))?$/.exec(hash);
  return match ? { projectId: Number(match[1]), screen: match[2], rest: match[3] ?? '' } : { screen: 'projects' };
}

async function route() {
  const current = ++generation;
  if (cleanup) {
    try { cleanup(); } catch { /* a screen's cleanup never blocks the next one */ }
    cleanup = null;
  }
  clearError();
  const view = document.getElementById('view');
  const nav = document.querySelector('nav.tabs');
  const where = parse(location.hash);
  const context = { stale: () => current !== generation };
  replace(view, h('p', { class: 'muted', text: 'Loading…' }));
  try {
    if (where.screen === 'projects') {
      nav.hidden = true;
      document.title = 'Tailor Studio';
      const projects = await screens.projects();
      if (context.stale()) return;
      cleanup = await projects.render(view, context);
      return;
    }
    const [project, screen] = await Promise.all([api.project(where.projectId), screens[where.screen]()]);
    if (context.stale()) return;
    nav.hidden = false;
    nav.querySelector('.project-name').textContent = project.name;
    for (const link of nav.querySelectorAll('a[data-screen]')) {
      link.href = `#/p/${project.id}/${link.dataset.screen}`;
      if (link.dataset.screen === where.screen) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `${titles[where.screen]} · ${project.name} · Tailor Studio`;
    cleanup = await screen.render(view, { ...context, project, rest: where.rest });
  } catch (error) {
    if (context.stale()) return;
    replace(view, h('p', { class: 'muted' }, 'This screen could not be shown. ', h('a', { href: '#/', text: 'Back to the projects' })));
    showError(error);
  }
}

window.addEventListener('hashchange', route);
const asked = new URLSearchParams(location.search).get('project');
if (asked && /^\d+$/.test(asked) && !location.hash) history.replaceState(null, '', `/#/p/${asked}/collect`);
route();
