/**
 * The state behind the labrig panel: server status and the four lists,
 * refreshed by a Lumino `Poll` and announced through Lumino signals.
 */
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  createModel,
  getJob,
  getStatus,
  IDataset,
  IJob,
  IListOptions,
  IModel,
  IModelCreate,
  IPage,
  IResourceRequest,
  IStatus,
  listDatasets,
  listJobs,
  listModels,
  listResourceRequests
} from './api';
import { ISchedule, listSchedules } from './jobs/api';
import { appendPage, FINAL_STATUSES, mergeFirstPage, updateJobs } from './jobs/paging';
import { LabrigAPIError, toLabrigError } from './request';

/**
 * The panel's sections, in display order.
 */
export const SECTIONS = ['resources', 'datasets', 'jobs', 'models'] as const;

export type SectionId = (typeof SECTIONS)[number];

/**
 * What a `changed` emission is about.
 */
export type ChangeKind =
  'status' | SectionId | 'schedules' | 'expanded' | 'selection' | 'navigation';

/**
 * What the Models section shows: the list (no model), a model's versions, or one version.
 */
export interface IModelsView {
  readonly model: string | null;
  readonly version: number | null;
}

/**
 * The item type of each section.
 */
export interface ISectionItems {
  resources: IResourceRequest;
  datasets: IDataset;
  jobs: IJob;
  models: IModel;
}

/**
 * The state of one section.
 */
export interface ISectionState<T> {
  /** The items shown, at most `limit`. */
  readonly items: ReadonlyArray<T>;
  /** Whether the server has more items than shown. */
  readonly hasMore: boolean;
  /** The token of the page after the items shown, null on the last page. */
  readonly nextPageToken: string | null;
  /** How many items are requested per refresh. */
  readonly limit: number;
  /** The last refresh's error, or null when it succeeded. */
  readonly error: LabrigAPIError | null;
  /** Whether at least one refresh has finished (with or without error). */
  readonly loaded: boolean;
}

/**
 * The job schedules shown in the Jobs section.
 */
export interface ISchedulesState {
  /** Newest first, at most `LabrigModel.SCHEDULES_LIMIT`. */
  readonly items: ReadonlyArray<ISchedule>;
  readonly hasMore: boolean;
  readonly error: LabrigAPIError | null;
  readonly loaded: boolean;
}

/**
 * An `errorChanged` emission.
 */
export interface IErrorChange {
  section: SectionId | 'status';
  error: LabrigAPIError | null;
}

/**
 * The list call behind each section.
 */
const LISTERS: {
  [K in SectionId]: (options: IListOptions) => Promise<IPage<ISectionItems[K]>>;
} = {
  resources: listResourceRequests,
  datasets: listDatasets,
  jobs: listJobs,
  models: listModels
};

/**
 * The labrig panel's model.
 */
