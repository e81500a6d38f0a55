/**
 * Who made a record (a job, a schedule, a dataset, a model, a resource request) and a record's
 * tags, as plain text: user names and tags are whatever someone typed, so they are never markup.
 */
import * as React from 'react';

/**
 * `by alice`; nothing for a record from before owners were recorded (it is everyone's).
 */
export function ByOwner(props: {
  owner: string | null | undefined;
  /** What the owner did, for the tooltip: "Submitted by", "Created by". */
  role?: string;
  testId?: string;
}): JSX.Element | null {
  if (!props.owner) {
    return null;
  }
  return (
    <span
      className="labrig-Owner"
      data-testid={props.testId ?? 'labrig-owner'}
      title={`${props.role ?? 'Owned by'} ${props.owner}`}
    >
      by {props.owner}
    </span>
  );
}

/**
 * `key=value` tags, each a chip; nothing when there are none.
 */
export function TagList(props: {
  tags: { [key: string]: string } | null | undefined;
  label: string;
  testId?: string;
}): JSX.Element | null {
  const entries = Object.entries(props.tags ?? {});
  if (entries.length === 0) {
    return null;
  }
  return (
    <ul className="labrig-TagList" aria-label={props.label} data-testid={props.testId}>
      {entries.map(([key, value]) => (
        <li key={key} className="labrig-Tag" title={`${key}=${value}`}>
          {`${key}=${value}`}
        </li>
      ))}
    </ul>
  );
}
