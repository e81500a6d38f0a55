/**
 * How a mounted dataset is protected on this host, where the researcher sees the mount: a
 * protected mount in one quiet line, an unprotected one as a warning with the server's reason
 * (writes through it would change the shared cache every other mount and job reads).
 */
import * as React from 'react';

import { MountProtection } from '../api';

const UNPROTECTED = 'not protected: ';
const UNMOUNTED = 'not mounted: ';

/** What the panel shows for one mount's protection. */
export interface IProtectionView {
  /** 'safe': the shared cache cannot change through the mount; 'warn': it can, or no mount. */
  level: 'safe' | 'warn';
  label: string;
  detail: string;
}

const PROTECTED: { [words: string]: IProtectionView } = {
  'read-only (bind mount)': {
    level: 'safe',
    label: 'read-only bind mount',
    detail: 'writes through it fail, for root too; the shared cache cannot change'
  },
  'private copy on write (reflink)': {
    level: 'safe',
    label: 'private reflink copy',
    detail: "writes land in this mount's own copy, never in the shared cache"
  },
  'private copy (full copy)': {
    level: 'safe',
    label: 'private full copy',
    detail: "writes land in this mount's own copy, never in the shared cache"
  }
};

/**
 * The server's words for a mount's protection, as the panel says them. Words this panel does
 * not know are shown as the server sent them, without claiming the mount is safe.
 */
export function describeProtection(
  protection: MountProtection | null | undefined
): IProtectionView {
  if (protection === null || protection === undefined) {
    return {
      level: 'warn',
      label: 'protection unknown',
      detail: 'the server found no mount at this path on its host; mount the dataset again'
    };
  }
  const known = PROTECTED[protection];
  if (known) {
    return known;
  }
  if (protection.startsWith(UNPROTECTED)) {
    return { level: 'warn', label: 'not protected', detail: protection.slice(UNPROTECTED.length) };
  }
  if (protection.startsWith(UNMOUNTED)) {
    return { level: 'warn', label: 'not mounted', detail: protection.slice(UNMOUNTED.length) };
  }
  return { level: 'warn', label: 'protection', detail: protection };
}

/**
 * One mount's protection, in the row of its dataset.
 */
export function MountProtectionNote(props: {
  protection: MountProtection | null | undefined;
}): JSX.Element {
  const view = describeProtection(props.protection);
  if (view.level === 'safe') {
    return (
      <div
        className="labrig-Item-secondary labrig-Protection"
        data-testid="labrig-dataset-protection"
        data-level="safe"
        title={view.detail}
      >
        {view.label} · {view.detail}
      </div>
    );
  }
  return (
    <div
      className="labrig-Warning labrig-Protection"
      data-testid="labrig-dataset-protection"
      data-level="warn"
      role="note"
    >
      <strong>{view.label[0].toUpperCase() + view.label.slice(1)}:</strong> {view.detail}
    </div>
  );
}
