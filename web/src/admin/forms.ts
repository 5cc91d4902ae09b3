/** Forms: versions, the Form.io builder with a live preview, save as a new version (and publish). */
import { ApiError, errorMessage, get, put } from '../lib/api.ts';
import { busy, clear, fmtDateTime, h, loading } from '../lib/dom.ts';
import { at } from './i18n.ts';
import type { View } from './main.ts';
import { button, failed, needsLogin, panel, say, sayRestored, table } from './ui.ts';

export const formList: View = async (main) => {
  const body = h('div', null, loading('正在加载…'));
  main.append(panel(at('form.title'), body));
  try {
    const { forms } = await get<{ forms: any[] }>('/api/admin/forms');
    const rows = forms.map((f) =>
      h(
        'tr',
        { dataset: { form: f.formKey } },
        h('td', null, f.title, h('div', null, h('code', { class: 'small' }, f.formKey))),
        h('td', null, `v${f.latestVersion}`, f.pendingDeploy ? h('span', { class: 'badge text-bg-warning ms-2' }, at('form.pending')) : null),
        h('td', { class: 'small' }, f.usedBy.map((u: any) => `${u.processId} v${u.processVersion} → v${u.formVersion}`).join('；') || '—'),
        h('td', { class: 'small' }, f.versions.slice(0, 3).map((v: any) => `v${v.version} ${fmtDateTime(v.createdAt)}${v.createdBy?.name ? ` ${v.createdBy.name}` : ''}`).join('；')),
        h('td', null, h('a', { class: 'btn btn-sm btn-outline-primary', href: `#/forms/${encodeURIComponent(f.formKey)}` }, at('common.edit'))),
      ),
    );
    clear(body).append(table([at('common.name'), at('proc.latest'), at('form.usedBy'), at('proc.versions'), at('common.actions')], rows, { id: 'form-list' }));
  } catch (err) {
    failed(body, err);
  }
};

/** Unsaved builder work by page address, kept while the admin page is open (see the process editor's drafts). */
const drafts = new Map<string, any>();

export const formEditor: View = async (main, params, query) => {
  main.classList.add('vf-editor-page');
  const key = params.formKey;
  const version = query.get('version');
  let form: any;
  try {
    ({ form } = await get(`/api/admin/forms/${encodeURIComponent(key)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`));
  } catch (err) {
    failed(main, err);
    return;
  }
  const { createBuilder, renderPreview } = await import('./builder.ts');
  const slot = h('div', { id: 'form-messages' });
  const builderEl = h('div', { class: 'vf-builder', id: 'form-builder' });
  const previewEl = h('div', { class: 'vf-preview card card-body d-none', id: 'form-preview' });
  const saveBtn = button(at('form.saveDeploy'), () => void save(true), 'btn-primary', { id: 'form-save' });
  const saveOnlyBtn = button(at('form.saveOnly'), () => void save(false), 'btn-outline-primary', { id: 'form-save-only' });
  const previewBtn = button(at('form.preview'), () => void togglePreview(), 'btn-outline-secondary', { id: 'form-preview-toggle' });
  const versionLabel = h('span', { class: 'text-secondary small', id: 'form-version' }, at('form.version', { version: form.version }));
  const dirtyMark = h('span', { class: 'badge text-bg-warning d-none', id: 'form-dirty' }, at('form.dirty'));
  const draftKey = location.hash;
  const draft = drafts.get(draftKey);
  main.append(
    h(
      'div',
      { class: 'd-flex flex-wrap align-items-center gap-2 mb-2' },
      h('a', { href: '#/forms', class: 'btn btn-sm btn-link' }, `← ${at('common.back')}`),
      h('h1', { class: 'h5 mb-0' }, at('form.editing', { title: form.schema?.title ?? key })),
      versionLabel,
      dirtyMark,
      h('div', { class: 'ms-auto d-flex gap-2' }, previewBtn, saveOnlyBtn, saveBtn),
    ),
    slot,
    builderEl,
    previewEl,
  );
  const builder = await createBuilder(builderEl, draft ? { ...form.schema, ...draft, components: draft.components } : form.schema);
  let preview: any = null;
  const setDirty = (dirty: boolean) => {
    dirtyMark.classList.toggle('d-none', !dirty);
    if (dirty) drafts.set(draftKey, structuredClone(builder.schema));
    else drafts.delete(draftKey);
  };
  // The components as saved, in the builder's own form (it adds defaults): a 'change' back to them is no change
  // (the builder also says 'change' after setForm). Unknown while a restored draft is shown.
  const current = () => JSON.stringify(builder.schema.components);
  let saved: string | null = draft ? null : current();
  // The builder says 'change' when a component is added, edited, moved or removed.
  builder.on('change', () => setDirty(current() !== saved));
  if (draft) {
    setDirty(true);
    sayRestored(slot, at('form.restored'), 'form-discard', async () => {
      await builder.setForm(structuredClone(form.schema));
      saved = current();
      setDirty(false);
    });
  }

  async function togglePreview() {
    const showing = !previewEl.classList.contains('d-none');
    preview?.destroy?.();
    preview = null;
    clear(previewEl);
    previewEl.classList.toggle('d-none', showing);
    builderEl.classList.toggle('d-none', !showing);
    previewBtn.textContent = showing ? at('form.preview') : at('form.builder');
    if (!showing) preview = await renderPreview(previewEl, builder.schema);
  }

  async function save(redeploy: boolean) {
    const schema = { ...form.schema, ...builder.schema, components: builder.schema.components };
    await busy(redeploy ? saveBtn : saveOnlyBtn, async () => {
      try {
        const result = await put<any>(`/api/admin/forms/${encodeURIComponent(key)}`, { schema, redeploy });
        form = { ...form, version: result.form.version, schema };
        versionLabel.textContent = at('form.version', { version: result.form.version });
        // One redeploy answer per process using the form, each shaped like a deploy answer.
        const created = (result.deployments ?? []).flatMap((r: any) => r.deployments ?? [r]).filter((d: any) => d.created);
        let text: string;
        if (!result.form.created) text = at('form.unchanged');
        else if (redeploy && created.length) text = at('form.savedDeployed', { version: result.form.version, processes: created.map((d: any) => `${d.name || d.processId} v${d.version}`).join('，') });
        else text = at('form.saved', { version: result.form.version });
        saved = JSON.stringify(schema.components);
        setDirty(false);
        say(slot, text, 'success');
        slot.firstElementChild?.setAttribute('data-form-version', String(result.form.version));
        if (result.hint && !redeploy) slot.append(h('div', { class: 'alert alert-warning' }, at('form.hint', { message: result.hint.message })));
      } catch (err) {
        if (needsLogin(err)) return;
        say(slot, errorMessage(err), 'danger');
        if (err instanceof ApiError && err.fieldErrors.length) {
          slot.append(h('ul', { class: 'small text-danger', id: 'form-errors' }, ...err.fieldErrors.map((e) => h('li', null, `${e.field}：${e.message}`))));
        }
      }
    });
  }

  return () => {
    preview?.destroy?.();
    builder.destroy?.();
    if ((window as any).vfBuilder === builder) delete (window as any).vfBuilder;
  };
};
