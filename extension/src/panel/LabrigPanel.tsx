import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { labrigIcon } from '../icons';
import { ResourcesView } from '../resources/ResourcesView';
import { LabrigModel, SectionId } from '../model';
import { basename } from './format';
import { useSignal } from './hooks';
import { ModelsBrowser } from '../models/ModelsBrowser';
import { AddDatasetForm, DatasetsView } from '../datasets/DatasetsView';
import { IDatasetInfo } from '../datasets/api';
import { SchedulesList } from '../jobs/SchedulesList';
import { ILabrigLinks, LinksContext, NO_LINKS } from '../links/links';
import { GpuHolders } from '../resources/GpuHolders';
import { JobsList } from './lists';
import { NewModelForm } from './NewModelForm';
import { Section } from './Section';
import { StatusLine } from './StatusLine';

/**
 * The DOM id of the labrig sidebar.
 */
export const PANEL_ID = 'labrig-panel';

/**
 * Where links in the panel lead: a job's live view; every cross-link (`ILabrigLinks`).
 */
export interface IPanelLinks {
  onOpenJob?: (id: string) => void;
  /** Starts a notebook's kernel again (the Resources section offers it after a stop). */
  onRestartKernel?: (notebookPath: string) => Promise<void>;
  links?: ILabrigLinks;
}

/**
 * The labrig sidebar: status line and the Resources, Datasets, Jobs and Models sections.
 */
export class LabrigPanel extends ReactWidget {
  constructor(model: LabrigModel, options: IPanelLinks = {}) {
    super();
    this.model = model;
    this._links = options;
    this.id = PANEL_ID;
    this.addClass('labrig-Panel');
    this.title.icon = labrigIcon;
    this.title.caption = 'labrig';
    this.title.label = '';
  }

  readonly model: LabrigModel;

  protected render(): JSX.Element {
    return <LabrigPanelView model={this.model} {...this._links} />;
  }

  private _links: IPanelLinks;
}

/**
 * The panel's content, re-rendered whenever the model changes.
 */
export function LabrigPanelView(props: { model: LabrigModel } & IPanelLinks): JSX.Element {
  const { model } = props;
  useSignal(model.changed);
  const jobsRef = React.useRef<HTMLElement>(null);
  const selected = model.selectedNotebook;
  const focused = model.focusedNotebook;

  React.useEffect(() => {
    if (selected && jobsRef.current && typeof jobsRef.current.scrollIntoView === 'function') {
      jobsRef.current.scrollIntoView({ block: 'nearest' });
    }
  }, [selected]);

  const common = (id: SectionId) => {
    const state = model.section(id);
    return {
      id,
      count: state.loaded ? state.items.length : null,
      hasMore: state.hasMore,
      expanded: model.isExpanded(id),
      onToggle: () => model.setExpanded(id, !model.isExpanded(id)),
      error: state.error,
      loaded: state.loaded,
      onShowMore: () => void model.showMore(id)
    };
  };

  const jobs = model.section('jobs');
  const schedules = model.schedules;

  return (
    <LinksContext.Provider value={props.links ?? NO_LINKS}>
      <div className="labrig-PanelContent">
        <StatusLine model={model} />
        <div className="labrig-Sections">
          <Section
            {...common('resources')}
            count={focused ? null : common('resources').count}
            title="Resources"
            empty="No resource requests yet — request CPU, memory or GPUs for a notebook's kernel"
          >
            {focused && (
              <ResourcesView notebookPath={focused} onRestartKernel={props.onRestartKernel} />
            )}
            {/* A new state object per refresh of the section: the holders are read again with it. */}
            <GpuHolders refreshKey={model.section('resources')} />
          </Section>
          <Section
            {...common('datasets')}
            title="Datasets"
            empty={
              <>
                No datasets yet — add one with <code>labrig datasets add</code>
              </>
            }
            footer={<AddDatasetForm onAdded={() => void model.refreshSection('datasets')} />}
          >
            <DatasetsView
              items={model.section('datasets').items as ReadonlyArray<IDatasetInfo>}
              onChanged={() => void model.refreshSection('datasets')}
              revealed={model.revealedDataset}
              revealKey={model.revealCount}
            />
          </Section>
          <Section
            {...common('jobs')}
            onShowMore={undefined}
            ref={jobsRef}
            title="Jobs"
            empty={
              selected
                ? `No jobs yet for ${basename(selected)}`
                : 'No jobs yet — open a notebook and click Run as job'
            }
            header={
              selected && (
                <div className="labrig-Selected" data-testid="labrig-selected-notebook">
                  <span className="labrig-Selected-text">
                    Selected notebook: <strong title={selected}>{basename(selected)}</strong>
                    {selected !== basename(selected) && (
                      <span className="labrig-Selected-path">{selected}</span>
                    )}
                  </span>
                  <button
                    type="button"
                    className="labrig-LinkButton"
                    onClick={() => model.selectNotebook(null)}
                    aria-label="Clear selected notebook"
                  >
                    Clear
                  </button>
                </div>
              )
            }
            footer={
              <SchedulesList
                items={schedules.items}
                loaded={schedules.loaded}
                error={schedules.error}
                hasMore={schedules.hasMore}
                onChanged={() => void model.refreshSchedules()}
                onJobStarted={() => void model.refreshSection('jobs')}
                onOpenJob={props.onOpenJob}
              />
            }
          >
            <JobsList
              items={jobs.items}
              selectedNotebook={selected}
              onOpen={props.onOpenJob}
              hasMore={jobs.hasMore && !jobs.error}
              loading={model.loadingMoreJobs}
              onLoadMore={() => void model.loadMoreJobs()}
            />
          </Section>
          <Section
            {...common('models')}
            title="Models"
            empty={
              <>
                No models yet — register one with <code>labrig.models.register()</code> or create
                one below
              </>
            }
            footer={<NewModelForm onCreate={body => model.createModel(body)} />}
          >
            <ModelsBrowser
              items={model.section('models').items}
              view={model.modelsView}
              onNavigate={view => model.showModels(view)}
              onChanged={() => void model.refreshSection('models')}
            />
          </Section>
        </div>
      </div>
    </LinksContext.Provider>
  );
}
