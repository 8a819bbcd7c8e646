// Projects: the list, a new project from the embedded ResNet18 or from an uploaded ONNX model, delete (asks first).
// Importing a folder is `tailor studio --import DIR` (the command line reads the folder where it is).
import { h, replace, attempt, confirmDialog, plural } from './dom.js';
import { api } from './api.js';

export async function render(view) {
  const list = h('div', { class: 'project-list', 'data-testid': 'project-list' });
  const form = newProjectForm();
  replace(view,
    h('section', { class: 'panel', 'aria-labelledby': 'projects-title' },
      h('h1', { id: 'projects-title', text: 'Projects' }),
      list),
    form,
    h('p', { class: 'muted' }, 'To make a project from a folder of photos (', h('code', { text: 'DIR/<label>/…' }),
      ', or one with ', h('code', { text: 'train/' }), ' and ', h('code', { text: 'test/' }), ' inside), start the studio with ',
      h('code', { text: 'tailor studio --import DIR' }), '.'));
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
