// The studio's HTTP API (JSON, camelCase). Every action the pages offer is one of these calls; the server does the
// work (no training logic here).

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function request(method, url, body) {
  const init = { method, headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError('The studio does not answer: is `tailor studio` still running?', 0);
  }
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') ?? '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    const message = (data && typeof data === 'object' && data.error) || (typeof data === 'string' && data) || response.statusText;
    throw new ApiError(message, response.status);
  }
  return data;
}

const p = id => `/api/projects/${encodeURIComponent(id)}`;

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

export const api = {
  projects: () => request('GET', '/api/projects'),
  project: id => request('GET', p(id)),
  createProject: (name, capacity) => request('POST', '/api/projects', { name, base: 'resnet18', ...(capacity ? { capacity } : {}) }),
  createProjectFromOnnx: form => request('POST', '/api/projects', form),
  deleteProject: id => request('DELETE', p(id)),
  options: id => request('GET', `${p(id)}/options`),

  addLabel: (id, name) => request('POST', `${p(id)}/labels`, { name }),
  renameLabel: (id, label, name) => request('PATCH', `${p(id)}/labels/${label}`, { name }),
  deleteLabel: (id, label) => request('DELETE', `${p(id)}/labels/${label}`),

  examples: (id, { label, set, offset = 0, limit = 200 } = {}) => request('GET', `${p(id)}/examples${query({ label, set, offset, limit })}`),
  upload: (id, label, set, source, files) => {
    const form = new FormData();
    for (const file of files) form.append('files', file, file.name || 'image');
    return request('POST', `${p(id)}/examples${query({ label, set, source })}`, form);
  },
  moveExample: (id, example, change) => request('PATCH', `${p(id)}/examples/${example}`, change),
  deleteExample: (id, example) => request('DELETE', `${p(id)}/examples/${example}`),
  thumbnailUrl: example => `/api/examples/${example}/thumbnail`,
  imageUrl: example => `/api/examples/${example}/image`,

  startRun: (id, runRequest) => request('POST', `${p(id)}/runs`, runRequest),
  run: id => request('GET', `${p(id)}/run`),
  stopRun: id => request('POST', `${p(id)}/run/stop`, {}),
  setLearningRate: (id, learningRate) => request('POST', `${p(id)}/run/learning-rate`, { learningRate }),
  runEventsUrl: id => `${p(id)}/run/events`,
  runs: id => request('GET', `${p(id)}/runs`),

  evaluate: (id, versionId) => request('POST', `${p(id)}/evaluate`, versionId ? { versionId } : {}),
  models: id => request('GET', `${p(id)}/models`),
  resetToEmpty: id => request('POST', `${p(id)}/models/reset`, { to: 'empty' }),
  makeCurrent: (id, versionId) => request('POST', `${p(id)}/models/reset`, { versionId }),
  downloadUrl: id => `${p(id)}/models/current.onnx`,

  /** The current model's answer for one image (a Blob or File): { versionId, top: [{ label, probability }], ms }. */
  /** Whether the current model can predict: { versionId, trainedLabels, ready, message }. */
  predictReadiness: id => request('GET', `${p(id)}/predict`),
  predict: (id, image, name = 'image.jpg') => {
    const form = new FormData();
    form.append('image', image, image.name || name);
    return request('POST', `${p(id)}/predict`, form);
  },
  // recovery: the run the studio was stopped during (or null), and Resume.
  interruptedRun: id => request('GET', `${p(id)}/run/interrupted`),
  resumeRun: (id, run) => request('POST', `${p(id)}/runs/${run}/resume`, {}),

  // Import and export (transfer): an import is a background job the page polls.
  importFile: (file, name) => {
    const form = new FormData();
    if (name) form.append('name', name);
    form.append('file', file, file.name || 'upload.zip');
    return request('POST', '/api/projects/import', form);
  },
  importInto: (id, file) => {
    const form = new FormData();
    form.append('file', file, file.name || 'upload.zip');
    return request('POST', `${p(id)}/import`, form);
  },
  importJob: job => request('GET', `/api/imports/${encodeURIComponent(job)}`),
  exportPhotosUrl: id => `${p(id)}/export/photos.zip`,
  exportProjectUrl: id => `${p(id)}/export/project.tailor`,
  // versions: every version with its run's settings, the run history, two versions compared on the test set.
  versions: id => request('GET', `${p(id)}/versions`),
  history: id => request('GET', `${p(id)}/history`),
  compare: (id, a, b) => request('POST', `${p(id)}/compare`, { a, b }),
};

/** 'train' | 'test' from whatever the server sends for an example set (a name in any case, or 0/1). */
export function setName(value) {
  if (value === 1 || /^test$/i.test(String(value))) return 'test';
  return 'train';
}

// Guidance (issue 12, item 6): the project's hints, each with the screen it applies to.
api.guidance = id => request('GET', `${p(id)}/guidance`);
