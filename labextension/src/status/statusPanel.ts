// The status panel (click the status bar item): the model's facts, load
// progress, the last errors with their cause, and a picker over the installed
// models (`GET/POST jupyter-assist/models`).
import { Widget } from '@lumino/widgets';
import type { Message } from '@lumino/messaging';

import { requestAPI } from '../shared/api';
import { errorNotice } from '../shared/errorNotice';
import { assistIcon } from '../shared/icon';
import { ghostTextHealth, progressText, statusFacts, StatusModel } from './status';
import type { IModelsReply, ISwitchModelRequest } from '../shared/types';

export const STATUS_PANEL_ID = 'jupyter-assist-status-panel';

export class StatusPanel extends Widget {
  constructor(private readonly _model: StatusModel) {
    super();
    this.id = STATUS_PANEL_ID;
    this.title.label = 'Assistant Status';
    this.title.icon = assistIcon;
    this.title.closable = true;
    this.addClass('jp-assist-status-panel');

    const heading = document.createElement('h2');
    heading.textContent = 'Assistant model';
    // Announced when it changes: loading → ready, a switch, a failure.
    this._summary.className = 'jp-assist-status-summary';
    this._summary.setAttribute('aria-live', 'polite');
    this._summary.setAttribute('role', 'status');
    this._progress.className = 'jp-assist-status-progress';
    this._progress.max = 1;
    this._progress.setAttribute('aria-label', 'Model load progress');
    this._facts.className = 'jp-assist-status-facts';
    this._errors.className = 'jp-assist-status-errors';

    const picker = document.createElement('div');
    picker.className = 'jp-assist-model-picker';
    const label = document.createElement('label');
    label.textContent = 'Model';
    label.htmlFor = `${STATUS_PANEL_ID}-model`;
    this._select.id = `${STATUS_PANEL_ID}-model`;
    this._select.className = 'jp-mod-styled jp-assist-model-select';
    this._switch.type = 'button';
    this._switch.className = 'jp-Button jp-mod-styled jp-mod-accept jp-assist-model-switch';
    this._switch.textContent = 'Switch';
    this._switch.addEventListener('click', () => void this._doSwitch());
    this._select.addEventListener('change', () => this._renderPicker());
    const note = document.createElement('p');
    note.className = 'jp-assist-model-note';
    note.textContent =
      'Installed models (jupyter assist models list; add one with jupyter assist models install). ' +
      'Switching loads the new model in the background; requests wait for it.';
    picker.append(label, this._select, this._switch, note, this._pickerError);

    this.node.append(heading, this._summary, this._progress, this._facts, this._errors, picker);
    _model.changed.connect(this._render, this);
    ghostTextHealth.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._release?.();
    this._model.changed.disconnect(this._render, this);
    ghostTextHealth.changed.disconnect(this._render, this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._release ??= this._model.holdFast();
    void this._loadModels();
  }

  protected onBeforeDetach(msg: Message): void {
    this._release?.();
    this._release = null;
    super.onBeforeDetach(msg);
  }

  /** Fetch the installed models for the picker. */
  private async _loadModels(): Promise<void> {
    this._pickerError.replaceChildren();
    try {
      this._models = await requestAPI<IModelsReply>('models');
    } catch (error) {
      this._models = null;
      this._pickerError.replaceChildren(
        errorNotice(error, { action: 'Listing the models', retry: () => void this._loadModels() })
      );
    }
    const current = this._models?.models.find(m => m.current)?.name;
    this._select.replaceChildren(
      ...(this._models?.models ?? []).map(m => {
        const option = document.createElement('option');
        option.value = m.name;
        option.textContent = m.current ? `${m.display} (current)` : m.display;
        option.title = m.name;
        return option;
      })
    );
    if (current !== undefined) {
      this._select.value = current;
    }
    this._renderPicker();
  }

  private async _doSwitch(): Promise<void> {
    const name = this._select.value;
    this._pickerError.replaceChildren();
    this._switching = true;
    this._renderPicker();
    try {
      const body: ISwitchModelRequest = { model: name };
      await requestAPI('models', { method: 'POST', body: JSON.stringify(body) });
    } catch (error) {
      this._pickerError.replaceChildren(
        errorNotice(error, { action: 'Switching the model', retry: () => void this._doSwitch() })
      );
    } finally {
      this._switching = false;
    }
    await this._model.refresh();
    await this._loadModels();
  }

  private _renderPicker(): void {
    const loading = this._model.status?.state === 'loading';
    const current = this._models?.models.find(m => m.current)?.name;
    this._select.disabled = !this._models?.switchable || this._switching;
    this._switch.disabled = !this._models?.switchable || this._switching || loading || this._select.value === current;
  }

  private _render(): void {
    if (this.isDisposed) {
      return;
    }
    const status = this._model.status;
    const fetchError = this._model.fetchError;
    this._errors.replaceChildren();
    if (fetchError !== null) {
      this._summary.textContent = 'The status cannot be read.';
      this._errors.append(
        errorNotice(fetchError, { action: 'Reading the status', retry: () => void this._model.refresh() })
      );
    }
    if (!status) {
      this._progress.hidden = true;
      this._facts.replaceChildren();
      return;
    }
    // A switch ended (ready or failed): the picker's "(current)" moved.
    if (this._lastState === 'loading' && status.state !== 'loading') {
      void this._loadModels();
    }
    this._lastState = status.state;
    this.node.dataset.state = status.state;
    this.node.dataset.model = status.model;
    if (fetchError === null) {
      this._summary.textContent =
        status.state === 'ready'
          ? `Ready: ${status.model}`
          : status.state === 'loading'
            ? status.switching_from
              ? `Switching from ${status.switching_from} to ${status.model}: loading (${progressText(status)}).`
              : `Loading ${status.model} (${progressText(status)}).`
            : status.state === 'error'
              ? `Error: ${status.model} is not available.`
              : 'No model loaded.';
    }
    const fraction = status.progress?.fraction;
    this._progress.hidden = status.state !== 'loading';
    if (typeof fraction === 'number') {
      this._progress.value = fraction;
    } else {
      this._progress.removeAttribute('value'); // indeterminate
    }
    this._facts.replaceChildren(
      ...statusFacts(status).flatMap(([name, value]) => {
        const dt = document.createElement('dt');
        dt.textContent = name;
        const dd = document.createElement('dd');
        dd.textContent = value;
        dd.dataset.fact = name.toLowerCase();
        return [dt, dd];
      })
    );
    const problems: [string, string][] = [];
    if (status.state === 'error' && status.error) {
      problems.push(['Load error', status.error]);
    }
    if (status.last_error) {
      problems.push(['Last request error', status.last_error]);
    }
    if (ghostTextHealth.failure) {
      problems.push(['Ghost text', ghostTextHealth.failure]);
    }
    for (const [name, text] of problems) {
      const row = document.createElement('div');
      row.className = 'jp-assist-status-problem';
      const strong = document.createElement('strong');
      strong.textContent = `${name}: `;
      row.append(strong, text);
      this._errors.append(row);
    }
    this._renderPicker();
  }

  private _summary = document.createElement('p');
  private _progress = document.createElement('progress');
  private _facts = document.createElement('dl');
  private _errors = document.createElement('div');
  private _select = document.createElement('select');
  private _switch = document.createElement('button');
  private _pickerError = document.createElement('div');
  private _models: IModelsReply | null = null;
  private _switching = false;
  private _lastState = '';
  private _release: (() => void) | null = null;
}
