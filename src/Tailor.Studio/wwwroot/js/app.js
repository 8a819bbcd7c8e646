// Tailor Studio: one page, six screens chosen by the address's hash (#/, #/p/<id>/collect|train|evaluate|try|models), so
// a reload or a bookmark reopens the same screen (a running training run shows live with its history).
import { replace, h, clearError, showError } from './dom.js';
import { api } from './api.js';
import * as projects from './projects.js';
import * as collect from './collect.js';
import * as train from './train.js';
import * as evaluate from './evaluate.js';
import * as models from './models.js';
import * as tryLive from './try.js';

const screens = { collect, train, evaluate, try: tryLive, models };
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
      cleanup = await projects.render(view, context);
      return;
    }
    const project = await api.project(where.projectId);
    if (context.stale()) return;
    nav.hidden = false;
    nav.querySelector('.project-name').textContent = project.name;
    for (const link of nav.querySelectorAll('a[data-screen]')) {
      link.href = `#/p/${project.id}/${link.dataset.screen}`;
      if (link.dataset.screen === where.screen) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `${titles[where.screen]} · ${project.name} · Tailor Studio`;
    cleanup = await screens[where.screen].render(view, { ...context, project, rest: where.rest });
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