export class LabrigModel implements IDisposable {
  constructor(options: LabrigModel.IOptions = {}) {
    this._pageSize = options.pageSize ?? LabrigModel.DEFAULT_PAGE_SIZE;
    for (const id of SECTIONS) {
      this._sections[id] = {
        items: [],
        hasMore: false,
        nextPageToken: null,
        limit: this._pageSize,
        error: null,
        loaded: false
      };
      this._expanded[id] = true;
    }
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: LabrigModel.frequency(options.refreshInterval ?? LabrigModel.DEFAULT_INTERVAL),
      name: 'labrig:model',
      standby: options.standby ?? 'when-hidden'
    });
  }

  /**
   * Emitted when part of the state changed; the argument says which part.
   */
  get changed(): ISignal<this, ChangeKind> {
    return this._changed;
  }

  /**
   * Emitted when the error of the status or of a section appears, changes or clears.
   */
  get errorChanged(): ISignal<this, IErrorChange> {
    return this._errorChanged;
  }

  /**
   * The server status, or null before it was fetched.
   */
  get status(): IStatus | null {
    return this._status;
  }

  /**
   * The error of the last status request, or null.
   */
  get statusError(): LabrigAPIError | null {
    return this._statusError;
  }

  /**
   * Whether a refresh is in flight.
   */
  get loading(): boolean {
    return this._inflight !== null;
  }

  /**
   * The notebook chosen with "Run as job", or null.
   */
  get selectedNotebook(): string | null {
    return this._selectedNotebook;
  }

  /**
   * The notebook in focus (the Resources section shows its kernel), or null.
   */
  get focusedNotebook(): string | null {
    return this._focusedNotebook;
  }

  /**
   * Set the notebook in focus.
   */
  setFocusedNotebook(path: string | null): void {
    if (this._focusedNotebook === path) {
      return;
    }
    this._focusedNotebook = path;
    this._changed.emit('selection');
  }

  /**
   * The refresh interval in milliseconds.
   */
  get refreshInterval(): number {
    return this._poll.frequency.interval;
  }

  set refreshInterval(ms: number) {
    this._poll.frequency = LabrigModel.frequency(ms);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The state of one section.
   */
  section<K extends SectionId>(id: K): ISectionState<ISectionItems[K]> {
    return this._sections[id] as unknown as ISectionState<ISectionItems[K]>;
  }

  /**
   * The job schedules.
   */
  get schedules(): ISchedulesState {
    return this._schedules;
  }

  /**
   * Whether a further page of jobs is being fetched.
   */
  get loadingMoreJobs(): boolean {
    return this._loadingMore !== null;
  }

  /**
   * Whether a section is expanded.
   */
  isExpanded(id: SectionId): boolean {
    return this._expanded[id];
  }

  /**
   * Expand or collapse a section.
   */
  setExpanded(id: SectionId, expanded: boolean): void {
    if (this._expanded[id] === expanded) {
      return;
    }
    this._expanded[id] = expanded;
    this._changed.emit('expanded');
  }

  /**
   * Choose (or clear) the notebook that "Run as job" was used on.
   */
  selectNotebook(path: string | null): void {
    if (this._selectedNotebook === path) {
      return;
    }
    this._selectedNotebook = path;
    this._changed.emit('selection');
  }

  /**
   * What the Models section shows.
   */
  get modelsView(): IModelsView {
    return this._modelsView;
  }

  /**
   * Show the models list, a model's versions or one version (a link followed to it).
   */
  showModels(view: IModelsView): void {
    this._modelsView = { model: view.model, version: view.model ? view.version : null };
    this._expanded.models = true;
    this._changed.emit('navigation');
  }

  /**
   * The dataset a link asked to bring into view, or null.
   */
  get revealedDataset(): string | null {
    return this._revealedDataset;
  }

  /**
   * Counts the times a dataset was brought into view, so following the same link twice
   * brings it into view twice.
   */
  get revealCount(): number {
    return this._revealCount;
  }

  /**
   * Bring a dataset into view (expanding the Datasets section), or clear that with null.
   */
  revealDataset(name: string | null): void {
    this._revealedDataset = name;
    this._revealCount += 1;
    if (name) {
      this._expanded.datasets = true;
    }
    this._changed.emit('navigation');
  }

  /**
   * Start polling; the first refresh happens at once.
   */
  async start(): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    await this._poll.start();
  }

  /**
   * Refresh everything now. Concurrent calls share one round of requests.
   *
   * Never rejects: failures are kept per section (`section(id).error`, `statusError`).
   */
  refresh(): Promise<void> {
    if (this._isDisposed) {
      return Promise.resolve();
    }
    if (!this._inflight) {
      this._inflight = this._fetchAll().finally(() => {
        this._inflight = null;
      });
    }
    return this._inflight.then(() => undefined);
  }

  /**
   * Refresh one section only.
   */
  async refreshSection(id: SectionId): Promise<void> {
    await this._fetchSection(id);
  }

  /**
   * Read the job schedules again.
   */
  async refreshSchedules(): Promise<void> {
    await this._fetchSchedules();
  }

  /**
   * Fetch the page of jobs after those loaded (with its `page_token`) and append it; the poll
   * keeps re-reading the first page only. Concurrent calls share one request.
   */
  loadMoreJobs(): Promise<void> {
    const token = this._sections.jobs.nextPageToken;
    if (this._isDisposed || !token) {
      return Promise.resolve();
    }
    if (!this._loadingMore) {
      this._changed.emit('jobs');
      this._loadingMore = this._fetchMoreJobs(token).finally(() => {
        this._loadingMore = null;
        if (!this._isDisposed) {
          this._changed.emit('jobs');
        }
      });
    }
    return this._loadingMore;
  }

  /**
   * Ask for one more page of a section on the next refreshes, and refresh it now.
   *
   * The jobs list fetches its next page by token instead (`loadMoreJobs`).
   */
  async showMore(id: SectionId): Promise<void> {
    if (id === 'jobs') {
      return this.loadMoreJobs();
    }
    const state = this._sections[id];
    this._sections[id] = {
      ...state,
      limit: Math.min(state.limit + this._pageSize, LabrigModel.MAX_LIMIT)
    };
    await this._fetchSection(id);
  }

  /**
   * Create a registered model and refresh the Models section.
   *
   * @throws {LabrigAPIError} With the server's message (bad name, model exists, ...).
   */
  async createModel(body: IModelCreate): Promise<IModel> {
    let model: IModel;
    try {
      model = await createModel(body);
    } catch (error) {
      throw toLabrigError(error);
    }
    await this._fetchSection('models');
    return model;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  /**
   * One poll tick; rejects when nothing could be fetched, so that the poll backs off.
   */
  private async _tick(): Promise<void> {
    await this.refresh();
    const failures = [this._statusError, ...SECTIONS.map(id => this._sections[id].error)].filter(
      error => error !== null
    );
    if (failures.length === SECTIONS.length + 1) {
      throw failures[0];
    }
  }

  private async _fetchAll(): Promise<void> {
    this._changed.emit('status');
    await Promise.all([
      this._fetchStatus(),
      ...SECTIONS.map(id => this._fetchSection(id)),
      this._fetchSchedules()
    ]);
  }

  private async _fetchStatus(): Promise<void> {
    let error: LabrigAPIError | null = null;
    try {
      const status = await getStatus();
      if (this._isDisposed) {
        return;
      }
      this._status = status;
    } catch (reason) {
      error = toLabrigError(reason);
    }
    if (this._isDisposed) {
      return;
    }
    this._setStatusError(error);
    this._changed.emit('status');
  }

  private async _fetchSection(id: SectionId): Promise<void> {
    const state = this._sections[id];
    let next: ISectionState<unknown>;
    try {
      const page = await LISTERS[id]({ limit: id === 'jobs' ? this._pageSize : state.limit });
      const current = this._sections[id];
      const paged =
        id === 'jobs'
          ? mergeFirstPage(current as ISectionState<IJob>, page as IPage<IJob>)
          : { items: page.items, nextPageToken: page.next_page_token ?? null };
      next = {
        ...current,
        ...paged,
        hasMore: paged.nextPageToken !== null,
        error: null,
        loaded: true
      };
    } catch (reason) {
      // Keep the last items so a passing hiccup does not blank the list.
      next = { ...this._sections[id], error: toLabrigError(reason), loaded: true };
    }
    if (this._isDisposed) {
      return;
    }
    const previousError = this._sections[id].error;
    this._sections[id] = next;
    if (!sameError(previousError, next.error)) {
      this._errorChanged.emit({ section: id, error: next.error });
    }
    this._changed.emit(id);
    if (id === 'jobs' && next.error === null) {
      await this._refreshOlderActiveJobs();
    }
  }

  /**
   * Jobs past the first page are not re-listed by the poll: re-read those that may still change
   * (up to `MAX_TAIL_REFRESH` a tick); one that is gone leaves the list.
   */
  private async _refreshOlderActiveJobs(): Promise<void> {
    const items = this._sections.jobs.items as ReadonlyArray<IJob>;
    const active = items
      .slice(this._pageSize)
      .filter(job => !FINAL_STATUSES.includes(job.status))
      .slice(0, LabrigModel.MAX_TAIL_REFRESH);
    if (!active.length) {
      return;
    }
    const changes = new Map<string, IJob | null>();
    await Promise.all(
      active.map(async job => {
        try {
          const fresh = await getJob(job.id);
          if (fresh.status !== job.status || fresh.reason !== job.reason) {
            changes.set(job.id, fresh);
          }
        } catch (reason) {
          if (toLabrigError(reason).status === 404) {
            changes.set(job.id, null);
          }
        }
      })
    );
    if (this._isDisposed || changes.size === 0) {
      return;
    }
    const current = this._sections.jobs;
    this._sections.jobs = { ...current, items: updateJobs(current.items as IJob[], changes) };
    this._changed.emit('jobs');
  }

  private async _fetchMoreJobs(token: string): Promise<void> {
    let error: LabrigAPIError | null = null;
    let page: IPage<IJob> | null = null;
    try {
      page = await listJobs({ limit: this._pageSize, pageToken: token });
    } catch (reason) {
      error = toLabrigError(reason);
    }
    const current = this._sections.jobs as ISectionState<IJob>;
    // A refresh that replaced the list meanwhile (jobs deleted at the top) wins.
    if (this._isDisposed || current.nextPageToken !== token) {
      return;
    }
    const paged = page ? appendPage(current, page) : current;
    this._sections.jobs = {
      ...current,
      ...paged,
      hasMore: paged.nextPageToken !== null,
      error
    };
    if (!sameError(current.error, error)) {
      this._errorChanged.emit({ section: 'jobs', error });
    }
  }

  private async _fetchSchedules(): Promise<void> {
    let next: ISchedulesState;
    try {
      const page = await listSchedules({ limit: LabrigModel.SCHEDULES_LIMIT });
      next = {
        items: page.items,
        hasMore: !!page.next_page_token,
        error: null,
        loaded: true
      };
    } catch (reason) {
      next = { ...this._schedules, error: toLabrigError(reason), loaded: true };
    }
    if (this._isDisposed) {
      return;
    }
    this._schedules = next;
    this._changed.emit('schedules');
  }

  private _setStatusError(error: LabrigAPIError | null): void {
    const previous = this._statusError;
    this._statusError = error;
    if (!sameError(previous, error)) {
      this._errorChanged.emit({ section: 'status', error });
    }
  }

  private _changed = new Signal<this, ChangeKind>(this);
  private _errorChanged = new Signal<this, IErrorChange>(this);
  private _expanded = {} as { [K in SectionId]: boolean };
  private _inflight: Promise<void> | null = null;
  private _isDisposed = false;
  private _loadingMore: Promise<void> | null = null;
  private _pageSize: number;
  private _poll: Poll;
  private _schedules: ISchedulesState = { items: [], hasMore: false, error: null, loaded: false };
  private _sections = {} as Record<SectionId, ISectionState<unknown>>;
  private _selectedNotebook: string | null = null;
  private _focusedNotebook: string | null = null;
  private _modelsView: IModelsView = { model: null, version: null };
  private _revealedDataset: string | null = null;
  private _revealCount = 0;
  private _status: IStatus | null = null;
  private _statusError: LabrigAPIError | null = null;
}

