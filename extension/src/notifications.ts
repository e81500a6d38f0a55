/**
 * JupyterLab notifications for what finishes while the page is open: a job succeeding or
 * failing, a dataset warm-up completing or failing, a model version being registered; each
 * with an action that opens the result.
 *
 * Transitions are read from the lists the panel polls anyway (no extra requests). The first
 * load only sets the baseline, so opening JupyterLab does not replay old events; something
 * first seen later counts only when it is newer than what that baseline held.
 */
import { Notification } from '@jupyterlab/apputils';
import { ReadonlyJSONValue } from '@lumino/coreutils';

import { IDataset, IJob, IModel } from './api';
import { IWarmUp } from './datasets/api';
import { short } from './links/api';
import { ILabrigLinks } from './links/links';
import { ChangeKind, LabrigModel } from './model';

/** What is notified through (JupyterLab's notification center by default). */
export interface INotifier {
  success(message: string, options: Notification.IOptions<ReadonlyJSONValue>): unknown;
  error(message: string, options: Notification.IOptions<ReadonlyJSONValue>): unknown;
}

/** How long a success stays before it closes itself, in ms (failures stay until dismissed). */
export const AUTO_CLOSE = 8000;
/** Clock slack allowed between the server and the browser, in ms. */
const SLACK = 60 * 1000;

const FINAL_JOB = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const RUNNING_WARMUP = new Set(['listing', 'running']);

type DatasetWithWarmUp = IDataset & { warmup?: IWarmUp | null };

export class TransitionNotifier {
  constructor(
    model: LabrigModel,
    links: ILabrigLinks,
    notifier: INotifier = Notification,
    now: () => number = Date.now
  ) {
    this._model = model;
    this._links = links;
    this._notifier = notifier;
    this._openedAt = now();
    model.changed.connect(this._onChanged, this);
  }

  dispose(): void {
    this._model.changed.disconnect(this._onChanged, this);
  }

  private _onChanged(_: LabrigModel, kind: ChangeKind): void {
    if (kind === 'jobs') {
      this._jobs();
    } else if (kind === 'datasets') {
      this._datasets();
    } else if (kind === 'models') {
      this._models();
    }
  }

  private _jobs(): void {
    const state = this._model.section('jobs');
    if (!state.loaded || state.error) {
      return;
    }
    const first = this._jobStatus === null;
    const seen = this._jobStatus ?? new Map<string, string>();
    if (first) {
      // New jobs are those created after the newest one listed at load.
      this._jobsSince = Math.max(
        this._openedAt - SLACK,
        ...state.items.map(job => Date.parse(job.created_at)).filter(t => !Number.isNaN(t))
      );
    }
    for (const job of state.items) {
      const before = seen.get(job.id);
      seen.set(job.id, job.status);
      if (first || before === job.status || !FINAL_JOB.has(job.status)) {
        continue;
      }
      const isNew = before === undefined && Date.parse(job.created_at) > this._jobsSince;
      if ((before !== undefined && !FINAL_JOB.has(before)) || isNew) {
        this._jobEnded(job);
      }
    }
    this._jobStatus = seen;
  }

  private _jobEnded(job: IJob): void {
    const actions = [
      {
        label: 'Open job',
        caption: `Open job ${job.name}`,
        callback: () => void this._links.openJob(job.id)
      }
    ];
    if (job.status === 'SUCCEEDED') {
      this._notifier.success(`Job ${job.name} (${short(job.id)}) succeeded`, {
        autoClose: AUTO_CLOSE,
        actions
      });
    } else if (job.status === 'FAILED') {
      this._notifier.error(
        `Job ${job.name} (${short(job.id)}) failed${job.reason ? `: ${job.reason}` : ''}`,
        { autoClose: false, actions }
      );
    }
    // A cancelled job was stopped by someone on purpose: nothing to announce.
  }

  private _datasets(): void {
    const state = this._model.section('datasets');
    if (!state.loaded || state.error) {
      return;
    }
    const first = this._warmUps === null;
    const seen = this._warmUps ?? new Map<string, string>();
    for (const item of state.items as ReadonlyArray<DatasetWithWarmUp>) {
      const warm = item.warmup;
      if (!warm?.id) {
        continue;
      }
      const key = `${item.name}/${warm.id}`;
      const before = seen.get(key);
      seen.set(key, warm.state);
      if (first || before === warm.state || RUNNING_WARMUP.has(warm.state)) {
        continue;
      }
      // Warm-ups live in the server's memory: one not listed at load started after it.
      if (before === undefined || RUNNING_WARMUP.has(before)) {
        this._warmUpEnded(item.name, warm);
      }
    }
    this._warmUps = seen;
  }

  private _warmUpEnded(name: string, warm: IWarmUp): void {
    const actions = [
      {
        label: 'Show dataset',
        caption: `Show ${name} in the panel`,
        callback: () => void this._links.openDataset(name)
      }
    ];
    if (warm.state === 'succeeded') {
      this._notifier.success(`Dataset ${name} is warm: every file is in the cache`, {
        autoClose: AUTO_CLOSE,
        actions
      });
    } else if (warm.state === 'failed') {
      this._notifier.error(`Warming dataset ${name} failed${warm.error ? `: ${warm.error}` : ''}`, {
        autoClose: false,
        actions
      });
    }
  }

  private _models(): void {
    const state = this._model.section('models');
    if (!state.loaded || state.error) {
      return;
    }
    const first = this._latest === null;
    const seen = this._latest ?? new Map<string, number | null>();
    for (const model of state.items) {
      const before = seen.get(model.name);
      seen.set(model.name, model.latest_version);
      if (first || model.latest_version === null) {
        continue;
      }
      const isNew = before === undefined && Date.parse(model.created_at) > this._openedAt - SLACK;
      if ((before !== undefined && model.latest_version > (before ?? 0)) || isNew) {
        this._registered(model);
      }
    }
    this._latest = seen;
  }

  private _registered(model: IModel): void {
    const version = model.latest_version as number;
    this._notifier.success(`Registered ${model.name} v${version}`, {
      autoClose: AUTO_CLOSE,
      actions: [
        {
          label: 'Open version',
          caption: `Open ${model.name} v${version} in the panel`,
          callback: () => void this._links.openModelVersion(model.name, version)
        }
      ]
    });
  }

  private _model: LabrigModel;
  private _links: ILabrigLinks;
  private _notifier: INotifier;
  private _openedAt: number;
  private _jobsSince = 0;
  private _jobStatus: Map<string, string> | null = null;
  private _warmUps: Map<string, string> | null = null;
  private _latest: Map<string, number | null> | null = null;
}
