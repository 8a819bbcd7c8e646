// Projects: the list, a new project from the embedded ResNet18 or from an uploaded ONNX model, delete (asks first);
// import a zip of photos or a whole project file (.tailor), export a project's photos (zip) or the whole project.
// Importing a folder is `tailor studio --import DIR` (the command line reads the folder where it is).
import { h, replace, attempt, confirmDialog, plural, announce, showError } from './dom.js';
import { api } from './api.js';

export async function render(view) {
  const list = h('div', { class: 'project-list', 'data-testid': 'project-list' });
  const form = newProjectForm();
  replace(view,
    h('section', { class: 'panel', 'aria-labelledby': 'projects-title' },
      h('h1', { id: 'projects-title', text: 'Projects' }),
      list),
    form,
    importForm(() => refresh(list)),
    h('p', { class: 'muted' }, 'To make a project from a folder of photos (', h('code', { text: 'DIR/<label>/…' }),
      ', or one with ', h('code', { text: 'train/' }), ' and ', h('code', { text: 'test/' }), ' inside), start the studio with ',
      h('code', { text: 'tailor studio --import DIR' }), ', or zip the folder and import the zip above.'));
  await refresh(list);
}

async function refresh(list) {
  const projects = await api.projects();
  if (projects.length === 0) {
    replace(list, h('p', { class: 'muted', 'data-testid': 'no-projects', text: 'No projects yet: make one below.' }));
    return;
  }
  replace(list, h('ul', { class: 'cards' }, projects.map(project => {
    const labels = project.labels ?? [];
    const train = labels.reduce((sum, label) => sum + (label.trainCount ?? 0), 0);
    const test = labels.reduce((sum, label) => sum + (label.testCount ?? 0), 0);
    return h('li', { class: 'card', 'data-testid': 'project-card', 'data-project-id': project.id },
      h('h2', {}, h('a', { href: `#/p/${project.id}/collect`, 'data-testid': 'open-project', text: project.name })),
      h('p', { class: 'muted', text: project.baseDescription ?? '' }),
      h('p', { text: `${plural(labels.length, 'label')} of ${project.capacity} slots · ${train} training, ${test} test examples` }),
      h('div', { class: 'buttons' },
        h('a', { class: 'button', href: `#/p/${project.id}/train`, text: 'Train' }),
        h('a', { class: 'button', href: `#/p/${project.id}/evaluate`, text: 'Evaluate' }),
        h('a', {
          class: 'button', href: api.exportPhotosUrl(project.id), download: '', 'data-testid': 'export-photos', text: 'Export photos (zip)',
          title: 'train/<label>/… and test/<label>/…: what Import, tailor train and other tools read',
        }),
        h('a', {
          class: 'button', href: api.exportProjectUrl(project.id), download: '', 'data-testid': 'export-project', text: 'Export project',
          title: 'The whole project as one .tailor file: photos, labels, runs, model versions. Import it here or on another machine.',
        }),
        h('button', {
          type: 'button', class: 'danger', 'data-testid': 'delete-project', text: 'Delete…',
          onclick: async () => {
            if (!await confirmDialog(`Delete the project “${project.name}”?`,
              `Its labels, ${train + test} examples, runs and model versions are deleted. This cannot be undone.`)) return;
            await attempt(async () => { await api.deleteProject(project.id); await refresh(list); });
          },
        })));
  })));
}