export namespace LabrigModel {
  export interface IOptions {
    /** Milliseconds between refreshes; `DEFAULT_INTERVAL` when omitted. */
    refreshInterval?: number;
    /** Items per page; `DEFAULT_PAGE_SIZE` when omitted. */
    pageSize?: number;
    /** When the poll pauses; `when-hidden` (the page is hidden) by default. */
    standby?: Poll.Standby;
  }

  export const DEFAULT_INTERVAL = 5000;
  export const DEFAULT_PAGE_SIZE = 50;
  export const MAX_LIMIT = 500;
  /** Schedules listed in the Jobs section. */
  export const SCHEDULES_LIMIT = 100;
  /** Most jobs past the first page whose status is re-read per refresh. */
  export const MAX_TAIL_REFRESH = 20;

  /**
   * Poll frequency for a refresh interval: back off up to a minute while the server fails.
   */
  export function frequency(interval: number): { interval: number; backoff: boolean; max: number } {
    const ms = Math.max(1000, Math.round(interval));
    return { interval: ms, backoff: true, max: Math.max(ms, 60 * 1000) };
  }
}

function sameError(a: LabrigAPIError | null, b: LabrigAPIError | null): boolean {
  if (a === null || b === null) {
    return a === b;
  }
  return a.status === b.status && a.reason === b.reason && a.message === b.message;
}
