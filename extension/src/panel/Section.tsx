import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { LabrigAPIError } from '../request';
import { SectionId } from '../model';

/**
 * Props of a collapsible panel section.
 */
export interface ISectionProps {
  id: SectionId;
  title: string;
  /** Number of items shown; no badge before the first load. */
  count: number | null;
  /** Whether the server has more items than shown. */
  hasMore: boolean;
  expanded: boolean;
  onToggle: () => void;
  /** The last refresh's error, shown as an alert above the list. */
  error: LabrigAPIError | null;
  /** Whether the first refresh has finished. */
  loaded: boolean;
  /** Shown when loaded, without error, and `count` is 0. */
  empty: React.ReactNode;
  /** Content above the list (e.g. the selected notebook). */
  header?: React.ReactNode;
  /** Content below the list (e.g. the new-model form). */
  footer?: React.ReactNode;
  onShowMore?: () => void;
  children?: React.ReactNode;
}

/**
 * A collapsible section: a header button, an error alert, the list or its empty state.
 */
export const Section = React.forwardRef<HTMLElement, ISectionProps>(function Section(props, ref) {
  const { id, title, count, hasMore, expanded, error, loaded } = props;
  const headingId = `labrig-section-${id}-heading`;
  const bodyId = `labrig-section-${id}-body`;
  const Caret = expanded ? caretDownIcon : caretRightIcon;
  const isEmpty = loaded && count === 0;

  return (
    <section
      ref={ref}
      className={`labrig-Section${expanded ? ' labrig-mod-expanded' : ''}`}
      data-testid={`labrig-section-${id}`}
      aria-labelledby={headingId}
    >
      <h3 className="labrig-Section-heading">
        <button
          type="button"
          id={headingId}
          className="labrig-Section-toggle"
          aria-expanded={expanded}
          aria-controls={bodyId}
          onClick={props.onToggle}
        >
          <Caret.react tag="span" className="labrig-Section-caret" elementSize="small" />
          <span className="labrig-Section-title">{title}</span>
          {count !== null && count > 0 && (
            <span
              className="labrig-Section-count"
              aria-label={`${count}${hasMore ? ' or more' : ''} items`}
            >
              {count}
              {hasMore ? '+' : ''}
            </span>
          )}
        </button>
      </h3>
      <div id={bodyId} className="labrig-Section-body" hidden={!expanded}>
        {error && (
          <div className="labrig-Error" role="alert">
            {error.message}
          </div>
        )}
        {props.header}
        {!loaded && !error && <p className="labrig-Loading">Loading…</p>}
        {isEmpty && !error && (
          <p className="labrig-empty" data-testid="labrig-empty">
            {props.empty}
          </p>
        )}
        {props.children}
        {hasMore && props.onShowMore && (
          <button
            type="button"
            className="labrig-LinkButton labrig-ShowMore"
            onClick={props.onShowMore}
          >
            Show more
          </button>
        )}
        {props.footer}
      </div>
    </section>
  );
});