function newProjectForm() {
  const name = h('input', { type: 'text', name: 'name', required: true, maxLength: 200, 'data-testid': 'new-project-name', id: 'new-name' });
  const capacity = h('input', { type: 'number', name: 'capacity', min: 1, max: 1000, value: 10, 'data-testid': 'new-project-capacity', id: 'new-capacity' });
  const fromResNet = h('input', { type: 'radio', name: 'base', value: 'resnet18', checked: true, 'data-testid': 'base-resnet18', id: 'base-resnet18' });
  const fromOnnx = h('input', { type: 'radio', name: 'base', value: 'onnx', 'data-testid': 'base-onnx', id: 'base-onnx' });
  const onnx = onnxFields();
  const toggle = () => { onnx.fieldset.hidden = !fromOnnx.checked; onnx.file.required = fromOnnx.checked; };
  fromResNet.addEventListener('change', toggle);
  fromOnnx.addEventListener('change', toggle);
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-project', text: 'Create project' });
  const form = h('form', {
    class: 'panel', 'aria-labelledby': 'new-project-title', 'data-testid': 'new-project-form',
    onsubmit: async event => {
      event.preventDefault();
      submit.disabled = true;
      status.textContent = 'Preparing the model…';
      const project = await attempt(() => fromOnnx.checked
        ? api.createProjectFromOnnx(onnx.formData(name.value.trim(), capacity.value))
        : api.createProject(name.value.trim(), Number(capacity.value)));
      submit.disabled = false;
      status.textContent = '';
      if (project) location.hash = `#/p/${project.id}/collect`;
    },
  },
  h('h2', { id: 'new-project-title', text: 'New project' }),
  h('div', { class: 'row' },
    h('label', { for: 'new-name', text: 'Name' }), name,
    h('label', { for: 'new-capacity', text: 'Label slots' }), capacity),
  h('fieldset', { class: 'choices' },
    h('legend', { text: 'Start from' }),
    h('label', {}, fromResNet, ' ResNet18 (built in: 512 features per photo, ImageNet-trained)'),
    h('label', {}, fromOnnx, ' My own ONNX model (the options a base model needs, as ', h('code', { text: 'tailor prepare' }), ' takes them)')),
  onnx.fieldset,
  h('div', { class: 'buttons' }, submit),
  status);
  toggle();
  return form;
}

function onnxFields() {
  const field = (label, input) => h('label', { class: 'field' }, h('span', { text: label }), input);
  const file = h('input', { type: 'file', name: 'model', accept: '.onnx', 'data-testid': 'onnx-file' });
  const featureOutput = h('input', { type: 'text', name: 'featureOutput', placeholder: 'the only output', 'data-testid': 'onnx-feature-output' });
  const layers = h('input', { type: 'text', name: 'updatableLayers', placeholder: 'classifier only', 'data-testid': 'onnx-layers' });
  const width = h('input', { type: 'number', name: 'width', min: 1, max: 4096, placeholder: 'from the model' });
  const height = h('input', { type: 'number', name: 'height', min: 1, max: 4096, placeholder: 'from the model' });
  const resize = h('select', { name: 'resize' }, ['Stretch', 'CenterCrop', 'Pad'].map(v => h('option', { value: v, text: v })));
  const channels = h('select', { name: 'channels' }, ['Rgb', 'Bgr', 'Gray'].map(v => h('option', { value: v, text: v.toUpperCase() })));
  const layout = h('select', { name: 'layout' }, ['Nchw', 'Nhwc'].map(v => h('option', { value: v, text: v.toUpperCase() })));
  const scale = h('input', { type: 'number', name: 'scale', step: 'any', value: 1 });
  const fieldset = h('fieldset', { class: 'grid', 'data-testid': 'onnx-options' },
    h('legend', { text: 'Base model' }),
    field('ONNX file', file),
    field('Feature output (tensor name)', featureOutput),
    field('Layers to train (comma-separated)', layers),
    field('Input width', width), field('Input height', height),
    field('Resize', resize), field('Channels', channels), field('Layout', layout),
    field('Pixel scale (×0–255)', scale));
  const formData = (name, capacity) => {
    const form = new FormData();
    form.append('name', name);
    form.append('capacity', capacity);
    form.append('model', file.files[0]);
    for (const input of [featureOutput, layers, width, height, resize, channels, layout, scale])
      if (input.value.trim() !== '') form.append(input.name, input.value.trim());
    return form;
  };
  return { fieldset, file, formData };
}

// ---- import (transfer) ----

/** Polls an import job until it ends, calling onProgress with each state; resolves the last one. */
export async function followImport(job, onProgress) {
  let state = job;
  while (state.state === 'running') {
    onProgress(state);
    await new Promise(resolve => setTimeout(resolve, 400));
    state = await api.importJob(job.id);
  }
  onProgress(state);
  return state;
}

