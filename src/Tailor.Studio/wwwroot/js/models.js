// Models: every version of the project's model (the pretrained base, trained ones, resets) with the settings of the run
// that made it, reset to an empty classifier or make the base or an earlier version current, download the current model
// as ONNX; two versions side by side on the test set; the history of every run.
import { h, replace, attempt, confirmDialog, announce, percent } from './dom.js';
import { api } from './api.js';
import { renderCompare, renderHistory, settingsText, headName } from './versions.js';

const KINDS = ['base', 'trained', 'reset'];
const kindName = kind => typeof kind === 'number' ? KINDS[kind] ?? String(kind) : String(kind).toLowerCase();
const describe = { base: 'pretrained base (as prepared)', trained: 'trained', reset: 'empty classifier' };

export async function render(view, context) {
  const project = context.project;
  const list = h('tbody', { 'data-testid': 'model-rows' });
  const current = h('p', { 'data-testid': 'current-model' });
  const refresh = async () => {
    const [versions, details] = await Promise.all([api.models(project.id), api.versions(project.id)]);
    if (context.stale()) return;
    const detailOf = new Map(details.map(d => [d.id, d]));
    const sorted = [...versions].sort((a, b) => b.id - a.id);
    const now = sorted.find(v => v.isCurrent);
    replace(current, now ? `Current: version ${now.id}, ${describe[kindName(now.kind)] ?? kindName(now.kind)}${now.accuracy !== null && now.accuracy !== undefined ? `, test accuracy ${percent(now.accuracy)}` : ''}.` : 'No current model.');
    current.dataset.versionId = now?.id ?? '';
    replace(list, sorted.map(v => {
      const kind = kindName(v.kind);
      return h('tr', { 'data-testid': 'model-row', 'data-version-id': v.id, 'data-kind': kind, class: v.isCurrent ? 'current' : '' },
        h('th', { scope: 'row', text: String(v.id) }),
        h('td', { text: describe[kind] ?? kind }),
        h('td', { text: v.runId ? `run ${v.runId}` : '–' }),
        h('td', { 'data-testid': 'model-settings', text: detailOf.get(v.id)?.settings ? `${headName(detailOf.get(v.id).settings.head)}: ${settingsText(detailOf.get(v.id).settings, detailOf.get(v.id).epochsTrained)}` : '–' }),
        h('td', { text: new Date(v.created).toLocaleString() }),
        h('td', { 'data-testid': 'model-accuracy', text: percent(detailOf.get(v.id)?.accuracy ?? v.accuracy) }),
        h('td', {}, v.isCurrent ? h('strong', { text: 'current' })
          : h('button', {
            type: 'button', 'data-testid': 'make-current', text: kind === 'base' ? 'Reset to this base' : 'Make current',
            onclick: async () => {
              if (!await confirmDialog(`Make version ${v.id} current?`, 'Training continues from it. Later versions stay in this list.', 'Make current')) return;
              if (await attempt(() => api.makeCurrent(project.id, v.id)) === undefined) return;
              announce(`Version ${v.id} is current.`);
              await refresh();
            },
          })));
    }));
    await compare.update(details);
    await history.update();
  };

  const compare = renderCompare(project, context);
  const history = renderHistory(project, context);
  const base = async () => (await api.models(project.id)).filter(v => kindName(v.kind) === 'base').sort((a, b) => a.id - b.id)[0];
  replace(view,
    h('section', { class: 'panel', 'aria-labelledby': 'models-title' },
      h('h1', { id: 'models-title', text: 'Models' }),
      current,
      h('div', { class: 'buttons' },
        h('a', { class: 'button primary', href: api.downloadUrl(project.id), download: '', 'data-testid': 'download', text: 'Download current model (.onnx)' }),
        h('button', {
          type: 'button', class: 'danger', 'data-testid': 'reset-empty', text: 'Reset to an empty classifier…',
          onclick: async () => {
            if (!await confirmDialog('Reset to an empty classifier?', 'A new current version with the classifier as prepare makes it (untrained); the training history starts again. Earlier versions stay in the list.', 'Reset')) return;
            if (await attempt(() => api.resetToEmpty(project.id)) === undefined) return;
            announce('The model is reset to an empty classifier.');
            await refresh();
          },
        }),
        h('button', {
          type: 'button', 'data-testid': 'reset-base', text: 'Reset to the pretrained base…',
          onclick: async () => {
            const version = await attempt(base);
            if (!version) return;
            if (!await confirmDialog('Reset to the pretrained base?', `Version ${version.id}, the model as the project was made, becomes current.`, 'Reset')) return;
            if (await attempt(() => api.makeCurrent(project.id, version.id)) === undefined) return;
            announce('The model is reset to the pretrained base.');
            await refresh();
          },
        })),
      h('p', { class: 'muted', text: 'The download is a standard ONNX model: it runs in plain ONNX Runtime, and the tailor command line can train it further.' })),
    h('section', { class: 'panel', 'aria-labelledby': 'versions-title' },
      h('h2', { id: 'versions-title', text: 'Versions' }),
      h('div', { class: 'scroll' }, h('table', { 'data-testid': 'model-table' },
        h('thead', {}, h('tr', {}, ['version', 'kind', 'made by', 'settings', 'created', 'test accuracy', ''].map(t => h('th', { scope: 'col', text: t })))),
        list))),
    compare.element,
    history.element);
  await refresh();
  return () => {};
}