/** What an import did, in words. */
export function importSummary(job) {
  if (job.state === 'failed') return `Import of ${job.fileName} failed: ${job.error}`;
  if (job.state === 'running') {
    return job.total > 0 ? `Importing ${job.fileName}: ${job.done} of ${plural(job.total, job.kind === 'project' ? 'file' : 'photo')}…`
      : `Importing ${job.fileName}…`;
  }
  if (job.kind === 'project') return `Imported the project from ${job.fileName}: ${plural(job.added, 'photo')} with its runs and model versions.`;
  return `Imported ${job.fileName}: ${plural(job.added, 'photo')} added` +
    (job.duplicates ? `, ${plural(job.duplicates, 'duplicate')} not added again` : '') +
    (job.refused ? `, ${job.refused} refused (the last: ${job.lastRefusal})` : '') + '.';
}

/** A file picker and a progress line that import a zip of photos into an existing project (the Collect screen). */
export function importIntoControl(projectId, onDone) {
  const input = h('input', { type: 'file', accept: '.zip,application/zip', class: 'visually-hidden', id: 'import-into-file', 'data-testid': 'import-into-file' });
  const status = h('span', { class: 'muted', 'data-testid': 'import-into-status' });
  const progress = h('progress', { hidden: true, max: 1, value: 0, 'data-testid': 'import-into-progress' });
  input.addEventListener('change', async () => {
    const file = input.files[0];
    input.value = '';
    if (!file) return;
    const job = await attempt(() => api.importInto(projectId, file));
    if (!job) return;
    announce(`Importing ${file.name}`);
    const end = await attempt(() => followImport(job, state => showProgress(state, status, progress)));
    if (end) announce(importSummary(end));
    await onDone?.(end);
  });
  return h('span', { class: 'import-into' },
    h('label', { class: 'button', for: input.id, text: 'Import photos (zip)…', title: 'A zip of <label>/photo, or train/<label>/… and test/<label>/…; labels it names are added' }),
    input, progress, status);
}

function showProgress(job, status, progress) {
  status.textContent = importSummary(job);
  progress.hidden = job.state !== 'running';
  if (job.total > 0) { progress.max = job.total; progress.value = job.done; } else progress.removeAttribute('value');
  status.classList.toggle('error', job.state === 'failed');
}

function importForm(onImported) {
  const file = h('input', { type: 'file', id: 'import-file', accept: '.zip,.tailor,application/zip', required: true, 'data-testid': 'import-file' });
  const name = h('input', { type: 'text', id: 'import-name', maxLength: 200, placeholder: 'from the file', 'data-testid': 'import-name' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'import-submit', text: 'Import' });
  const progress = h('progress', { hidden: true, max: 1, value: 0, 'data-testid': 'import-progress' });
  const status = h('p', { class: 'muted', 'data-testid': 'import-status' });
  const open = h('p', { hidden: true });
  return h('form', {
    class: 'panel', 'aria-labelledby': 'import-title', 'data-testid': 'import-form',
    onsubmit: async event => {
      event.preventDefault();
      const chosen = file.files[0];
      if (!chosen) return;
      submit.disabled = true;
      open.hidden = true;
      status.textContent = `Uploading ${chosen.name}…`;
      announce(`Importing ${chosen.name}`);
      try {
        const job = await api.importFile(chosen, name.value.trim());
        const end = await followImport(job, state => showProgress(state, status, progress));
        announce(importSummary(end));
        if (end.state === 'finished') {
          file.value = '';
          name.value = '';
          replace(open, h('a', { class: 'button', href: `#/p/${end.projectId}/collect`, 'data-testid': 'import-open', text: 'Open the imported project' }));
          open.hidden = false;
          await onImported();
        }
      } catch (error) {
        status.textContent = '';
        showError(error);
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h2', { id: 'import-title', text: 'Import' }),
  h('p', { class: 'muted', text: 'A zip of photos (one folder per label, or train/ and test/ holding them) becomes a new project; a project file (.tailor, from “Export project”) comes back whole: photos, labels, runs and model versions, ready to train on.' }),
  h('div', { class: 'row' },
    h('label', { for: 'import-file', text: 'File' }), file,
    h('label', { for: 'import-name', text: 'Name (optional)' }), name,
    submit),
  progress, status, open);
}
